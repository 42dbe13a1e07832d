import { expect } from "chai";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { BedrockAgentRuntimeClient } from "@aws-sdk/client-bedrock-agent-runtime";
import { DEFAULT_BLOCKED_MESSAGE, startBedrockEmulator, type BedrockEmulator } from "../../local/bedrock";
import { GUARDRAIL_FALLBACK_ANSWER, type GuardrailSettings } from "../../functions/fulfillment/config";
import { answer, type AnswerRequest } from "../../functions/fulfillment/engine";
import { createStreamOpener } from "../../functions/stream/writer";
import { FakeClock, FakeTransport, MemoryConnectionsStore, RecordingLogger } from "./stream-fakes";
import { converseGenerator, type ConverseSettings } from "../../functions/fulfillment/converse";
import { GenerationError, MESSAGES, toGenerationError } from "../../functions/fulfillment/errors";
import type { GenerateRequest, GenerateSink } from "../../functions/fulfillment/generate";
import { StreamGuard } from "../../functions/fulfillment/guard";
import { knowledgeBaseGenerator } from "../../functions/fulfillment/knowledge-base";

const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
const DELTAS = ["Hel", "lo ", "wörld", " — ", "日本語", "👩‍💻", "🚀 ", "e\u0301", " done."];
const settings: ConverseSettings = {
  modelId: "anthropic.claude-3-haiku-20240307-v1:0",
  systemPrompt: "Be brief.",
  inference: { maxTokens: 300, temperature: 0 },
};

function request(overrides: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    question: "How does streaming work?",
    history: [{ question: "Hi", answer: "Hello." }],
    sessionId: "s-1",
    requestId: "r-1",
    streaming: true,
    ...overrides,
  };
}

function sink() {
  const deltas: string[] = [];
  const citations: unknown[] = [];
  const guardrails: string[] = [];
  const value: GenerateSink = {
    delta: (text) => void deltas.push(text),
    citation: (c) => void citations.push(...c),
    guardrail: (action) => void guardrails.push(action),
  };
  return { value, deltas, citations, guardrails };
}

const guardrail: GuardrailSettings = { id: "gr12345abcde", version: "2", streamProcessingMode: "async" };
const kbSettings = {
  knowledgeBaseId: "KB12345678",
  modelArn: "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
  inference: {},
};

