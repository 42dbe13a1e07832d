/**
 * Output safety in the answer engine: every delta is sanitized before the stream writer (so
 * both frame formats, the journal and memory see safe text), held constructs are released
 * before `end`, and `end.final`, the Lex/HTTP answer and the remembered turn are safe. A
 * memory turn that carries payloads (written before this sanitizer, or echoed by a model) does
 * not come back live either.
 */
import { expect } from "chai";
import { answer, type AnswerRequest, type EngineDeps } from "../../functions/fulfillment/engine";
import type { GenerateRequest, GenerateSink, Generator } from "../../functions/fulfillment/generate";
import { sanitizeOutput } from "../../functions/fulfillment/output-safety";
import { liveMarkup } from "../lex-web-ui/live-markup";
import { lexWebUiHtml } from "../lex-web-ui/render";
import { ManualClock, MapMemory, quietLogs, recordingOpener } from "./fulfillment-fakes";
import { ATTACKS } from "../lex-web-ui/attacks";

const PAYLOAD = Object.values(ATTACKS).join("\n\n");

const ask: AnswerRequest = {
  question: "Tell me about the poisoned page",
  sessionId: "us-east-1:11111111-2222-3333-4444-555555555555",
  principal: "cognito:us-east-1:11111111-2222-3333-4444-555555555555",
  mode: "llm",
  requestId: "req-1",
};

/** Emits `text` cut into pieces of `size` characters, so constructs straddle deltas. */
function cutInto(size: number, text: (request: GenerateRequest) => string): Generator {
  return {
    streamsItself: false,
    async generate(request: GenerateRequest, sink: GenerateSink) {
      const whole = text(request);
      for (let at = 0; at < whole.length; at += size) sink.delta(whole.slice(at, at + size));
      return { text: whole, stopReason: "end_turn", citations: [] };
    },
  };
}

function deps(generator: Generator, overrides: Partial<EngineDeps> = {}): EngineDeps {
  return { generators: { llm: generator }, stallMs: 20_000, clock: new ManualClock(), ...overrides };
}

function live(markdown: string): string[] {
  return liveMarkup(lexWebUiHtml(markdown), { linkSchemes: ["http", "https", "mailto", "tel"] });
}

describe("output safety in the answer engine", function () {
  quietLogs();

  for (const size of [1, 2, 3, 7, 50]) {
    it(`payloads cut every ${size} characters reach the stream, end.final and the answer inert`, async function () {
      const { opener, streams } = recordingOpener();
      const memory = new MapMemory();
      const result = await answer(ask, deps(cutInto(size, () => PAYLOAD), { openStream: opener, memory }));
      const [stream] = streams;
      const streamed = stream.deltas.join("");
      expect(streamed).to.equal(sanitizeOutput(PAYLOAD));
      // What a client shows after any frame is safe, as is each frame on its own.
      let shown = "";
      for (const delta of stream.deltas) {
        shown += delta;
        expect(live(shown), shown).to.deep.equal([]);
        expect(live(delta), delta).to.deep.equal([]);
      }
      expect(live(stream.ended!.final)).to.deep.equal([]);
      expect(live(result.answer)).to.deep.equal([]);
      expect(live(result.plainText)).to.deep.equal([]);
      expect(result.text).to.equal(streamed);
      expect(memory.items.get(ask.sessionId)!.state.turns[0].answer).to.equal(sanitizeOutput(PAYLOAD));
    });
  }

  it("a memory turn carrying payloads, echoed by the model, does not come back live", async function () {
    const memory = new MapMemory();
    memory.items.set(ask.sessionId, { owner: ask.principal!, state: { turns: [{ question: "earlier", answer: PAYLOAD }] } });
    const echo = cutInto(4, (request) => `Earlier I said: ${request.history.map((turn) => turn.answer).join(" ")}`);
    const { opener, streams } = recordingOpener();
    const result = await answer(ask, deps(echo, { openStream: opener, memory }));
    expect(result.text).to.include("Earlier I said:");
    expect(live(streams[0].deltas.join(""))).to.deep.equal([]);
    expect(live(streams[0].ended!.final)).to.deep.equal([]);
    expect(live(result.answer)).to.deep.equal([]);
  });

  it("a generator that streams by itself gets its returned text sanitized before the HTTP stream and the final answer", async function () {
    const hook: Generator = {
      streamsItself: true,
      async generate() {
        return { text: PAYLOAD, stopReason: "end_turn", citations: [] };
      },
    };
    const { opener, streams } = recordingOpener();
    const result = await answer({ ...ask, streamTo: opener }, deps(hook));
    expect(streams[0].deltas.join("")).to.equal(sanitizeOutput(PAYLOAD));
    expect(live(result.answer)).to.deep.equal([]);
  });

  it("the operator's allowlist reaches the engine: an allowed host's image is kept", async function () {
    const { opener, streams } = recordingOpener();
    const text = "![chart](https://images.example.com/c.png) ![beacon](https://attacker.example/p.png)";
    const result = await answer(ask, deps(cutInto(5, () => text), { openStream: opener, outputPolicy: { linkSchemes: ["https"], imageHosts: ["images.example.com"] } }));
    expect(streams[0].deltas.join("")).to.equal("![chart](https://images.example.com/c.png) beacon");
    expect(result.answer).to.equal("![chart](https://images.example.com/c.png) beacon");
  });
});
