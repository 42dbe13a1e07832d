import { BUDGETS, SEEDS } from "./budget";
import { captureOutput } from "./harness";
import { connectionLifetime, duplicateRequestId, memoryRace, resumeAfterDrops, resumeFlood, startAnswersEnv, type AnswersEnv } from "./answers";

describe("reliability: answers survive drops, races and reuse (issue 11, findings 3–6)", function () {
  this.timeout(120_000);
  const { resumeDrops, duplicatePairs, resumeFloodFrames } = BUDGETS.test;
  let env: AnswersEnv;
  before(async () => {
    env = await startAnswersEnv();
  });
  after(() => env?.close());

  it(`${resumeDrops} answers dropped at random points resume exactly once`, () => captureOutput(() => resumeAfterDrops(env, resumeDrops, SEEDS.disconnects + 5)));
  it("a connection row never expires while its socket may be open, and a claim outlives it", () => captureOutput(() => connectionLifetime(env)));
  it("5 and 20 concurrent asks in one session all land in memory", () => captureOutput(() => memoryRace(env, [5, 20])));
  it(`${resumeFloodFrames} resume frames of one ended answer are bounded by the connection's and the answer's resume budgets`, () =>
    captureOutput(() => resumeFlood(env, resumeFloodFrames)));
  it(`a requestId reused while in flight is refused (${duplicatePairs} sockets)`, () => captureOutput(() => duplicateRequestId(env, duplicatePairs)));
});
