import { logger } from "../../functions/shared/observability";
import { localCognitoIdentity, localIamUser } from "../../local/gateway";
import type { LocalStack } from "../../local/stack";
import { startTrap, type Trap } from "./fuzz-handlers";
import { captureOutput, startReliabilityStack } from "./harness";
import { clientSuppliedEndpoint, logsWithoutText, securityCredentials, sessionHijack, signatureReplay, tamperedQueries, type SecurityEnv } from "./security";

describe("reliability: security over the wire on the local stack", function () {
  this.timeout(60_000);
  const principals = {
    owner: localIamUser("owner", { allow: { connect: true, manageConnections: false } }),
    intruder: localIamUser("intruder", { allow: { connect: true, manageConnections: false } }),
    cognito: localCognitoIdentity({ authenticated: true }),
    otherCognito: localCognitoIdentity({ authenticated: false }),
  };
  let stack: LocalStack;
  let trap: Trap;
  let env: SecurityEnv;
  let level: string;
  before(async () => {
    level = logger.getLevelName();
    logger.setLogLevel("ERROR");
    trap = await startTrap();
    stack = await startReliabilityStack({ credentials: securityCredentials(principals) });
    env = { stack, trap, ...principals };
  });
  after(async () => {
    await stack?.close();
    await trap?.close();
    logger.setLogLevel(level as Parameters<typeof logger.setLogLevel>[0]);
  });

  const quietly = async <T>(run: () => Promise<T>) => (await captureOutput(run)).result;

  it("refuses a tampered signed URL, whatever was changed", () => quietly(() => tamperedQueries(env)));
  it("refuses a signature replayed after its expiry", () => quietly(() => signatureReplay(env)));
  it("keeps another principal out of a session: no connect, no ask into it, none of its answers", () => quietly(() => sessionHijack(env)));
  it("never calls a streaming endpoint a client names (Lex attribute, POST /ask body, WebSocket frame)", () => quietly(() => clientSuppliedEndpoint(env)));
  it("keeps question and answer text out of the logs at the default level", () => logsWithoutText(env));
});
