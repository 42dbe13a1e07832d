import { expect } from "chai";
import { toGenerationError } from "../../functions/fulfillment/errors";
import type { GenerateRequest, GenerateSink } from "../../functions/fulfillment/generate";
import { StreamGuard } from "../../functions/fulfillment/guard";
import {
  HOOK_MESSAGES,
  generatedText,
  fillPromptTemplate,
  hookGenerator,
  hookPayload,
  parseModelParameters,
  hookPrompt,
  type HookOptions,
  type LambdaInvoker,
} from "../../functions/fulfillment/hook";
import { ManualClock, fakeClient } from "./fulfillment-fakes";

const options: HookOptions = {
  functionArn: "arn:aws:lambda:us-east-1:123456789012:function:my-llm",
  systemPrompt: "Be brief.",
  inference: { temperature: 0, maxTokens: 256 },
  streaming: { endpoint: "https://abc123.execute-api.us-east-1.amazonaws.com/Prod", connectionsTable: "stack-connections" },
};

const request: GenerateRequest = {
  question: "What is QnABot?",
  history: [{ question: "Hi", answer: "Hello!" }],
  sessionId: "us-east-1:11111111-2222-3333-4444-555555555555",
  principal: "cognito:us-east-1:11111111-2222-3333-4444-555555555555",
  requestId: "req-9",
  streaming: true,
};

function payloadOf(sent: { input: unknown }): Record<string, unknown> {
  return JSON.parse(Buffer.from((sent.input as { Payload: Uint8Array }).Payload).toString("utf8"));
}

const discardingSink: GenerateSink = { delta: () => undefined, citation: () => undefined, guardrail: () => undefined };

const reply = (body: unknown, extra: Record<string, unknown> = {}) => ({ StatusCode: 200, Payload: Buffer.from(JSON.stringify(body)), ...extra });

