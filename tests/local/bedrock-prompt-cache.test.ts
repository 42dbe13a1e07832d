/**
 * The Bedrock emulator's prompt caching, latency and service tier, through the real
 * @aws-sdk/client-bedrock-runtime client. Behaviour followed (local/bedrock/prompt-cache.ts
 * cites it): Bedrock User Guide "Prompt caching for faster model inference" — write on first
 * use, read on reuse within the 5-minute TTL that each hit resets, a prefix below the model's
 * minimum tokens not cached but the request still answered, at most 4 checkpoints, and
 * `inputTokens` counting only what was neither read nor written.
 */
import { expect } from "chai";
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseStreamCommandInput,
  type ConverseStreamMetadataEvent,
  type Message,
} from "@aws-sdk/client-bedrock-runtime";
import { BedrockAgentRuntimeClient, RetrieveAndGenerateCommand } from "@aws-sdk/client-bedrock-agent-runtime";
import { startBedrockEmulator, type BedrockEmulator } from "../../local/bedrock";
import { estimateTokens } from "../../local/bedrock/deltas";
import { CACHE_TTL_MS } from "../../functions/fulfillment/prompt-caching";
import { rejection } from "./sdk-rejection";

const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
/** Claude 3.5 Haiku: 2,048 tokens minimum per checkpoint (user guide table). */
const MODEL_ID = "us.anthropic.claude-3-5-haiku-20241022-v1:0";
const CACHE_POINT = { cachePoint: { type: "default" as const } };
/** About 2,500 emulator tokens (four characters each): above Claude 3.5 Haiku's minimum. */
const LONG_SYSTEM = "You answer questions about QnABot from its FAQ. ".repeat(210);

function question(text: string, history: Message[] = []): Message[] {
  return [...history, { role: "user", content: [{ text }] }];
}

function cachedRequest(messages: Message[], system = LONG_SYSTEM): ConverseStreamCommandInput {
  return { modelId: MODEL_ID, system: [{ text: system }, CACHE_POINT], messages };
}

