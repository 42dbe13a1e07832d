/**
 * The Bedrock emulator's extended thinking, through the real SDK v3 client. Reasoning streams
 * as `contentBlockDelta.delta.reasoningContent.text`, then a `signature`, in a content block
 * before the text's
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ReasoningContentBlockDelta.html);
 * thinking is refused for a model that cannot think, a budget under 1,024 tokens or not under
 * maxTokens, and a temperature or topP set beside it
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html).
 */
import { expect } from "chai";
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  ValidationException,
  type ConverseStreamCommandInput,
  type ConverseStreamOutput,
} from "@aws-sdk/client-bedrock-runtime";
import { startBedrockEmulator, type BedrockEmulator } from "../../local/bedrock";
import { STAND_IN_REASONING_NOTICE } from "../../local/bedrock/thinking";
import { converseGenerator } from "../../functions/fulfillment/converse";
import { StreamGuard } from "../../functions/fulfillment/guard";
import type { GenerateSink } from "../../functions/fulfillment/generate";

const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
const THINKER = "us.anthropic.claude-sonnet-4-20250514-v1:0";
const NON_THINKER = "us.anthropic.claude-3-5-haiku-20241022-v1:0";

function input(modelId: string, fields: Partial<ConverseStreamCommandInput> = {}): ConverseStreamCommandInput {
  return {
    modelId,
    messages: [{ role: "user", content: [{ text: "How does streaming work?" }] }],
    inferenceConfig: { maxTokens: 4096 },
    additionalModelRequestFields: { thinking: { type: "enabled", budget_tokens: 1024 } },
    ...fields,
  };
}

async function collect(stream: AsyncIterable<ConverseStreamOutput> | undefined): Promise<ConverseStreamOutput[]> {
  const events: ConverseStreamOutput[] = [];
  for await (const event of stream ?? []) events.push(event);
  return events;
}

describe("Bedrock emulator: extended thinking (SDK v3 client)", () => {
  let emulator: BedrockEmulator;
  let client: BedrockRuntimeClient;

  before(async () => {
    emulator = await startBedrockEmulator({ deltasPerSecond: 0, firstTokenDelayMs: 0 });
    client = new BedrockRuntimeClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials: CREDENTIALS, maxAttempts: 1 });
  });
  after(async () => {
    client.destroy();
    await emulator.close();
  });

  it("streams the reasoning in block 0, signed and closed, then the answer in block 1; thinking tokens count as output", async () => {
    emulator.enqueue({ deltas: ["The ", "answer."], reasoning: ["First ", "I think."] });
    const events = await collect((await client.send(new ConverseStreamCommand(input(THINKER)))).stream);
    const reasoning = events.filter((e) => e.contentBlockDelta?.delta?.reasoningContent?.text);
    expect(reasoning.map((e) => e.contentBlockDelta!.delta!.reasoningContent!.text).join("")).to.equal("First I think.");
    expect(reasoning.every((e) => e.contentBlockDelta!.contentBlockIndex === 0)).to.equal(true);
    const signature = events.findIndex((e) => e.contentBlockDelta?.delta?.reasoningContent?.signature);
    const firstText = events.findIndex((e) => e.contentBlockDelta?.delta?.text);
    expect(signature).to.be.greaterThan(0).and.lessThan(firstText);
    expect(events[signature + 1].contentBlockStop?.contentBlockIndex).to.equal(0);
    const text = events.filter((e) => e.contentBlockDelta?.delta?.text);
    expect(text.map((e) => e.contentBlockDelta!.delta!.text).join("")).to.equal("The answer.");
    expect(text.every((e) => e.contentBlockDelta!.contentBlockIndex === 1)).to.equal(true);
    expect(events.at(-1)?.metadata?.usage?.outputTokens).to.equal(4);
  });

  it("the stand-in thinks aloud by default, saying what it is; Converse returns it as a reasoningContent block", async () => {
    const events = await collect((await client.send(new ConverseStreamCommand(input(THINKER)))).stream);
    const thought = events.map((e) => e.contentBlockDelta?.delta?.reasoningContent?.text ?? "").join("");
    expect(thought.startsWith(STAND_IN_REASONING_NOTICE)).to.equal(true);
    const response = await client.send(new ConverseCommand(input(THINKER)));
    expect(response.output?.message?.content?.[0].reasoningContent?.reasoningText?.text).to.equal(thought);
  });

  it("streams no reasoning when thinking is not asked for", async () => {
    const events = await collect((await client.send(new ConverseStreamCommand(input(THINKER, { additionalModelRequestFields: undefined })))).stream);
    expect(events.some((e) => e.contentBlockDelta?.delta?.reasoningContent)).to.equal(false);
  });

  for (const [what, request, message] of [
    ["a model that cannot think", input(NON_THINKER), /thinking: Extra inputs are not permitted/],
    ["a budget under 1,024 tokens", input(THINKER, { additionalModelRequestFields: { thinking: { type: "enabled", budget_tokens: 1000 } } }), /greater than or equal to 1024/],
    ["a budget not under maxTokens", input(THINKER, { inferenceConfig: { maxTokens: 1024 } }), /max_tokens` must be greater than `thinking.budget_tokens/],
    ["a temperature beside thinking", input(THINKER, { inferenceConfig: { maxTokens: 4096, temperature: 0.2 } }), /temperature/],
  ] as const) {
    it(`refuses thinking with ${what}: ValidationException, nothing streamed`, async () => {
      const error = await client.send(new ConverseStreamCommand(request)).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ValidationException);
      expect((error as Error).message).to.match(message);
    });
  }

  it("the fulfillment's Converse adapter reports the reasoning to its sink only when the ask wants it and the stack allows it", async () => {
    const run = async (reasoningAllowed: boolean, asked: boolean) => {
      emulator.enqueue({ deltas: ["Yes."], reasoning: ["Hmm."] });
      const thoughts: string[] = [];
      const deltas: string[] = [];
      const sink: GenerateSink = { delta: (t) => void deltas.push(t), citation: () => undefined, guardrail: () => undefined, reasoning: (t) => void thoughts.push(t) };
      const generator = converseGenerator(client, {
        modelId: THINKER,
        inference: { maxTokens: 500, temperature: 0.3 },
        ...(reasoningAllowed ? { reasoning: { budgetTokens: 2048 } } : {}),
      });
      const result = await generator.generate(
        { question: "Q?", history: [], sessionId: "s", requestId: "r", streaming: true, reasoning: asked },
        sink,
        new StreamGuard({ stallMs: 10_000 }),
      );
      return { thoughts: thoughts.join(""), text: result.text, body: emulator.requests.at(-1)!.body as Record<string, unknown> };
    };
    const on = await run(true, true);
    expect(on).to.deep.include({ thoughts: "Hmm.", text: "Yes." });
    // The answer keeps its 500 tokens on top of the thinking budget; temperature goes, as thinking requires.
    expect(on.body.inferenceConfig).to.deep.equal({ maxTokens: 2548 });
    expect(on.body.additionalModelRequestFields).to.deep.equal({ thinking: { type: "enabled", budget_tokens: 2048 } });
    for (const [allowed, asked] of [[true, false], [false, true]]) {
      const off = await run(allowed, asked);
      expect(off.thoughts).to.equal("");
      expect(off.body.additionalModelRequestFields).to.equal(undefined);
      expect(off.body.inferenceConfig).to.deep.equal({ maxTokens: 500, temperature: 0.3 });
    }
  });
});