/** Over the wire: the real SDK v3 clients (HTTP/2, event-stream framing) against the local Bedrock emulator. */
describe("fulfillment: Bedrock adapters over the wire (local emulator)", () => {
  let emulator: BedrockEmulator;
  let runtime: BedrockRuntimeClient;
  let agent: BedrockAgentRuntimeClient;
  const guard = (stallMs = 10_000) => new StreamGuard({ stallMs });

  before(async () => {
    emulator = await startBedrockEmulator({ deltasPerSecond: 0, firstTokenDelayMs: 0 });
    const config = { endpoint: emulator.endpoint, region: "us-east-1", credentials: CREDENTIALS, maxAttempts: 1 };
    runtime = new BedrockRuntimeClient(config);
    agent = new BedrockAgentRuntimeClient(config);
  });
  after(async () => {
    runtime.destroy();
    agent.destroy();
    await emulator.close();
  });
  afterEach(() => emulator.setBehavior({}));

  it("ConverseStream: every delta, in order, then stop reason and usage; the request carries system, config and history", async () => {
    emulator.enqueue({ deltas: DELTAS, stopReason: "max_tokens" });
    const { value, deltas } = sink();
    const result = await converseGenerator(runtime, settings).generate(request(), value, guard());
    expect(deltas.join("")).to.equal(DELTAS.join(""));
    expect(result.text).to.equal(DELTAS.join(""));
    expect(result.stopReason).to.equal("max_tokens");
    expect(result.usage?.outputTokens).to.be.a("number");
    const body = emulator.requests.at(-1)?.body as Record<string, unknown>;
    expect(body.system).to.deep.equal([{ text: "Be brief." }]);
    expect(body.inferenceConfig).to.deep.equal({ maxTokens: 300, temperature: 0 });
    expect(body.messages).to.have.length(3);
  });

  it("Converse (streaming off): the same text in one response", async () => {
    emulator.enqueue({ deltas: DELTAS });
    const result = await converseGenerator(runtime, settings).generate(request({ streaming: false }), sink().value, guard());
    expect(result).to.include({ text: DELTAS.join(""), stopReason: "end_turn" });
    expect(emulator.requests.at(-1)?.operation).to.equal("Converse");
  });

  it("an in-stream modelStreamErrorException becomes a retryable model_error after the deltas before it", async () => {
    emulator.enqueue({ deltas: DELTAS, streamError: { afterDeltas: 2, type: "modelStreamErrorException" } });
    const { value, deltas } = sink();
    const error = await converseGenerator(runtime, settings).generate(request(), value, guard()).catch(toGenerationError);
    expect(deltas).to.deep.equal(DELTAS.slice(0, 2));
    expect(error).to.include({ code: "model_error", retryable: true });
  });

  it("a 429 ThrottlingException before the stream becomes throttled", async () => {
    emulator.enqueue({ httpError: { type: "ThrottlingException" } });
    const error = await converseGenerator(runtime, settings).generate(request(), sink().value, guard()).catch(toGenerationError);
    expect(error).to.include({ code: "throttled", retryable: true });
  });

  // A model that cannot be used as configured (issue 23): the asker gets one line naming the cause
  // and the fix, never "temporarily unavailable". Messages as Bedrock sends them (see errors.ts).
  for (const [type, status, message, expected] of [
    ["ValidationException", 400, "The provided model identifier is invalid.", MESSAGES.modelNotFound],
    ["ValidationException", 400, "Invocation of model ID anthropic.claude-3-7-sonnet-20250219-v1:0 with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model.", MESSAGES.needsInferenceProfile],
    ["AccessDeniedException", 403, "You don't have access to the model with the specified model ID.", MESSAGES.noModelAccess],
    ["ResourceNotFoundException", 404, "Model use case details have not been submitted for this account. Fill out the Anthropic use case details form before using the model.", MESSAGES.noModelAccess],
  ] as const) {
    it(`${type} "${message.slice(0, 40)}…" names the cause and the fix`, async () => {
      emulator.enqueue({ httpError: { type, status, message } });
      const error = await converseGenerator(runtime, settings).generate(request(), sink().value, guard()).catch(toGenerationError);
      expect(error).to.include({ code: "model_error", retryable: false, message: expected });
      expect((error as GenerationError).detail).to.equal(`${type}: ${message}`);
    });
  }

  it("an endpoint whose name does not resolve (a wrong Region, no network) says so, with the fix", async () => {
    // .invalid never resolves (RFC 2606).
    const nowhere = new BedrockRuntimeClient({ region: "us-east-1", endpoint: "https://bedrock-runtime.example.invalid", credentials: CREDENTIALS, maxAttempts: 1 });
    try {
      const error = await converseGenerator(nowhere, settings).generate(request(), sink().value, guard()).catch(toGenerationError);
      expect(error).to.include({ code: "model_error", retryable: true, message: MESSAGES.unreachable });
      expect((error as GenerationError).detail).to.match(/ENOTFOUND|EAI_AGAIN/);
    } finally {
      nowhere.destroy();
    }
  });

  it("a stream broken off mid-answer is a retryable model_error, not a short answer", async () => {
    emulator.enqueue({ deltas: DELTAS, reset: { afterDeltas: 3 } });
    const error = await converseGenerator(runtime, settings).generate(request(), sink().value, guard()).catch(toGenerationError);
    expect(error).to.include({ code: "model_error", retryable: true });
  });

  it("a stalled stream is ended as stalled and the request aborted", async () => {
    emulator.enqueue({ deltas: DELTAS, stall: { afterDeltas: 2 } });
    const { value, deltas } = sink();
    const error = await converseGenerator(runtime, settings).generate(request(), value, guard(500)).catch(toGenerationError);
    expect(error).to.include({ code: "stalled", retryable: true });
    expect(deltas).to.deep.equal(DELTAS.slice(0, 2));
    expect(await emulator.requests.at(-1)?.settled).to.equal("aborted");
  });

  // Issue 21, finding 3: under 500 local sessions the emulator accepted one connection per
  // event-loop turn (libuv accepts once per iteration: libuv/libuv#3696), so requests waited
  // tens of seconds before Bedrock had them, and the stall clock, started at send, ended them
  // `stalled`. Silence is the model's only once it has answered; the time budget bounds the rest.
  it("the stall bound starts with Bedrock's response: a response later than stallMs is not a stall (ConverseStream)", async () => {
    emulator.enqueue({ deltas: DELTAS, responseDelayMs: 1_500 });
    const { value, deltas } = sink();
    const result = await converseGenerator(runtime, settings).generate(request(), value, guard(300));
    expect(deltas.join("")).to.equal(DELTAS.join(""));
    expect(result.stopReason).to.equal("end_turn");
  });

  it("the stall bound starts with Bedrock's response: a response later than stallMs is not a stall (RetrieveAndGenerateStream)", async () => {
    emulator.enqueue({ deltas: ["Late ", "but whole."], responseDelayMs: 1_500 });
    const { value, deltas } = sink();
    await knowledgeBaseGenerator(agent, kbSettings).generate(request(), value, guard(300));
    expect(deltas.join("")).to.equal("Late but whole.");
  });

  it("a response that never comes ends with the time budget, not a hang", async () => {
    emulator.enqueue({ deltas: DELTAS, responseDelayMs: 60_000 });
    const error = await converseGenerator(runtime, settings)
      .generate(request(), sink().value, new StreamGuard({ stallMs: 300, deadlineAt: Date.now() + 1_000 }))
      .catch(toGenerationError);
    expect(error).to.include({ code: "timeout", retryable: true });
    expect(await emulator.requests.at(-1)?.settled).to.equal("aborted");
  });

  it("RetrieveAndGenerateStream: text, mapped citations, and the knowledge-base session id sent back on the follow-up", async () => {
    const kb = knowledgeBaseGenerator(agent, {
      knowledgeBaseId: "KB12345678",
      modelArn: "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
      inference: {},
    });
    emulator.enqueue({
      deltas: ["Streaming ", "uses WebSockets."],
      citations: [{ text: "uses WebSockets.", references: [{ uri: "s3://local-documents/streaming.md", text: "WebSockets" }] }],
    });
    const { value, deltas, citations } = sink();
    const first = await kb.generate(request(), value, guard());
    expect(deltas.join("")).to.equal("Streaming uses WebSockets.");
    expect(first.text).to.equal("Streaming uses WebSockets.");
    expect(citations).to.deep.equal([{ text: "uses WebSockets.", sources: [{ uri: "s3://local-documents/streaming.md", snippet: "WebSockets" }] }]);
    expect(first.kbSessionId).to.be.a("string").and.not.equal("");

    await kb.generate(request({ kbSessionId: first.kbSessionId, streaming: false }), sink().value, guard());
    expect((emulator.requests.at(-1)?.body as { sessionId?: string }).sessionId).to.equal(first.kbSessionId);
    expect(emulator.requests.at(-1)?.operation).to.equal("RetrieveAndGenerate");
  });

  describe("Bedrock Guardrails (guardrails-streaming.html; ConverseStream GuardrailStreamConfiguration; RetrieveAndGenerate guardrailConfiguration)", () => {
    it("ConverseStream sends the guardrail with its stream processing mode; a blocked question is the guardrail's message", async () => {
      emulator.enqueue({ deltas: DELTAS, guardrailIntervention: {} });
      const { value, deltas, guardrails } = sink();
      const result = await converseGenerator(runtime, { ...settings, guardrail }).generate(request(), value, guard());
      expect((emulator.requests.at(-1)?.body as Record<string, unknown>).guardrailConfig).to.deep.equal({
        guardrailIdentifier: "gr12345abcde",
        guardrailVersion: "2",
        streamProcessingMode: "async",
      });
      expect(deltas.join("")).to.equal(DEFAULT_BLOCKED_MESSAGE);
      expect(guardrails).to.deep.equal(["INTERVENED"]);
      expect(result).to.include({ text: DEFAULT_BLOCKED_MESSAGE, stopReason: "guardrail_intervened", guardrailAction: "INTERVENED" });
    });

    it("ConverseStream: an answer blocked mid-stream keeps what was streamed, then the guardrail's message", async () => {
      emulator.enqueue({ deltas: DELTAS, guardrailIntervention: { afterDeltas: 2, message: "Blocked." } });
      const { value, deltas, guardrails } = sink();
      const result = await converseGenerator(runtime, { ...settings, guardrail: { ...guardrail, streamProcessingMode: "sync" } }).generate(
        request(),
        value,
        guard(),
      );
      expect(((emulator.requests.at(-1)?.body as Record<string, { streamProcessingMode?: string }>).guardrailConfig).streamProcessingMode).to.equal("sync");
      expect(deltas).to.deep.equal([...DELTAS.slice(0, 2), "Blocked."]);
      expect(guardrails).to.deep.equal(["INTERVENED"]);
      expect(result.text).to.equal(`${DELTAS.slice(0, 2).join("")}Blocked.`);
    });

    it("ConverseStream: an intervention without text still ends in a clear answer", async () => {
      emulator.enqueue({ deltas: DELTAS, guardrailIntervention: { message: "" } });
      const { value, deltas } = sink();
      const result = await converseGenerator(runtime, { ...settings, guardrail }).generate(request(), value, guard());
      expect(deltas.join("")).to.equal(GUARDRAIL_FALLBACK_ANSWER);
      expect(result.text).to.equal(GUARDRAIL_FALLBACK_ANSWER);
    });

    it("Converse (streaming off): the guardrail without a processing mode, and the intervention in the result", async () => {
      emulator.enqueue({ deltas: DELTAS, guardrailIntervention: {} });
      const result = await converseGenerator(runtime, { ...settings, guardrail }).generate(request({ streaming: false }), sink().value, guard());
      expect((emulator.requests.at(-1)?.body as Record<string, unknown>).guardrailConfig).to.deep.equal({
        guardrailIdentifier: "gr12345abcde",
        guardrailVersion: "2",
      });
      expect(result).to.include({ text: DEFAULT_BLOCKED_MESSAGE, stopReason: "guardrail_intervened", guardrailAction: "INTERVENED" });
    });

    it("RetrieveAndGenerateStream sends the guardrail (id, version) and reports its guardrail event", async () => {
      emulator.enqueue({ deltas: ["Streaming ", "uses WebSockets."], guardrailIntervention: { afterDeltas: 1 } });
      const { value, deltas, guardrails } = sink();
      const kb = knowledgeBaseGenerator(agent, { ...kbSettings, guardrail: { ...guardrail, id: "arn:aws:bedrock:us-east-1:123456789012:guardrail/gr12345abcde" } });
      const result = await kb.generate(request(), value, guard());
      const body = emulator.requests.at(-1)?.body as {
        retrieveAndGenerateConfiguration: { knowledgeBaseConfiguration: { generationConfiguration: unknown } };
      };
      expect(body.retrieveAndGenerateConfiguration.knowledgeBaseConfiguration.generationConfiguration).to.deep.equal({
        guardrailConfiguration: { guardrailId: "gr12345abcde", guardrailVersion: "2" },
      });
      expect(deltas).to.deep.equal(["Streaming ", DEFAULT_BLOCKED_MESSAGE]);
      expect(guardrails).to.deep.equal(["INTERVENED"]);
      expect(result).to.include({ stopReason: "guardrail_intervened", guardrailAction: "INTERVENED" });
    });

    it("without a guardrail in the request, Bedrock (and the emulator) cannot intervene", async () => {
      emulator.enqueue({ deltas: DELTAS, guardrailIntervention: {} });
      const result = await converseGenerator(runtime, settings).generate(request(), sink().value, guard());
      expect(result).to.include({ text: DELTAS.join(""), stopReason: "end_turn" });
      expect(result.guardrailAction).to.equal(undefined);
    });

    it("reaches a format=json client as a guardrail envelope, then an end whose final answer is the guardrail's", async () => {
      const ask: AnswerRequest = {
        question: "Tell me something forbidden",
        sessionId: "us-east-1:11111111-2222-3333-4444-555555555555",
        principal: "cognito:us-east-1:11111111-2222-3333-4444-555555555555",
        mode: "llm",
        requestId: "req-g",
      };
      const store = new MemoryConnectionsStore();
      const [json] = await store.seed(ask.sessionId, ask.principal!, ["json"]);
      const transport = new FakeTransport();
      const openStream = createStreamOpener({ store, transport, clock: new FakeClock(), logger: new RecordingLogger(), options: { report: () => undefined } });
      emulator.enqueue({ deltas: DELTAS, guardrailIntervention: {} });
      const result = await answer(ask, {
        generators: { llm: converseGenerator(runtime, { ...settings, guardrail }) },
        openStream,
        stallMs: 10_000,
      });
      const envelopes = transport.envelopesOf(json);
      expect(envelopes.find((e) => e.type === "guardrail")).to.include({ type: "guardrail", action: "INTERVENED", requestId: "req-g" });
      expect(envelopes.at(-1)).to.include({ type: "end", stopReason: "guardrail_intervened", final: result.answer });
      expect(result.answer).to.include(DEFAULT_BLOCKED_MESSAGE);
    });
  });
});