describe("Bedrock emulator: prompt caching, latency and service tier (real SDK client)", () => {
  let emulator: BedrockEmulator;
  let client: BedrockRuntimeClient;
  let now = 1_000_000;

  before(async () => {
    emulator = await startBedrockEmulator({ deltasPerSecond: 0, firstTokenDelayMs: 0, deltas: ["Cached ", "answer."], cacheClock: () => now });
    client = new BedrockRuntimeClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials: CREDENTIALS, maxAttempts: 1 });
  });
  after(async () => {
    client.destroy();
    await emulator.close();
  });

  async function metadata(input: ConverseStreamCommandInput): Promise<ConverseStreamMetadataEvent> {
    const response = await client.send(new ConverseStreamCommand(input));
    let found: ConverseStreamMetadataEvent | undefined;
    for await (const event of response.stream ?? []) if (event.metadata) found = event.metadata;
    return found!;
  }

  it("writes the system prompt on the first question and reads it on the second; inputTokens leaves both out", async () => {
    const system = `${LONG_SYSTEM} (first test)`;
    const systemTokens = estimateTokens(system);
    const first = await metadata(cachedRequest(question("What is QnABot?"), system));
    expect(first.usage).to.deep.include({ cacheWriteInputTokens: systemTokens, cacheReadInputTokens: 0 });
    expect(first.usage!.inputTokens).to.equal(estimateTokens(`${system}\nWhat is QnABot?`) - systemTokens);
    now += CACHE_TTL_MS - 1;
    const second = await metadata(cachedRequest(question("How do I deploy it?"), system));
    expect(second.usage).to.deep.include({ cacheReadInputTokens: systemTokens, cacheWriteInputTokens: 0 });
    expect(second.usage!.inputTokens).to.equal(estimateTokens(`${system}\nHow do I deploy it?`) - systemTokens);
  });

  it("a hit starts the 5-minute TTL afresh; past it the prefix is written again", async () => {
    const system = `${LONG_SYSTEM} (ttl test)`;
    await metadata(cachedRequest(question("Q1"), system));
    now += CACHE_TTL_MS - 1;
    expect((await metadata(cachedRequest(question("Q2"), system))).usage?.cacheReadInputTokens).to.be.greaterThan(0);
    now += CACHE_TTL_MS - 1;
    expect((await metadata(cachedRequest(question("Q3"), system))).usage?.cacheReadInputTokens, "the hit reset the TTL").to.be.greaterThan(0);
    now += CACHE_TTL_MS;
    const expired = await metadata(cachedRequest(question("Q4"), system));
    expect(expired.usage).to.deep.include({ cacheReadInputTokens: 0, cacheWriteInputTokens: estimateTokens(system) });
  });

  it("reads the cached prefix and writes the conversation after it up to the next checkpoint", async () => {
    const system = `${LONG_SYSTEM} (history test)`;
    await metadata(cachedRequest(question("First?"), system));
    const answer = "A long answer. ".repeat(600);
    const history: Message[] = [
      { role: "user", content: [{ text: "First?" }] },
      { role: "assistant", content: [{ text: answer }, CACHE_POINT] },
    ];
    const second = await metadata(cachedRequest(question("Second?", history), system));
    const systemTokens = estimateTokens(system);
    expect(second.usage?.cacheReadInputTokens).to.equal(systemTokens);
    expect(second.usage?.cacheWriteInputTokens).to.equal(estimateTokens(`${system}\nFirst?\n${answer}`) - systemTokens);
  });

  it("does not cache a prefix below the model's minimum, and still answers", async () => {
    const usage = (await metadata(cachedRequest(question("Short?"), "Be brief."))).usage;
    expect(usage).to.deep.include({ cacheReadInputTokens: 0, cacheWriteInputTokens: 0 });
    expect((await metadata(cachedRequest(question("Short?"), "Be brief."))).usage?.cacheReadInputTokens).to.equal(0);
  });

  it("reports no cache fields for a request without checkpoints, as before", async () => {
    const usage = (await metadata({ modelId: MODEL_ID, system: [{ text: LONG_SYSTEM }], messages: question("Q?") })).usage;
    expect(usage).to.not.have.property("cacheReadInputTokens");
    expect(usage).to.not.have.property("cacheWriteInputTokens");
  });

  it("refuses checkpoints on a model without caching (403), a bad cachePoint, a 1-hour TTL the model lacks and more than four (ValidationException)", async () => {
    const unsupported = await rejection(client.send(new ConverseStreamCommand({ ...cachedRequest(question("Q?")), modelId: "anthropic.claude-3-haiku-20240307-v1:0" })));
    expect(unsupported.name).to.equal("AccessDeniedException");
    expect(unsupported.$metadata?.httpStatusCode).to.equal(403);
    const badType = await rejection(client.send(new ConverseStreamCommand({ modelId: MODEL_ID, system: [{ text: "s" }, { cachePoint: { type: "forever" as never } }], messages: question("Q?") })));
    expect(badType.name).to.equal("ValidationException");
    const hourLong = { modelId: MODEL_ID, system: [{ text: "s" }, { cachePoint: { type: "default" as const, ttl: "1h" as const } }], messages: question("Q?") };
    expect((await rejection(client.send(new ConverseStreamCommand(hourLong)))).name, "Claude 3.5 Haiku's row gives 5 minutes only").to.equal("ValidationException");
    await metadata({ ...hourLong, modelId: "us.anthropic.claude-haiku-4-5-20251001-v1:0" });
    const five: ConverseStreamCommandInput = { modelId: MODEL_ID, system: [{ text: "s" }, CACHE_POINT, CACHE_POINT, CACHE_POINT, CACHE_POINT, CACHE_POINT], messages: question("Q?") };
    expect((await rejection(client.send(new ConverseStreamCommand(five)))).name).to.equal("ValidationException");
  });

  it("accepts performanceConfig and serviceTier, echoes them in the metadata event and the Converse response, refuses values outside their enums", async () => {
    const tiered = { modelId: MODEL_ID, messages: question("Q?"), performanceConfig: { latency: "optimized" as const }, serviceTier: { type: "priority" as const } };
    const event = await metadata(tiered);
    expect(event.performanceConfig).to.deep.equal({ latency: "optimized" });
    expect(event.serviceTier).to.deep.equal({ type: "priority" });
    const oneShot = await client.send(new ConverseCommand(tiered));
    expect(oneShot.serviceTier).to.deep.equal({ type: "priority" });
    const badLatency = await rejection(client.send(new ConverseStreamCommand({ ...tiered, performanceConfig: { latency: "fast" as never } })));
    expect(badLatency.name).to.equal("ValidationException");
    expect(badLatency.message).to.include("performanceConfig.latency");
    const badTier = await rejection(client.send(new ConverseStreamCommand({ ...tiered, serviceTier: { type: "gold" as never } })));
    expect(badTier.name).to.equal("ValidationException");
    expect(badTier.message).to.include("serviceTier.type");
  });

  it("RetrieveAndGenerate: takes generationConfiguration.performanceConfig.latency, refuses one outside the enum", async () => {
    const agent = new BedrockAgentRuntimeClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials: CREDENTIALS, maxAttempts: 1 });
    try {
      const ask = (latency: string) =>
        agent.send(
          new RetrieveAndGenerateCommand({
            input: { text: "Q?" },
            retrieveAndGenerateConfiguration: {
              type: "KNOWLEDGE_BASE",
              knowledgeBaseConfiguration: { knowledgeBaseId: "KB12345678", modelArn: "arn:aws:bedrock:us-east-1::foundation-model/m", generationConfiguration: { performanceConfig: { latency: latency as never } } },
            },
          }),
        );
      expect((await ask("optimized")).output?.text).to.be.a("string");
      expect((await rejection(ask("fast"))).name).to.equal("ValidationException");
    } finally {
      agent.destroy();
    }
  });
});
