import { expect } from "chai";
import type { ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import type { RetrieveAndGenerateStreamResponseOutput } from "@aws-sdk/client-bedrock-agent-runtime";
import type { Citation } from "../../functions/shared/protocol";
import {
  converseGenerator,
  converseInput,
  converseStream,
  type ConverseClient,
  type ConverseSettings,
} from "../../functions/fulfillment/converse";
import { BudgetExhausted, GenerationError, MESSAGES, toGenerationError } from "../../functions/fulfillment/errors";
import type { GenerateRequest, GenerateSink } from "../../functions/fulfillment/generate";
import { StreamGuard } from "../../functions/fulfillment/guard";
import {
  knowledgeBaseGenerator,
  retrieveAndGenerateInput,
  toCitation,
  type KnowledgeBaseClient,
  type KnowledgeBaseSettings,
} from "../../functions/fulfillment/knowledge-base";
import { ManualClock, eventStream, fakeClient, sdkError, type StreamStep } from "./fulfillment-fakes";

const settings: ConverseSettings = {
  modelId: "anthropic.claude-3-haiku-20240307-v1:0",
  systemPrompt: "You answer questions about QnABot.",
  inference: { maxTokens: 512, temperature: 0.2, topP: 0.9 },
};

const kbSettings: KnowledgeBaseSettings = {
  knowledgeBaseId: "KB12345678",
  modelArn: "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
  inference: {},
};

function recordingSink() {
  const calls: { deltas: string[]; citations: Citation[][]; guardrails: string[] } = { deltas: [], citations: [], guardrails: [] };
  const sink: GenerateSink = {
    delta: (text) => void calls.deltas.push(text),
    citation: (citations) => void calls.citations.push(citations),
    guardrail: (action) => void calls.guardrails.push(action),
  };
  return { sink, calls };
}

function request(overrides: Partial<GenerateRequest> = {}): GenerateRequest {
  return { question: "What is QnABot?", history: [], sessionId: "s-1", requestId: "r-1", streaming: true, ...overrides };
}

const delta = (text: string): StreamStep<ConverseStreamOutput> => ({
  event: { contentBlockDelta: { contentBlockIndex: 0, delta: { text } } },
});

/** A ConverseStream answer as Bedrock sends it, event by event. */
function converseEvents(texts: string[], stopReason = "end_turn"): StreamStep<ConverseStreamOutput>[] {
  return [
    { event: { messageStart: { role: "assistant" } } },
    { event: { contentBlockStart: { contentBlockIndex: 0, start: undefined as never } } },
    ...texts.map(delta),
    { event: { contentBlockStop: { contentBlockIndex: 0 } } },
    { event: { messageStop: { stopReason: stopReason as never } } },
    { event: { metadata: { usage: { inputTokens: 11, outputTokens: 7, totalTokens: 18 }, metrics: { latencyMs: 321 } } } },
  ];
}

function converseClient(steps: StreamStep<ConverseStreamOutput>[] | Error) {
  const fake = fakeClient(() => (steps instanceof Error ? steps : { $metadata: {}, stream: eventStream(steps) }));
  return { fake, client: fake as unknown as ConverseClient };
}

describe("fulfillment: Bedrock adapters", () => {
  describe("Converse input", () => {
    it("sends the system prompt, inference config and history as alternating user/assistant messages", () => {
      const input = converseInput(
        settings,
        [
          { question: "Who are you?", answer: "A bot." },
          { question: "  ", answer: "dropped: blank question" },
          { question: "Where?", answer: "Here." },
        ],
        "And now?",
      );
      expect(input.modelId).to.equal(settings.modelId);
      expect(input.system).to.deep.equal([{ text: settings.systemPrompt }]);
      expect(input.inferenceConfig).to.deep.equal({ maxTokens: 512, temperature: 0.2, topP: 0.9 });
      expect(input.messages).to.deep.equal([
        { role: "user", content: [{ text: "Who are you?" }] },
        { role: "assistant", content: [{ text: "A bot." }] },
        { role: "user", content: [{ text: "Where?" }] },
        { role: "assistant", content: [{ text: "Here." }] },
        { role: "user", content: [{ text: "And now?" }] },
      ]);
    });

    it("leaves out system and inferenceConfig when none is configured", () => {
      const input = converseInput({ modelId: "m", inference: {} }, [], "q");
      expect(input).to.not.have.property("system");
      expect(input).to.not.have.property("inferenceConfig");
    });
  });

  describe("ConverseStream", () => {
    it("turns each text delta into a sink delta and returns text, stop reason and usage", async () => {
      const { fake, client } = converseClient(converseEvents(["Qn", "ABot ", "answers 👋🏽", " questions."], "max_tokens"));
      const { sink, calls } = recordingSink();
      const guard = new StreamGuard({ stallMs: 20_000, clock: new ManualClock() });
      const result = await converseStream(client, converseInput(settings, [], "q"), sink, guard);
      expect(calls.deltas).to.deep.equal(["Qn", "ABot ", "answers 👋🏽", " questions."]);
      expect(result).to.deep.equal({
        text: "QnABot answers 👋🏽 questions.",
        stopReason: "max_tokens",
        usage: { inputTokens: 11, outputTokens: 7, totalTokens: 18 },
        citations: [],
      });
      expect(fake.sent[0].name).to.equal("ConverseStreamCommand");
      expect(fake.sent[0].abortSignal).to.equal(guard.signal);
      expect(guard.signal.aborted).to.equal(false);
    });

    for (const [name, code, retryable] of [
      ["ModelStreamErrorException", "model_error", true],
      ["ThrottlingException", "throttled", true],
      ["ServiceUnavailableException", "model_error", true],
      ["InternalServerException", "model_error", true],
      ["ValidationException", "model_error", false],
    ] as const) {
      it(`maps an in-stream ${name} to ${code} (retryable: ${retryable}) after the deltas already sent`, async () => {
        const { client } = converseClient([delta("partial "), { throws: sdkError(name) }]);
        const { sink, calls } = recordingSink();
        const guard = new StreamGuard({ stallMs: 20_000, clock: new ManualClock() });
        const error = await converseStream(client, converseInput(settings, [], "q"), sink, guard).catch((e) => e);
        expect(calls.deltas).to.deep.equal(["partial "]);
        const mapped = toGenerationError(error);
        expect(mapped.code).to.equal(code);
        expect(mapped.retryable).to.equal(retryable);
        expect(mapped.detail).to.contain(name);
        expect(mapped.message).to.not.contain(name);
      });
    }

    it("treats a stream broken off without messageStop (the SDK ends it quietly) as a retryable model_error", async () => {
      const { client } = converseClient(converseEvents(["Cut ", "off"]).slice(0, 4));
      const guard = new StreamGuard({ stallMs: 20_000, clock: new ManualClock() });
      const error = await converseStream(client, converseInput(settings, [], "q"), recordingSink().sink, guard).catch((e) => e);
      expect(error).to.be.instanceOf(GenerationError);
      expect(error).to.include({ code: "model_error", retryable: true });
    });

    it("maps a throttled request (429 before the stream) to throttled", async () => {
      const { client } = converseClient(sdkError("ThrottlingException", 429));
      const guard = new StreamGuard({ stallMs: 20_000, clock: new ManualClock() });
      const error = await converseStream(client, converseInput(settings, [], "q"), recordingSink().sink, guard).catch(toGenerationError);
      expect(error).to.include({ code: "throttled", retryable: true, message: MESSAGES.throttled });
    });

    it("ends a stream with no event for stallMs as stalled and aborts the SDK call", async () => {
      const clock = new ManualClock();
      const steps = [delta("Hel"), delta("lo"), { hang: () => clock.advance(20_000) }];
      const stream = eventStream<ConverseStreamOutput>(steps);
      const fake = fakeClient(() => ({ $metadata: {}, stream }));
      const { sink, calls } = recordingSink();
      const guard = new StreamGuard({ stallMs: 20_000, clock });
      const error = await converseStream(fake as unknown as ConverseClient, converseInput(settings, [], "q"), sink, guard).catch((e) => e);
      expect(error).to.be.instanceOf(GenerationError);
      expect(error).to.include({ code: "stalled", retryable: true });
      expect(calls.deltas).to.deep.equal(["Hel", "lo"]);
      expect(guard.signal.aborted).to.equal(true);
      expect(clock.pending).to.equal(0);
    });

    it("does not count time the event loop was blocked as model silence (issue 21: false stalled under load), yet still ends a real stall", async () => {
      const clock = new ManualClock();
      let lag = 0;
      // The loop is blocked 6 s during the wait; the event was there, unread, and is read 3 s after the bound.
      const events = [delta("Hel"), delta("lo")].map((step) => (step as { event: ConverseStreamOutput }).event);
      let read = 0;
      const stream: AsyncIterable<ConverseStreamOutput> = {
        [Symbol.asyncIterator]: () => ({
          next: (): Promise<IteratorResult<ConverseStreamOutput>> => {
            read++;
            if (read === 1) return Promise.resolve({ done: false, value: events[0] });
            if (read > 2) return Promise.resolve({ done: true, value: undefined });
            return new Promise((resolve) =>
              setImmediate(() => {
                lag += 6_000;
                clock.advance(20_000);
                setImmediate(() => {
                  clock.advance(3_000);
                  resolve({ done: false, value: events[1] });
                });
              }),
            );
          },
        }),
      };
      const fake = fakeClient(() => ({ $metadata: {}, stream }));
      const { sink, calls } = recordingSink();
      const guard = new StreamGuard({ stallMs: 20_000, clock, lag: () => lag });
      const pending = converseStream(fake as unknown as ConverseClient, converseInput(settings, [], "q"), sink, guard).catch((e) => e);
      const error = await pending;
      expect(calls.deltas).to.deep.equal(["Hel", "lo"]);
      // The stream then ends without messageStop: a model_error, not stalled.
      expect(error).to.include({ code: "model_error" });

      // With the loop free, 20 s of silence is a stall.
      const quiet = eventStream<ConverseStreamOutput>([delta("Hel"), { hang: () => clock.advance(20_000) }]);
      const stalled = await converseStream(fakeClient(() => ({ $metadata: {}, stream: quiet })) as unknown as ConverseClient, converseInput(settings, [], "q"), recordingSink().sink, new StreamGuard({ stallMs: 20_000, clock, lag: () => lag })).catch((e) => e);
      expect(stalled).to.include({ code: "stalled" });
    });

    it("waits as long as events keep coming, however long the whole answer takes", async () => {
      const clock = new ManualClock();
      // Each event arrives 15 s after the previous one: 75 s in all, never 20 s of silence.
      const slow = {
        [Symbol.asyncIterator]() {
          let i = 0;
          return {
            next: () =>
              new Promise<IteratorResult<ConverseStreamOutput>>((resolve) => {
                if (i === 6) return resolve({ done: true, value: undefined });
                if (i === 5) {
                  i++;
                  return resolve({ done: false, value: { messageStop: { stopReason: "end_turn" } } });
                }
                const text = `chunk${i++} `;
                setImmediate(() => {
                  clock.advance(15_000);
                  resolve({ done: false, value: { contentBlockDelta: { contentBlockIndex: 0, delta: { text } } } });
                });
              }),
          };
        },
      };
      const fake = fakeClient(() => ({ $metadata: {}, stream: slow }));
      const { sink } = recordingSink();
      const result = await converseStream(
        fake as unknown as ConverseClient,
        converseInput(settings, [], "q"),
        sink,
        new StreamGuard({ stallMs: 20_000, clock }),
      );
      expect(result.text).to.equal("chunk0 chunk1 chunk2 chunk3 chunk4 ");
    });

    it("keeps the text so far with stop reason time_budget when the Lambda time budget runs out", async () => {
      const clock = new ManualClock();
      const { client } = converseClient([delta("Half an "), delta("answer"), { hang: () => clock.advance(5_000) }]);
      const guard = new StreamGuard({ stallMs: 20_000, deadlineAt: clock.now() + 5_000, clock });
      const result = await converseStream(client, converseInput(settings, [], "q"), recordingSink().sink, guard);
      expect(result).to.include({ text: "Half an answer", stopReason: "time_budget" });
      expect(guard.signal.aborted).to.equal(true);
    });

    it("reports a time budget that runs out before any text as timeout", async () => {
      const clock = new ManualClock();
      const { client } = converseClient([{ hang: () => clock.advance(5_000) }]);
      const guard = new StreamGuard({ stallMs: 20_000, deadlineAt: clock.now() + 5_000, clock });
      const error = await converseStream(client, converseInput(settings, [], "q"), recordingSink().sink, guard).catch((e) => e);
      expect(error).to.be.instanceOf(BudgetExhausted);
      expect(toGenerationError(error)).to.include({ code: "timeout", retryable: true });
    });
  });

  describe("Converse (streaming off)", () => {
    it("returns the same result shape from one response", async () => {
      const fake = fakeClient(() => ({
        $metadata: {},
        output: { message: { role: "assistant", content: [{ text: "All " }, { text: "at once." }] } },
        stopReason: "end_turn",
        usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
        metrics: { latencyMs: 10 },
      }));
      const { sink, calls } = recordingSink();
      const result = await converseGenerator(fake as unknown as ConverseClient, settings).generate(
        request({ streaming: false }),
        sink,
        new StreamGuard({ stallMs: 20_000, clock: new ManualClock() }),
      );
      expect(fake.sent.map((s) => s.name)).to.deep.equal(["ConverseCommand"]);
      expect(result).to.deep.equal({
        text: "All at once.",
        stopReason: "end_turn",
        usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
        citations: [],
      });
      expect(calls.deltas).to.deep.equal([]);
    });
  });

  describe("RetrieveAndGenerateStream", () => {
    const s3Reference = {
      content: { text: "QnABot is a multi-channel bot." },
      location: { type: "S3" as const, s3Location: { uri: "s3://docs/qnabot-guide.pdf" } },
      metadata: { "x-amz-bedrock-kb-source-uri": "s3://docs/qnabot-guide.pdf", title: "QnABot guide" },
    };
    const webReference = {
      content: { text: "Streaming uses WebSockets." },
      location: { type: "WEB" as const, webLocation: { url: "https://example.com/streaming" } },
    };

    function kbEvents(): StreamStep<RetrieveAndGenerateStreamResponseOutput>[] {
      return [
        { event: { output: { text: "QnABot is a bot" } } },
        {
          event: {
            citation: {
              generatedResponsePart: { textResponsePart: { text: "QnABot is a bot", span: { start: 0, end: 14 } } },
              retrievedReferences: [s3Reference, s3Reference],
            },
          },
        },
        { event: { output: { text: " that streams." } } },
        { event: { citation: { citation: { generatedResponsePart: { textResponsePart: { text: " that streams." } } }, retrievedReferences: [webReference] } } },
        { event: { guardrail: { action: "NONE" } } },
      ];
    }

    it("streams output, citations and guardrail actions and keeps the knowledge-base session id", async () => {
      const fake = fakeClient(() => ({ $metadata: {}, sessionId: "kb-session-2", stream: eventStream(kbEvents()) }));
      const { sink, calls } = recordingSink();
      const result = await knowledgeBaseGenerator(fake as unknown as KnowledgeBaseClient, kbSettings).generate(
        request({ kbSessionId: "kb-session-1" }),
        sink,
        new StreamGuard({ stallMs: 20_000, clock: new ManualClock() }),
      );
      expect(fake.sent[0].name).to.equal("RetrieveAndGenerateStreamCommand");
      expect(fake.sent[0].input).to.deep.equal(retrieveAndGenerateInput(kbSettings, "What is QnABot?", "kb-session-1"));
      expect(calls.deltas).to.deep.equal(["QnABot is a bot", " that streams."]);
      // Each source carries the passage retrieved from it, shortened, as its snippet.
      const first = { text: "QnABot is a bot", sources: [{ uri: "s3://docs/qnabot-guide.pdf", title: "QnABot guide", snippet: "QnABot is a multi-channel bot." }] };
      const second = { text: " that streams.", sources: [{ uri: "https://example.com/streaming", snippet: "Streaming uses WebSockets." }] };
      expect(calls.citations).to.deep.equal([[first], [second]]);
      expect(calls.guardrails).to.deep.equal(["NONE"]);
      expect(result).to.deep.equal({
        text: "QnABot is a bot that streams.",
        stopReason: "end_turn",
        citations: [first, second],
        kbSessionId: "kb-session-2",
        guardrailAction: "NONE",
      });
    });

    it("asks afresh when Bedrock refuses a remembered (expired) knowledge-base session before generating", async () => {
      const fake = fakeClient((_name, input: { sessionId?: string }) =>
        input.sessionId ? sdkError("ValidationException", 400) : { $metadata: {}, sessionId: "kb-new", stream: eventStream(kbEvents()) },
      );
      const result = await knowledgeBaseGenerator(fake as unknown as KnowledgeBaseClient, kbSettings).generate(
        request({ kbSessionId: "kb-expired" }),
        recordingSink().sink,
        new StreamGuard({ stallMs: 20_000, clock: new ManualClock() }),
      );
      expect(fake.sent.map((s) => (s.input as { sessionId?: string }).sessionId)).to.deep.equal(["kb-expired", undefined]);
      expect(result.kbSessionId).to.equal("kb-new");
    });

    it("does not retry a validation error raised after text went out (no repeated text)", async () => {
      const fake = fakeClient(() => ({
        $metadata: {},
        sessionId: "kb-1",
        stream: eventStream<RetrieveAndGenerateStreamResponseOutput>([
          { event: { output: { text: "Some" } } },
          { throws: sdkError("ValidationException") },
        ]),
      }));
      const { sink, calls } = recordingSink();
      const error = await knowledgeBaseGenerator(fake as unknown as KnowledgeBaseClient, kbSettings)
        .generate(request({ kbSessionId: "kb-1" }), sink, new StreamGuard({ stallMs: 20_000, clock: new ManualClock() }))
        .catch((e) => e);
      expect(fake.sent).to.have.length(1);
      expect(calls.deltas).to.deep.equal(["Some"]);
      expect(toGenerationError(error)).to.include({ code: "model_error", retryable: false });
    });

    it("ends a stalled knowledge-base stream as stalled", async () => {
      const clock = new ManualClock();
      const fake = fakeClient(() => ({
        $metadata: {},
        sessionId: "kb-1",
        stream: eventStream<RetrieveAndGenerateStreamResponseOutput>([
          { event: { output: { text: "Some" } } },
          { hang: () => clock.advance(7_000) },
        ]),
      }));
      const error = await knowledgeBaseGenerator(fake as unknown as KnowledgeBaseClient, kbSettings)
        .generate(request(), recordingSink().sink, new StreamGuard({ stallMs: 7_000, clock }))
        .catch((e) => e);
      expect(error).to.include({ code: "stalled", retryable: true });
    });

    it("uses RetrieveAndGenerate with the same result shape when streaming is off", async () => {
      const fake = fakeClient(() => ({
        $metadata: {},
        sessionId: "kb-9",
        output: { text: "Blocked." },
        citations: [{ generatedResponsePart: { textResponsePart: { text: "Blocked." } }, retrievedReferences: [webReference] }],
        guardrailAction: "INTERVENED",
      }));
      const result = await knowledgeBaseGenerator(fake as unknown as KnowledgeBaseClient, kbSettings).generate(
        request({ streaming: false }),
        recordingSink().sink,
        new StreamGuard({ stallMs: 20_000, clock: new ManualClock() }),
      );
      expect(fake.sent[0].name).to.equal("RetrieveAndGenerateCommand");
      expect(result).to.deep.equal({
        text: "Blocked.",
        stopReason: "guardrail_intervened",
        citations: [{ text: "Blocked.", sources: [{ uri: "https://example.com/streaming", snippet: "Streaming uses WebSockets." }] }],
        kbSessionId: "kb-9",
        guardrailAction: "INTERVENED",
      });
    });

    it("maps every located source kind, falls back to the source-uri metadata and drops unlocatable ones", () => {
      const citation = toCitation({
        generatedResponsePart: { textResponsePart: { text: "t" } },
        retrievedReferences: [
          { location: { type: "CONFLUENCE", confluenceLocation: { url: "https://wiki/page" } } },
          { location: { type: "SHAREPOINT", sharePointLocation: { url: "https://sp/doc" } } },
          { location: { type: "KENDRA", kendraDocumentLocation: { uri: "https://kendra/doc" } } },
          { location: { type: "CUSTOM", customDocumentLocation: { id: "doc-1" } }, metadata: { "x-amz-bedrock-kb-source-uri": "custom://doc-1" } },
          { location: { type: "SQL", sqlLocation: { query: "select 1" } } },
        ],
      });
      expect(citation?.sources.map((s) => s.uri)).to.deep.equal([
        "https://wiki/page",
        "https://sp/doc",
        "https://kendra/doc",
        "custom://doc-1",
      ]);
      expect(toCitation({ retrievedReferences: [{ location: { type: "SQL", sqlLocation: { query: "q" } } }] })).to.equal(undefined);
    });

    it("puts the inference settings into the knowledge base's generation configuration", () => {
      const input = retrieveAndGenerateInput({ ...kbSettings, inference: { maxTokens: 100, temperature: 0 } }, "q");
      expect(input.retrieveAndGenerateConfiguration).to.deep.equal({
        type: "KNOWLEDGE_BASE",
        knowledgeBaseConfiguration: {
          knowledgeBaseId: kbSettings.knowledgeBaseId,
          modelArn: kbSettings.modelArn,
          generationConfiguration: { inferenceConfig: { textInferenceConfig: { maxTokens: 100, temperature: 0 } } },
        },
      });
      expect(input).to.not.have.property("sessionId");
    });
  });
});
