import { logger } from "../../functions/shared/observability";
import { BUDGETS, SEEDS } from "./budget";
import { captureOutput } from "./harness";
import { HANG_BOUNDS_MS, latencyHang, pausedReaderHang, startHangEnv, stormHang, type HangEnv } from "./hangs";

describe("reliability: no silent hang (every json client told, or its socket closed, within a bound)", function () {
  this.timeout(HANG_BOUNDS_MS.latency + 30_000);
  const { hangClients } = BUDGETS.test;
  let env: HangEnv;
  let level: string;
  before(async () => {
    level = logger.getLevelName();
    logger.setLogLevel("ERROR");
    env = await startHangEnv();
  });
  after(async () => {
    logger.setLogLevel(level as Parameters<typeof logger.setLogLevel>[0]);
    await env?.close();
  });

  it(`95% of @connections posts answer 429 (${hangClients} clients)`, () => captureOutput(() => stormHang(env, hangClients, SEEDS.disconnects + 3)));
  it(`every @connections post takes 3.5 s, past the writer's 3 s timeout (${hangClients} clients)`, () => captureOutput(() => latencyHang(env, hangClients)));
  it(`clients stop reading for 3 s right after asking (${hangClients} clients)`, () => captureOutput(() => pausedReaderHang(env, hangClients, 3000)));
});
