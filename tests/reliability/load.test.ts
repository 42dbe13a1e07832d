import { expect } from "chai";
import type { LocalStack } from "../../local/stack";
import { BUDGETS, SEEDS } from "./budget";
import { attackerCredential } from "./fuzz-handlers";
import { captureOutput, withLogLevel } from "./harness";
import { loadRun, startLoadStack } from "./load";

describe("reliability: load with nothing lost (the long run is `npm run reliability`)", function () {
  this.timeout(180_000);
  const credential = attackerCredential();
  const sessions = BUDGETS.test.loadSessions;
  let stack: LocalStack;
  before(async () => {
    stack = await startLoadStack(credential);
  });
  after(async () => {
    await stack?.close();
  });

  it(`${sessions} concurrent sessions with random disconnects: every survivor gets the whole answer in order, no row is left`, async () => {
    const { result: figure } = await captureOutput(() => withLogLevel("ERROR", () => loadRun(stack, credential, sessions, SEEDS.load)));
    expect(figure.survivors, "sessions that stayed").to.be.greaterThan(sessions / 2);
    expect(figure.leavers, "sessions that left mid-answer").to.be.greaterThan(0);
    expect(figure.framesLost).to.equal(0);
    expect(figure.rowsLeaked).to.equal(0);
  });
});
