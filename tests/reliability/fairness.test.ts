import { logger } from "../../functions/shared/observability";
import { BUDGETS } from "./budget";
import { burstFigure, startFairnessEnv, type FairnessEnv } from "./fairness";
import { captureOutput } from "./harness";

describe("reliability: one client's burst does not starve another (fair use)", function () {
  this.timeout(120_000);
  const { burstAsks } = BUDGETS.test;
  let level: string;
  before(() => {
    level = logger.getLevelName();
    logger.setLogLevel("ERROR");
  });
  after(() => logger.setLogLevel(level as Parameters<typeof logger.setLogLevel>[0]));

  describe("unthrottled stage: the ask ledger refuses", () => {
    let env: FairnessEnv;
    before(async () => {
      env = await startFairnessEnv(false);
    });
    after(() => env?.close());

    it(`${burstAsks} asks at once on one socket: each gets busy or a whole answer, and a bystander's answer is whole (its time against its idle baseline is checked by npm run reliability, not by a test)`, async () => {
      await captureOutput(() => burstFigure(env, burstAsks, "ledger", false));
    });
  });

  describe("stage throttled as deployed (50/s, burst 100)", () => {
    let env: FairnessEnv;
    const throttle = { rateLimit: 50, burstLimit: 100 };
    before(async () => {
      env = await startFairnessEnv(throttle);
    });
    after(() => env?.close());

    it(`${burstAsks} asks at once on one socket: each gets busy, a whole answer or the gateway's Too Many Requests frame; the bystander is still served`, async () => {
      await captureOutput(() => burstFigure(env, burstAsks, "throttled", throttle));
    });
  });
});