describe("fulfillment: custom LLM Lambda hook", () => {
  it("invokes the hook synchronously with QnABot's payload and the stack's streaming attributes", async () => {
    const lambda = fakeClient(() => reply({ generated_text: "QnABot is a bot." }));
    const result = await hookGenerator(lambda as unknown as LambdaInvoker, options).generate(
      request,
      discardingSink,
      new StreamGuard({ stallMs: 20_000, clock: new ManualClock() }),
    );
    expect(result).to.deep.equal({ text: "QnABot is a bot.", stopReason: "end_turn", citations: [] });
    expect(lambda.sent[0].name).to.equal("InvokeCommand");
    expect(lambda.sent[0].input).to.include({ FunctionName: options.functionArn, InvocationType: "RequestResponse" });
    expect(payloadOf(lambda.sent[0])).to.deep.equal({
      prompt: "Be brief.\n\nChat history:\nHuman: Hi\nAI: Hello!\n\nHuman: What is QnABot?\n\nAssistant:",
      parameters: { temperature: 0, maxTokens: 256 },
      settings: {
        LLM_API: "LAMBDA",
        LLM_STREAMING_ENABLED: "true",
        LLM_QA_MODEL_PARAMS: JSON.stringify({ temperature: 0, maxTokens: 256 }),
        LLM_SYSTEM_PROMPT: "Be brief.",
      },
      streamingAttributes: {
        sessionId: request.sessionId,
        streamingEndpoint: options.streaming!.endpoint,
        streamingDynamoDbTable: options.streaming!.connectionsTable,
        requestId: "req-9",
        principal: request.principal,
      },
    });
  });

  it("sends streamingAttributes {} when streaming is off", () => {
    expect(hookPayload(options, { ...request, streaming: false }).streamingAttributes).to.deep.equal({});
    expect(hookPayload({ ...options, streaming: undefined }, request).streamingAttributes).to.deep.equal({});
    expect(hookPayload(options, { ...request, streaming: false }).settings.LLM_STREAMING_ENABLED).to.equal("false");
  });

  it("leaves the principal out for a request without one (Lex)", () => {
    expect(hookPayload(options, { ...request, principal: undefined }).streamingAttributes).to.not.have.property("principal");
  });

  it("builds a prompt without history sections when there is none", () => {
    expect(hookPrompt(undefined, [], "Q?")).to.equal("Human: Q?\n\nAssistant:");
  });

  // QnABot's LLM_QA_PROMPT_TEMPLATE: `<br>` line breaks, `{context}`, `{history}`, `{input}`, `{query}`
  // placeholders (QnABot's LLM documentation); LLM_QA_MODEL_PARAMS is a JSON object sent as `parameters`.
  it("fills QnABot's QA prompt template and sends its model parameters and settings", () => {
    const template = "Answer from context.<br>{context}<br>History:<br>{history}<br>Q: {input}<br>Rewritten: {query}";
    const payload = hookPayload({ ...options, promptTemplate: template, modelParameters: { temperature: 0.2, top_p: 0.9 } }, request);
    expect(payload.prompt).to.equal("Answer from context.\n\nHistory:\nHuman: Hi\nAI: Hello!\nQ: What is QnABot?\nRewritten: What is QnABot?");
    expect(payload.parameters).to.deep.equal({ temperature: 0.2, top_p: 0.9 });
    expect(payload.settings).to.include({ LLM_QA_PROMPT_TEMPLATE: template, LLM_QA_MODEL_PARAMS: '{"temperature":0.2,"top_p":0.9}' });
  });

  it("never expands a placeholder that comes from the question or the history", () => {
    const prompt = fillPromptTemplate("{input}|{history}", { history: [{ question: "{input}", answer: "{context}" }], question: "say {history}" });
    expect(prompt).to.equal("say {history}|Human: {input}\nAI: {context}");
  });

  it("refuses model parameters that are not a JSON object, naming the setting", () => {
    for (const raw of ["[1]", "temperature=0", "null", "7"]) {
      expect(() => parseModelParameters(raw), raw).to.throw(/LLM_QA_MODEL_PARAMS must be a JSON object/);
    }
    expect(parseModelParameters("")).to.equal(undefined);
    expect(parseModelParameters('{"temperature":0}')).to.deep.equal({ temperature: 0 });
  });

  it("turns a hook error into a clear, retryable model_error", () => {
    const error = (() => {
      try {
        generatedText(reply({ errorMessage: "Task timed out", errorType: "Error" }, { FunctionError: "Unhandled" }));
      } catch (e) {
        return toGenerationError(e);
      }
    })();
    expect(error).to.include({ code: "model_error", message: HOOK_MESSAGES.failed, retryable: true });
    expect(error?.detail).to.contain("Task timed out");
  });

  for (const [label, body] of [
    ["a payload without generated_text", { text: "wrong field" }],
    ["an empty generated_text", { generated_text: "" }],
    ["a non-string generated_text", { generated_text: 42 }],
    ["a payload that is not JSON", undefined],
  ] as const) {
    it(`refuses ${label} with a clear error`, () => {
      const output = body === undefined ? { StatusCode: 200, Payload: Buffer.from("not json") } : reply(body);
      expect(() => generatedText(output)).to.throw(HOOK_MESSAGES.noText);
    });
  }

  it("gives up on a hook still running at the time budget, as timeout, aborting the invoke", async () => {
    const clock = new ManualClock();
    const lambda = {
      sent: 0,
      send(_command: unknown, sendOptions?: { abortSignal?: AbortSignal }) {
        this.sent++;
        setImmediate(() => clock.advance(8_000));
        return new Promise((_resolve, reject) => sendOptions?.abortSignal?.addEventListener("abort", () => reject(new Error("aborted"))));
      },
    };
    const guard = new StreamGuard({ stallMs: 1_000, deadlineAt: clock.now() + 8_000, clock });
    const error = await hookGenerator(lambda as unknown as LambdaInvoker, options)
      .generate(request, discardingSink, guard)
      .catch(toGenerationError);
    expect(error).to.include({ code: "timeout", retryable: true });
    expect(guard.signal.aborted).to.equal(true);
  });
});
