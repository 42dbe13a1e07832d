import { expect } from "chai";
import type { ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import { converseGenerator, type ConverseClient } from "../../functions/fulfillment/converse";
import { answer, MODE_UNAVAILABLE, type AnswerRequest, type EngineDeps } from "../../functions/fulfillment/engine";
import { MESSAGES } from "../../functions/fulfillment/errors";
import { CONTINUE_HINT, CONTINUE_PROMPT } from "../../functions/fulfillment/continuation";
import { CUT_SHORT_NOTE, formatAnswer } from "../../functions/fulfillment/format";
import { sanitizeOutput } from "../../functions/fulfillment/output-safety";
import type { GenerateRequest, GenerateResult, GenerateSink, Generator } from "../../functions/fulfillment/generate";
import { hookGenerator, type LambdaInvoker } from "../../functions/fulfillment/hook";
import { createStreamOpener } from "../../functions/stream/writer";
import {
  MapMemory,
  ManualClock,
  eventStream,
  fakeClient,
  quietLogs,
  recordingOpener,
  sdkError,
  type StreamStep,
} from "./fulfillment-fakes";
import { FakeClock, FakeTransport, MemoryConnectionsStore, RecordingLogger } from "./stream-fakes";

const citation = { text: "QnABot", sources: [{ uri: "https://docs.example.com/qnabot", title: "QnABot docs" }] };

/** A generator that emits `chunks` (and a citation) through the sink, then answers or throws. */
function scripted(chunks: string[], end: Partial<GenerateResult> | Error = {}, streamsItself = false) {
  const calls: GenerateRequest[] = [];
  const generator: Generator = {
    streamsItself,
    async generate(request: GenerateRequest, sink: GenerateSink) {
      calls.push(request);
      for (const chunk of chunks) sink.delta(chunk);
      if (end instanceof Error) throw end;
      sink.citation([citation]);
      return { text: chunks.join(""), stopReason: "end_turn", citations: [citation], ...end };
    },
  };
  return { generator, calls };
}

const ask: AnswerRequest = {
  question: "What is QnABot?",
  sessionId: "us-east-1:11111111-2222-3333-4444-555555555555",
  principal: "cognito:us-east-1:11111111-2222-3333-4444-555555555555",
  mode: "llm",
  requestId: "req-1",
};

function deps(overrides: Partial<EngineDeps>): EngineDeps {
  return { generators: {}, stallMs: 20_000, clock: new ManualClock(), ...overrides };
}

describe("fulfillment: answer engine", () => {
  quietLogs();

  it("streams every delta to the session and ends the stream with the final formatted answer", async () => {
    const { generator, calls } = scripted(["Qn", "ABot ", "is a bot."], { usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 } });
    const { opener, streams } = recordingOpener();
    const result = await answer(ask, deps({ generators: { llm: generator }, openStream: opener }));

    const expected = formatAnswer("QnABot is a bot.", [citation]);
    expect(calls[0].streaming).to.equal(true);
    expect(streams).to.have.length(1);
    expect(streams[0].open).to.deep.equal({ sessionId: ask.sessionId, principal: ask.principal, requestId: "req-1" });
    expect(streams[0].deltas.join("")).to.equal("QnABot is a bot.");
    expect(streams[0].citations).to.deep.equal([[citation]]);
    expect(expected.markdown).to.match(/^QnABot \[\\\[1\\\]\]\(https:\/\/docs\.example\.com\/qnabot\) is a bot\./);
    expect(streams[0].ended).to.deep.equal({
      final: expected.markdown,
      stopReason: "end_turn",
      usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 },
      sources: [{ n: 1, title: "QnABot docs", uri: citation.sources[0].uri, url: citation.sources[0].uri }],
    });
    expect(result).to.deep.include({
      answer: expected.markdown,
      plainText: expected.plainText,
      text: "QnABot is a bot.",
      citations: [citation],
      stopReason: "end_turn",
      streamed: true,
    });
    expect(result).to.not.have.property("error", undefined);
    expect(result.error).to.equal(undefined);
  });

  it("links an s3:// source its linker signs, and shows every source as text when signing fails", async () => {
    const s3Citation = { text: "QnABot", sources: [{ uri: "s3://docs-bucket/qnabot.md", title: "QnABot doc", snippet: "QnABot is a bot." }] };
    const signed = "https://docs-bucket.s3.us-east-1.amazonaws.com/qnabot.md?X-Amz-Signature=abc";
    const linked = await answer(ask, deps({ generators: { llm: scripted(["QnABot is a bot."], { citations: [s3Citation] }).generator }, sourceLinks: { link: async (uri) => (uri.startsWith("s3://docs-bucket/") ? signed : undefined) } }));
    expect(linked.sources).to.deep.equal([{ n: 1, title: "QnABot doc", uri: "s3://docs-bucket/qnabot.md", url: signed, snippet: "QnABot is a bot." }]);
    expect(linked.answer).to.equal(`QnABot [\\[1\\]](${signed}) is a bot.\n\n**Sources**\n1. [QnABot doc](${signed})`);
    expect(linked.plainText).to.equal(`QnABot [1] is a bot.\n\nSources:\n1. QnABot doc: ${signed}`);

    const failing = await answer(ask, deps({ generators: { llm: scripted(["QnABot is a bot."], { citations: [s3Citation] }).generator }, sourceLinks: { link: async () => Promise.reject(new Error("no credentials")) } }));
    expect(failing.stopReason).to.equal("end_turn");
    expect(failing.sources).to.deep.equal([{ n: 1, title: "QnABot doc", uri: "s3://docs-bucket/qnabot.md", snippet: "QnABot is a bot." }]);
    expect(failing.answer).to.equal("QnABot \\[1\\] is a bot.\n\n**Sources**\n1. QnABot doc (s3://docs-bucket/qnabot.md)");
  });

  it("answers without streaming when the stack did not enable it", async () => {
    const { generator, calls } = scripted(["Plain answer."]);
    const result = await answer(ask, deps({ generators: { llm: generator } }));
    expect(calls[0].streaming).to.equal(false);
    expect(result).to.include({ answer: formatAnswer("Plain answer.", [citation]).markdown, streamed: false });
  });

  it("reports streamed: false when the session had no connection to stream to", async () => {
    const { opener } = recordingOpener({ connections: 0 });
    const result = await answer(ask, deps({ generators: { llm: scripted(["x"]).generator }, openStream: opener }));
    expect(result.streamed).to.equal(false);
  });

  it("on a failure mid-answer sends fail() to the stream and returns a clear final message instead of throwing", async () => {
    const { generator } = scripted(["Part of an "], sdkError("ThrottlingException"));
    const { opener, streams } = recordingOpener();
    const memory = new MapMemory();
    const result = await answer(ask, deps({ generators: { llm: generator }, openStream: opener, memory }));
    expect(streams[0].deltas).to.deep.equal(["Part of an "]);
    expect(streams[0].failed).to.deep.equal({ code: "throttled", message: MESSAGES.throttled, retryable: true });
    expect(streams[0].ended).to.equal(undefined);
    expect(result).to.deep.include({
      answer: MESSAGES.throttled,
      plainText: MESSAGES.throttled,
      text: "Part of an ",
      stopReason: "error",
      error: { code: "throttled", message: MESSAGES.throttled, retryable: true },
    });
    expect(memory.saves).to.deep.equal([]);
  });

  it("refuses a mode the stack has no generator for, telling the stream too", async () => {
    const { opener, streams } = recordingOpener();
    const result = await answer({ ...ask, mode: "kb" }, deps({ generators: { llm: scripted(["x"]).generator }, openStream: opener }));
    expect(result.error).to.deep.equal({ code: "bad_request", message: MODE_UNAVAILABLE.kb, retryable: false });
    expect(streams[0].failed?.code).to.equal("bad_request");
  });

  it("still answers when the stream cannot be opened", async () => {
    const { opener } = recordingOpener({ failOpen: new Error("DynamoDB down") });
    const result = await answer(ask, deps({ generators: { llm: scripted(["Fine."]).generator }, openStream: opener }));
    expect(result).to.include({ text: "Fine.", streamed: false });
    expect(result.error).to.equal(undefined);
  });

  describe("cancellation", () => {
    /** Emits `chunks`, then waits on the model forever (through the guard, as the adapters do). */
    function hanging(chunks: string[]): Generator {
      return {
        streamsItself: false,
        async generate(_request, sink, guard) {
          for (const chunk of chunks) sink.delta(chunk);
          await guard.step(new Promise<never>(() => undefined));
          throw new Error("unreachable");
        },
      };
    }

    it("stops when the stream reports the asker's cancel, ends the stream with the text so far, and remembers it", async () => {
      const cancelled = new AbortController();
      const { opener, streams } = recordingOpener({ cancelled: cancelled.signal });
      const memory = new MapMemory();
      const answering = answer(ask, deps({ generators: { llm: hanging(["Half ", "an answer"]) }, openStream: opener, memory }));
      await new Promise((resolve) => setImmediate(resolve));
      cancelled.abort();
      const result = await answering;
      expect(result).to.include({ text: "Half an answer", stopReason: "cancelled" });
      expect(result.error).to.equal(undefined);
      expect(streams[0].ended).to.deep.include({ stopReason: "cancelled", final: formatAnswer("Half an answer", [], { cutShort: false }).markdown });
      expect(memory.saves[0].state.turns).to.deep.equal([{ question: ask.question, answer: "Half an answer" }]);
    });

    it("streams what the output sanitizer still held when the cancel came, so the frames equal the answer's text", async () => {
      const cancelled = new AbortController();
      const { opener, streams } = recordingOpener({ cancelled: cancelled.signal });
      // An unclosed image is undecided (alt text or a picture): the sanitizer holds it until the cancel ends the answer.
      const answering = answer(ask, deps({ generators: { llm: hanging(["See ", "![the chart"]) }, openStream: opener }));
      await new Promise((resolve) => setImmediate(resolve));
      expect(streams[0].deltas.join("")).to.equal("See ");
      cancelled.abort();
      const result = await answering;
      expect(result.text).to.equal(sanitizeOutput("See ![the chart"));
      expect(streams[0].deltas.join("")).to.equal(result.text);
    });
  });

  describe("conversation memory", () => {
    it("sends the asker's history and remembers the new turn under the asker's principal", async () => {
      const memory = new MapMemory();
      memory.items.set(ask.sessionId, { owner: ask.principal!, state: { turns: [{ question: "Hi", answer: "Hello" }], kbSessionId: "kb-1" } });
      const { generator, calls } = scripted(["It is a bot."], { kbSessionId: "kb-2" });
      await answer(ask, deps({ generators: { llm: generator }, memory, memoryTurns: 5 }));
      expect(calls[0].history).to.deep.equal([{ question: "Hi", answer: "Hello" }]);
      expect(calls[0].kbSessionId).to.equal("kb-1");
      expect(memory.saves).to.deep.equal([
        {
          sessionId: ask.sessionId,
          owner: ask.principal,
          state: {
            turns: [
              { question: "Hi", answer: "Hello" },
              { question: ask.question, answer: "It is a bot." },
            ],
            kbSessionId: "kb-2",
          },
        },
      ]);
    });

    it("does not hand one principal's history to another on the same session", async () => {
      const memory = new MapMemory();
      memory.items.set(ask.sessionId, { owner: "iam:alice", state: { turns: [{ question: "secret", answer: "secret" }] } });
      const { generator, calls } = scripted(["x"]);
      await answer({ ...ask, principal: "iam:mallory" }, deps({ generators: { llm: generator }, memory }));
      expect(calls[0].history).to.deep.equal([]);
      expect(memory.items.get(ask.sessionId)?.owner).to.equal("iam:alice");
    });

    it("neither reads nor writes memory for a request with no principal and no owner named (an unknown asker)", async () => {
      const memory = new MapMemory();
      memory.items.set(ask.sessionId, { owner: "cognito:someone", state: { turns: [{ question: "secret", answer: "secret" }] } });
      const { generator, calls } = scripted(["x"]);
      await answer({ ...ask, principal: undefined }, deps({ generators: { llm: generator }, memory }));
      expect(calls[0].history).to.deep.equal([]);
      expect(memory.saves).to.deep.equal([]);
    });

    it("passes the memory's end (the owner's claim) on to the memory store", async () => {
      const memory = new MapMemory();
      await answer({ ...ask, principal: undefined, memoryOwner: "lex:cognito:claimant", memoryUntil: 1_900_000_000 }, deps({ generators: { llm: scripted(["x"]).generator }, memory }));
      expect(memory.saves.map((save) => ({ owner: save.owner, until: save.until }))).to.deep.equal([{ owner: "lex:cognito:claimant", until: 1_900_000_000 }]);
    });

    it("reads and extends the memory of the owner the door names (a Lex session's only claimant)", async () => {
      const memory = new MapMemory();
      memory.items.set(ask.sessionId, { owner: "cognito:claimant", state: { turns: [{ question: "Hi", answer: "Hello" }] } });
      const { generator, calls } = scripted(["x"]);
      await answer({ ...ask, principal: undefined, memoryOwner: "cognito:claimant" }, deps({ generators: { llm: generator }, memory }));
      expect(calls[0].history).to.deep.equal([{ question: "Hi", answer: "Hello" }]);
      expect(memory.saves.map((save) => save.owner)).to.deep.equal(["cognito:claimant"]);
    });

    it("neither reads nor writes memory, nor streams, when the door forbids both (a contested Lex session)", async () => {
      const memory = new MapMemory();
      memory.items.set(ask.sessionId, { owner: "lex:cognito:other", state: { turns: [{ question: "other's", answer: "other's" }] } });
      const { generator, calls } = scripted(["x"]);
      const { opener, streams } = recordingOpener();
      const result = await answer(
        { ...ask, principal: undefined, memoryOwner: false, stream: false },
        deps({ generators: { llm: generator }, memory, openStream: opener }),
      );
      expect(calls[0].history).to.deep.equal([]);
      expect(calls[0].streaming).to.equal(false);
      expect(memory.saves).to.deep.equal([]);
      expect(streams).to.deep.equal([]);
      expect(result).to.include({ text: "x", streamed: false });
    });

    it("answers without history when memory cannot be read", async () => {
      const memory = new MapMemory();
      memory.failLoad = new Error("ProvisionedThroughputExceededException");
      const { generator, calls } = scripted(["Still here."]);
      const result = await answer(ask, deps({ generators: { llm: generator }, memory }));
      expect(calls[0].history).to.deep.equal([]);
      expect(result.text).to.equal("Still here.");
    });
  });

  describe("stall bound and time budget (Bedrock adapter, manual clock)", () => {
    const delta = (text: string): StreamStep<ConverseStreamOutput> => ({ event: { contentBlockDelta: { contentBlockIndex: 0, delta: { text } } } });
    const bedrock = (steps: StreamStep<ConverseStreamOutput>[]) =>
      converseGenerator(fakeClient(() => ({ $metadata: {}, stream: eventStream(steps) })) as unknown as ConverseClient, {
        modelId: "m",
        inference: {},
      });

    it("ends a stalled answer with a stalled error on the stream and a clear final message", async () => {
      const clock = new ManualClock();
      const { opener, streams } = recordingOpener();
      const result = await answer(
        ask,
        deps({ generators: { llm: bedrock([delta("Once upon"), { hang: () => clock.advance(20_000) }]) }, openStream: opener, clock }),
      );
      expect(streams[0].failed).to.deep.equal({ code: "stalled", message: MESSAGES.stalled, retryable: true });
      expect(result).to.include({ answer: MESSAGES.stalled, text: "Once upon", stopReason: "error" });
    });

    it("ends the stream with the text so far and a clear note when the time budget runs out", async () => {
      const clock = new ManualClock();
      const { opener, streams } = recordingOpener();
      const result = await answer(
        { ...ask, deadlineAt: clock.now() + 10_000 },
        deps({ generators: { llm: bedrock([delta("The first half"), { hang: () => clock.advance(10_000) }]) }, openStream: opener, clock }),
      );
      expect(streams[0].ended?.stopReason).to.equal("time_budget");
      expect(streams[0].ended?.final).to.equal(`The first half\n\n_${CUT_SHORT_NOTE}_`);
      expect(result).to.include({ stopReason: "time_budget", text: "The first half" });
      expect(result.error).to.equal(undefined);
    });
  });

  describe("an answer cut short by the time budget, and \"continue\" (the Lex door's 30 s)", () => {
    const delta = (text: string): StreamStep<ConverseStreamOutput> => ({ event: { contentBlockDelta: { contentBlockIndex: 0, delta: { text } } } });
    const cutAfter = (text: string, clock: ManualClock) =>
      converseGenerator(
        fakeClient(() => ({ $metadata: {}, stream: eventStream([delta(text), { hang: () => clock.advance(10_000) }]) })) as unknown as ConverseClient,
        { modelId: "m", inference: {} },
      );

    it("remembers the turn as cut short and tells the user how to have the rest", async () => {
      const clock = new ManualClock();
      const memory = new MapMemory();
      const { opener, streams } = recordingOpener();
      const result = await answer({ ...ask, deadlineAt: clock.now() + 10_000 }, deps({ generators: { llm: cutAfter("The first half", clock) }, openStream: opener, memory, clock }));
      expect(result.stopReason).to.equal("time_budget");
      expect(memory.saves[0].state.turns).to.deep.equal([{ question: ask.question, answer: "The first half", cutShort: true }]);
      expect(streams[0].ended?.final).to.equal(`The first half\n\n_${CUT_SHORT_NOTE} ${CONTINUE_HINT}_`);
      expect(result.plainText).to.equal(`The first half\n\n(${CUT_SHORT_NOTE} ${CONTINUE_HINT})`);
    });

    it("does not promise a continuation it cannot give (no memory for the answer)", async () => {
      const clock = new ManualClock();
      const memory = new MapMemory();
      const result = await answer(
        { ...ask, deadlineAt: clock.now() + 10_000, memoryOwner: false },
        deps({ generators: { llm: cutAfter("Half", clock) }, openStream: recordingOpener().opener, memory, clock }),
      );
      expect(result.answer).to.equal(`Half\n\n_${CUT_SHORT_NOTE}_`);
      expect(memory.saves).to.deep.equal([]);
    });

    it("asks the model to carry on from the cut answer when the next question is \"continue\", and remembers the user's words", async () => {
      const memory = new MapMemory();
      const cut = { question: "Tell me everything", answer: "Part one, part", cutShort: true };
      memory.items.set(ask.sessionId, { owner: ask.principal!, state: { turns: [cut] } });
      const { generator, calls } = scripted([" two."]);
      await answer({ ...ask, question: "Continue, please." }, deps({ generators: { llm: generator }, memory }));
      expect(calls[0].question).to.equal(CONTINUE_PROMPT);
      expect(calls[0].history).to.deep.equal([cut]);
      expect(memory.saves[0].state.turns).to.deep.equal([cut, { question: "Continue, please.", answer: " two." }]);
    });

    it("treats \"continue\" after a whole answer, and any other question after a cut one, as ordinary questions", async () => {
      for (const [last, question] of [
        [{ question: "Q", answer: "A whole answer." }, "continue"],
        [{ question: "Q", answer: "A cut", cutShort: true }, "What is Lex?"],
      ] as const) {
        const memory = new MapMemory();
        memory.items.set(ask.sessionId, { owner: ask.principal!, state: { turns: [last] } });
        const { generator, calls } = scripted(["x"]);
        await answer({ ...ask, question }, deps({ generators: { llm: generator }, memory }));
        expect(calls[0].question).to.equal(question);
      }
    });
  });

  describe("custom LLM Lambda hook", () => {
    const streaming = { endpoint: "https://abc123.execute-api.us-east-1.amazonaws.com/Prod", connectionsTable: "stack-connections" };

    it("opens no stream of its own (the hook streams) and reports the answer as streamed", async () => {
      const lambda = fakeClient(() => ({ StatusCode: 200, Payload: Buffer.from(JSON.stringify({ generated_text: "From the hook." })) }));
      const hook = hookGenerator(lambda as unknown as LambdaInvoker, { functionArn: "arn:aws:lambda:us-east-1:1:function:hook", inference: {}, streaming });
      const { opener, streams } = recordingOpener();
      const result = await answer(ask, deps({ generators: { llm: hook }, openStream: opener }));
      expect(streams).to.have.length(0);
      expect(result).to.include({ answer: "From the hook.", streamed: true });
      const payload = JSON.parse(Buffer.from((lambda.sent[0].input as { Payload: Uint8Array }).Payload).toString());
      expect(payload.streamingAttributes).to.deep.equal({
        sessionId: ask.sessionId,
        streamingEndpoint: streaming.endpoint,
        streamingDynamoDbTable: streaming.connectionsTable,
        requestId: ask.requestId,
        principal: ask.principal,
      });
    });

    it("when the hook fails, opens the stream to send the error so the client is not left waiting", async () => {
      const lambda = fakeClient(() => ({
        StatusCode: 200,
        FunctionError: "Unhandled",
        Payload: Buffer.from(JSON.stringify({ errorMessage: "boom", errorType: "Error" })),
      }));
      const hook = hookGenerator(lambda as unknown as LambdaInvoker, { functionArn: "arn:hook", inference: {}, streaming });
      const { opener, streams } = recordingOpener();
      const result = await answer(ask, deps({ generators: { llm: hook }, openStream: opener }));
      expect(streams).to.have.length(1);
      expect(streams[0].failed?.code).to.equal("model_error");
      expect(result.error?.code).to.equal("model_error");
    });
  });

  describe("with the real stream writer", () => {
    it("a json connection receives start, the deltas (concatenating to the text) and end with the final answer", async () => {
      const store = new MemoryConnectionsStore();
      const [json] = await store.seed(ask.sessionId, ask.principal!, ["json"]);
      const transport = new FakeTransport();
      const openStream = createStreamOpener({ store, transport, clock: new FakeClock(), logger: new RecordingLogger(), options: { report: () => undefined } });
      const { generator } = scripted(["日本", "語 👋🏽", " done"]);
      const result = await answer(ask, deps({ generators: { llm: generator }, openStream }));

      const envelopes = transport.envelopesOf(json);
      expect(envelopes[0]).to.include({ type: "start", requestId: "req-1" });
      const text = envelopes.filter((e) => e.type === "delta").map((e) => e.text).join("");
      expect(text).to.equal("日本語 👋🏽 done");
      expect(envelopes.at(-1)).to.include({ type: "end", final: result.answer, stopReason: "end_turn" });
      expect(result.streamed).to.equal(true);
    });

    it("a json connection receives an error envelope when the answer fails", async () => {
      const store = new MemoryConnectionsStore();
      const [json] = await store.seed(ask.sessionId, ask.principal!, ["json"]);
      const transport = new FakeTransport();
      const openStream = createStreamOpener({ store, transport, clock: new FakeClock(), logger: new RecordingLogger(), options: { report: () => undefined } });
      await answer(ask, deps({ generators: { llm: scripted(["a"], sdkError("ModelStreamErrorException")).generator }, openStream }));
      expect(transport.envelopesOf(json).at(-1)).to.include({ type: "error", code: "model_error", retryable: true });
    });
  });
});
