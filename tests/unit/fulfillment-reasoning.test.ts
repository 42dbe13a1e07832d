import { expect } from "chai";
import { answer, type AnswerRequest, type EngineDeps } from "../../functions/fulfillment/engine";
import { DEFAULT_OUTPUT_POLICY, sanitizeOutput } from "../../functions/fulfillment/output-safety";
import type { GenerateRequest, GenerateSink, Generator } from "../../functions/fulfillment/generate";
import { parseAskMessage, ProtocolError } from "../../functions/shared/protocol";
import { parseAskJob, ASK_JOB_KIND } from "../../functions/fulfillment/events";
import { createStreamOpener } from "../../functions/stream/writer";
import { MapMemory, ManualClock, quietLogs } from "./fulfillment-fakes";
import { FakeClock, FakeTransport, MemoryConnectionsStore, RecordingLogger } from "./stream-fakes";

const ask: AnswerRequest = {
  question: "Why?",
  sessionId: "us-east-1:11111111-2222-3333-4444-555555555555",
  principal: "cognito:us-east-1:11111111-2222-3333-4444-555555555555",
  mode: "llm",
  requestId: "req-r",
};

/** Reasons in `thoughts` (a construct cut between two of them), then answers. */
function thinker(thoughts: string[]) {
  const calls: GenerateRequest[] = [];
  const generator: Generator = {
    streamsItself: false,
    async generate(request: GenerateRequest, sink: GenerateSink) {
      calls.push(request);
      for (const thought of thoughts) sink.reasoning?.(thought);
      sink.delta("The answer.");
      return { text: "The answer.", stopReason: "end_turn", citations: [] };
    },
  };
  return { generator, calls };
}

async function setup(thoughts: string[], overrides: Partial<EngineDeps> = {}) {
  const store = new MemoryConnectionsStore();
  const [json] = await store.seed(ask.sessionId, ask.principal!, ["json"]);
  const transport = new FakeTransport();
  const openStream = createStreamOpener({ store, transport, clock: new FakeClock(), logger: new RecordingLogger(), options: { report: () => undefined } });
  const memory = new MapMemory();
  const { generator, calls } = thinker(thoughts);
  const deps: EngineDeps = { generators: { llm: generator }, stallMs: 20_000, clock: new ManualClock(), openStream, memory, ...overrides };
  return { json, transport, memory, calls, deps };
}

describe("fulfillment: reasoning through the engine", () => {
  quietLogs();

  it("streams the reasoning made inert, a construct cut between chunks held until decided and sent before the answer's text; remembers none of it", async () => {
    const thoughts = ["Consider <scr", "ipt>alert(1)</script> and ", "[x](javas", "cript:alert(1))"];
    const { json, transport, memory, calls, deps } = await setup(thoughts);
    const result = await answer({ ...ask, reasoning: true }, deps);
    expect(calls[0].reasoning).to.equal(true);
    const envelopes = transport.envelopesOf(json);
    const reasoning = envelopes.filter((e) => e.type === "reasoning").map((e) => e.text).join("");
    expect(reasoning).to.equal(sanitizeOutput(thoughts.join(""), DEFAULT_OUTPUT_POLICY));
    const types = envelopes.map((e) => e.type);
    expect(types.lastIndexOf("reasoning")).to.be.lessThan(types.indexOf("delta"));
    expect(result.text).to.equal("The answer.");
    expect(JSON.stringify(memory.saves)).to.not.contain("Consider");
    expect(memory.saves[0].state.turns.at(-1)).to.deep.equal({ question: "Why?", answer: "The answer." });
  });

  it("does not ask the generator for reasoning when the asker did not, or when the answer is not streamed", async () => {
    const plain = await setup(["x"]);
    await answer(ask, plain.deps);
    expect(plain.calls[0].reasoning).to.equal(undefined);
    const unstreamed = await setup(["x"], { openStream: undefined });
    await answer({ ...ask, reasoning: true }, unstreamed.deps);
    expect(unstreamed.calls[0]).to.include({ streaming: false }).and.not.have.property("reasoning");
  });
});

describe("protocol: the ask's reasoning field", () => {
  it("is false when absent, taken when a boolean, refused otherwise; the ask job carries it only when true", () => {
    const base = { action: "ask", requestId: "r1", question: "Q?" };
    expect(parseAskMessage(JSON.stringify(base)).reasoning).to.equal(false);
    expect(parseAskMessage(JSON.stringify({ ...base, reasoning: true })).reasoning).to.equal(true);
    expect(() => parseAskMessage(JSON.stringify({ ...base, reasoning: "yes" }))).to.throw(ProtocolError, "reasoning must be true or false");
    const job = { kind: ASK_JOB_KIND, sessionId: "s1", principal: "p", connectionId: "c=", format: "json", requestId: "r1", question: "Q?", mode: "llm" };
    expect(parseAskJob(job)).to.not.have.property("reasoning");
    expect(parseAskJob({ ...job, reasoning: true })).to.include({ reasoning: true });
  });
});
