import { expect } from "chai";
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, type ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import {
  BedrockAgentRuntimeClient,
  RetrieveAndGenerateCommand,
  RetrieveAndGenerateStreamCommand,
  type RetrieveAndGenerateStreamResponseOutput,
} from "@aws-sdk/client-bedrock-agent-runtime";
import { DEFAULT_BLOCKED_MESSAGE, startBedrockEmulator, type BedrockEmulator } from "../../local/bedrock";

const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
const DELTAS = ["The ", "secret ", "plan ", "is…"];
const GUARDRAIL_ID = "gr12345abcde";

async function collect<T>(stream: AsyncIterable<T> | undefined): Promise<T[]> {
  const events: T[] = [];
  for await (const event of stream ?? []) events.push(event);
  return events;
}

function converseInput(trace?: "enabled" | "disabled") {
  return {
    modelId: "anthropic.claude-3-haiku-20240307-v1:0",
    messages: [{ role: "user" as const, content: [{ text: "Tell me the secret plan" }] }],
    guardrailConfig: { guardrailIdentifier: GUARDRAIL_ID, guardrailVersion: "1", ...(trace ? { trace } : {}) },
  };
}

const kbInput = {
  input: { text: "Tell me the secret plan" },
  retrieveAndGenerateConfiguration: {
    type: "KNOWLEDGE_BASE" as const,
    knowledgeBaseConfiguration: {
      knowledgeBaseId: "KB12345678",
      modelArn: "arn:aws:bedrock:us-east-1::foundation-model/m",
      generationConfiguration: { guardrailConfiguration: { guardrailId: GUARDRAIL_ID, guardrailVersion: "1" } },
    },
  },
};

/**
 * Event shapes of a guardrail intervention, as the Bedrock API reference gives them:
 * ConverseStream `messageStop.stopReason: "guardrail_intervened"` and, with the trace enabled,
 * `metadata.trace.guardrail` (GuardrailTraceAssessment: inputAssessment / outputAssessments
 * keyed by guardrail id); RetrieveAndGenerateStream a `guardrail` event `{ action: "INTERVENED" }`
 * and RetrieveAndGenerate `guardrailAction`.
 */
describe("bedrock emulator: guardrail interventions (real SDK clients)", () => {
  let emulator: BedrockEmulator;
  let runtime: BedrockRuntimeClient;
  let agent: BedrockAgentRuntimeClient;

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

  it("ConverseStream: a blocked question streams the blocked message, stops guardrail_intervened, traces the input assessment", async () => {
    emulator.enqueue({ deltas: DELTAS, guardrailIntervention: { topic: "Secrets" } });
    const response = await runtime.send(new ConverseStreamCommand(converseInput("enabled")));
    const events: ConverseStreamOutput[] = await collect(response.stream);
    const text = events.map((e) => e.contentBlockDelta?.delta?.text ?? "").join("");
    expect(text).to.equal(DEFAULT_BLOCKED_MESSAGE);
    expect(events.find((e) => e.messageStop)?.messageStop).to.deep.equal({ stopReason: "guardrail_intervened" });
    const metadata = events.find((e) => e.metadata)?.metadata;
    expect(metadata?.trace?.guardrail?.inputAssessment?.[GUARDRAIL_ID]?.topicPolicy?.topics).to.deep.equal([
      { name: "Secrets", type: "DENY", action: "BLOCKED" },
    ]);
  });

  it("ConverseStream: a blocked answer keeps the deltas before it and traces the output assessment", async () => {
    emulator.enqueue({ deltas: DELTAS, guardrailIntervention: { afterDeltas: 2, message: "[blocked]" } });
    const response = await runtime.send(new ConverseStreamCommand(converseInput("enabled")));
    const events: ConverseStreamOutput[] = await collect(response.stream);
    expect(events.map((e) => e.contentBlockDelta?.delta?.text).filter(Boolean)).to.deep.equal(["The ", "secret ", "[blocked]"]);
    const guardrail = events.find((e) => e.metadata)?.metadata?.trace?.guardrail;
    expect(guardrail?.outputAssessments?.[GUARDRAIL_ID]).to.have.length(1);
    expect(guardrail?.modelOutput).to.deep.equal([DELTAS.join("")]);
  });

  it("ConverseStream: no trace unless the request enables it", async () => {
    emulator.enqueue({ deltas: DELTAS, guardrailIntervention: {} });
    const response = await runtime.send(new ConverseStreamCommand(converseInput()));
    const events: ConverseStreamOutput[] = await collect(response.stream);
    expect(events.find((e) => e.messageStop)?.messageStop?.stopReason).to.equal("guardrail_intervened");
    expect(events.find((e) => e.metadata)?.metadata?.trace).to.equal(undefined);
  });

  it("Converse: the blocked message as the output and guardrail_intervened as the stop reason", async () => {
    emulator.enqueue({ deltas: DELTAS, guardrailIntervention: {} });
    const response = await runtime.send(new ConverseCommand(converseInput()));
    expect(response.output?.message?.content?.[0]?.text).to.equal(DEFAULT_BLOCKED_MESSAGE);
    expect(response.stopReason).to.equal("guardrail_intervened");
  });

  it("RetrieveAndGenerateStream: the blocked message as output, then a guardrail event with action INTERVENED", async () => {
    emulator.enqueue({ deltas: DELTAS, guardrailIntervention: {} });
    const response = await agent.send(new RetrieveAndGenerateStreamCommand(kbInput));
    const events: RetrieveAndGenerateStreamResponseOutput[] = await collect(response.stream);
    expect(events.map((e) => e.output?.text).filter(Boolean)).to.deep.equal([DEFAULT_BLOCKED_MESSAGE]);
    expect(events.at(-1)?.guardrail).to.deep.equal({ action: "INTERVENED" });
    expect(events.some((e) => e.citation)).to.equal(false);
  });

  it("RetrieveAndGenerate: the blocked message and guardrailAction INTERVENED", async () => {
    emulator.enqueue({ deltas: DELTAS, guardrailIntervention: {} });
    const response = await agent.send(new RetrieveAndGenerateCommand(kbInput));
    expect(response.output?.text).to.equal(DEFAULT_BLOCKED_MESSAGE);
    expect(response.guardrailAction).to.equal("INTERVENED");
  });

  it("a request that names no guardrail is answered normally, and a bad intervention is refused up front", async () => {
    emulator.enqueue({ deltas: DELTAS, guardrailIntervention: {} });
    const { guardrailConfig: _unused, ...plain } = converseInput();
    const events: ConverseStreamOutput[] = await collect((await runtime.send(new ConverseStreamCommand(plain))).stream);
    expect(events.map((e) => e.contentBlockDelta?.delta?.text ?? "").join("")).to.equal(DELTAS.join(""));
    expect(() => emulator.enqueue({ guardrailIntervention: { afterDeltas: -1 } })).to.throw(/guardrailIntervention.afterDeltas/);
  });
});
