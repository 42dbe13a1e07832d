import { expect } from "chai";
import { AWS_WEBSOCKET_LIMITS } from "../../local/gateway";
import type { LocalStack } from "../../local/stack";
import { BUDGETS, SEEDS } from "./budget";
import { attackerCredential } from "./fuzz-handlers";
import { fuzzGatewayFrames } from "./fuzz-gateway";
import { captureOutput, startReliabilityStack, withLogLevel } from "./harness";

describe("reliability: random client frames over real sockets on the local stack", function () {
  this.timeout(120_000);
  const runs = BUDGETS.test.gatewayFrames;
  const credential = attackerCredential();
  let stack: LocalStack;

  before(async () => {
    stack = await startReliabilityStack({ credentials: [credential] });
  });
  after(async () => {
    await stack?.close();
  });

  it(`${runs} random frames each end in an error envelope, a whole answer or the right close code; no handler fails, no row is left`, async () => {
    const { result: figure } = await captureOutput(() =>
      withLogLevel("SILENT", () => fuzzGatewayFrames(stack, credential, { runs, seed: SEEDS.gatewayFrames }, AWS_WEBSOCKET_LIMITS.maxMessageBytes)),
    );
    expect(Object.keys(figure.outcomes), "kinds of frame tried").to.include.members([
      "unrouted → error envelope",
      "binary → error envelope",
      "ask → answer",
      "oversize → close 1009",
    ]);
  });
});
