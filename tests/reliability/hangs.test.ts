import { logger } from "../../functions/shared/observability";
import { BUDGETS, SEEDS } from "./budget";
import { captureOutput } from "./harness";
import { hangBoundsMs, latencyHang, pausedReaderHang, startHangEnv, stormHang, type HangEnv } from "./hangs";

describe("reliability: no silent hang (every json client told, or its socket closed, within a bound)", function () {
  const { hangClients, hangPosts } = BUDGETS.test;
  this.timeout(hangBoundsMs(hangPosts).latency + 30_000);
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

  it(`95% of @connections posts answer 429 (${hangClients} clients)`, () => captureOutput(() => stormHang(env, hangClients, SEEDS.disconnects + 3)));
  it(`every @connections post takes ${hangPosts.latencyMs / 1000} s, past the writer's ${hangPosts.timeoutMs / 1000} s timeout (${hangClients} clients)`, () =>
    captureOutput(() => latencyHang(env, hangClients)));
  it(`clients stop reading for 3 s right after asking (${hangClients} clients)`, () => captureOutput(() => pausedReaderHang(env, hangClients, 3000)));
});
