import { logger } from "../../functions/shared/observability";
import { BUDGETS, SEEDS } from "./budget";
import { captureOutput } from "./harness";
import { dynamoStorm, hangBoundsMs, latencyHang, managementApiStorm, pausedReaderHang, refusalStorm, startHangEnv, type HangEnv } from "./hangs";

describe("reliability: no silent hang (every json client told, or its socket closed, within a bound)", function () {
  const { hangClients, hangPosts } = BUDGETS.test;
  this.timeout(Math.max(hangBoundsMs(hangPosts).latency, hangBoundsMs(hangPosts).storm, hangBoundsMs(hangPosts).dynamo) + 30_000);
  let env: HangEnv;
  let level: string;
  before(async () => {
    level = logger.getLevelName();
    logger.setLogLevel("ERROR");
    env = await startHangEnv(hangPosts);
  });
  after(async () => {
    logger.setLogLevel(level as Parameters<typeof logger.setLogLevel>[0]);
    await env?.close();
  });

  // Issue 21, finding 2: every Management API operation fails, not only the posts.
  for (const [i, fault] of (["429", "5xx", "timeout"] as const).entries()) {
    it(`95% of every @connections call (POST, GET, DELETE) ${fault === "timeout" ? "times out" : `answers ${fault}`} (${hangClients} clients)`, () =>
      captureOutput(() => managementApiStorm(env, hangClients, SEEDS.disconnects + 3 + i, fault)));
  }
  // Issue 21 residue: a refusal posted before the hand-off was posted once, and lost to the storm.
  for (const [i, fault] of (["429", "5xx"] as const).entries()) {
    it(`a refused ask under 95% of @connections calls answering ${fault}: the refusal or a close reaches every client (${hangClients} clients)`, () =>
      captureOutput(() => refusalStorm(env, hangClients, SEEDS.disconnects + 9 + i, fault)));
  }
  for (const [i, fault] of (["throttle", "error", "hang"] as const).entries()) {
    it(`95% of the answering path's DynamoDB calls ${fault === "hang" ? "never answer" : fault === "throttle" ? "are throttled" : "answer 5xx"} (${hangClients} clients)`, () =>
      captureOutput(() => dynamoStorm(env, hangClients, SEEDS.disconnects + 6 + i, fault)));
  }
  it(`every @connections post takes ${hangPosts.latencyMs / 1000} s, past the writer's ${hangPosts.timeoutMs / 1000} s timeout (${hangClients} clients)`, () =>
    captureOutput(() => latencyHang(env, hangClients)));
  it(`clients stop reading for 3 s right after asking (${hangClients} clients)`, () => captureOutput(() => pausedReaderHang(env, hangClients, 3000)));
});
