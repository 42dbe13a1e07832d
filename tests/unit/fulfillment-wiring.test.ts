import { expect } from "chai";
import type { Generator, GenerateRequest, GenerateSink } from "../../functions/fulfillment/generate";
import type { StreamGuard } from "../../functions/fulfillment/guard";
import { lazyGenerator } from "../../functions/fulfillment/wiring";

const request: GenerateRequest = { question: "q", history: [], sessionId: "s", requestId: "r", streaming: true };
const sink: GenerateSink = { delta: () => undefined, citation: () => undefined, guardrail: () => undefined };
const guard = {} as StreamGuard;

function fakeGenerator(text: string): Generator {
  return { streamsItself: false, generate: async () => ({ text, stopReason: "end_turn", citations: [] }) };
}

// The fulfillment loads a generator's module and SDK client on the first answer that needs it,
// so no request path (and no init phase) pays for a client it never calls.
describe("fulfillment wiring: lazily loaded generators", () => {
  it("loads nothing until the first answer, then loads once and reuses it", async () => {
    let loads = 0;
    const generator = lazyGenerator(false, () => {
      loads++;
      return fakeGenerator("answer");
    });
    expect(loads).to.equal(0);
    expect(generator.streamsItself).to.equal(false);
    expect((await generator.generate(request, sink, guard)).text).to.equal("answer");
    await generator.generate(request, sink, guard);
    expect(loads).to.equal(1);
  });

  it("a load that fails fails that answer only, and the next answer loads again", async () => {
    let attempt = 0;
    const generator = lazyGenerator(true, () => {
      if (++attempt === 1) throw new Error("LLM_QA_MODEL_PARAMS must be a JSON object");
      return fakeGenerator("second");
    });
    expect(generator.streamsItself).to.equal(true);
    let error: unknown;
    await generator.generate(request, sink, guard).catch((e: unknown) => (error = e));
    expect(String(error)).to.include("LLM_QA_MODEL_PARAMS");
    expect((await generator.generate(request, sink, guard)).text).to.equal("second");
    expect(attempt).to.equal(2);
  });
});
