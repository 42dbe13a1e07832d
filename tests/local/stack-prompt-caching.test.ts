/**
 * Prompt caching over the wire (issue 24): the local stack's real handlers call the Bedrock
 * emulator through @aws-sdk/client-bedrock-runtime, with the settings `npm start` passes. A
 * session's conversation grows past the model's minimum (Claude 3.5 Haiku: 2,048 tokens a
 * checkpoint), is written to the cache on the next question and read on the one after, and
 * `end.usage` carries Bedrock's cache counts to the client (and the token budget's tally).
 */
import { expect } from "chai";
import { DEFAULT_LOCAL_MODEL_ID, startLocalStack, type LocalStack } from "../../local/stack";
import { parseStartArgs, USAGE, UsageError } from "../../local/start";
import { connect, last, QUIET_ENV } from "./stack-helpers";

/** An answer of ~3,000 emulator tokens (four characters each): past the minimum on its own. */
const LONG_ANSWER = Array.from({ length: 1000 }, () => "cacheable ");

describe("npm start: prompt caching, latency and service tier flags", () => {
  it("reads --prompt-caching, --bedrock-latency and --bedrock-service-tier; leaves them unset by default; refuses other values", () => {
    expect(parseStartArgs([])).to.deep.include({ promptCaching: undefined, bedrockLatency: undefined, bedrockServiceTier: undefined });
    expect(parseStartArgs(["--prompt-caching", "off", "--bedrock-latency", "optimized", "--bedrock-service-tier", "flex"])).to.deep.include({
      promptCaching: "off",
      bedrockLatency: "optimized",
      bedrockServiceTier: "flex",
    });
    expect(USAGE).to.include("--prompt-caching auto|on|off").and.include("--bedrock-latency").and.include("--bedrock-service-tier");
    expect(() => parseStartArgs(["--prompt-caching", "yes"])).to.throw(UsageError, /^--prompt-caching must be one of auto, on, off, not "yes"/);
    expect(() => parseStartArgs(["--bedrock-service-tier", "gold"])).to.throw(UsageError, /^--bedrock-service-tier must be one of default, flex, priority, reserved/);
  });
});

describe("local stack: prompt caching and service tier", () => {
  let stack: LocalStack;

  before(async () => {
    stack = await startLocalStack({
      bedrockBehavior: { firstTokenDelayMs: 0, deltasPerSecond: 0, deltas: LONG_ANSWER },
      // As `npm start -- --bedrock-latency optimized --bedrock-service-tier priority` passes them (caching: the default, auto).
      ...parseStartArgs(["--bedrock-latency", "optimized", "--bedrock-service-tier", "priority"]),
      page: false,
      ports: undefined,
      env: QUIET_ENV,
    });
  });
  after(() => stack?.close());

  it("writes the conversation to the cache on the second question and reads it on the third; end.usage shows both", async () => {
    const socket = await connect(stack, "cache-session", { format: "json" });
    try {
      socket.ask("c-1", "What is QnABot?");
      const first = last(await socket.answer("c-1"), "end").usage!;
      expect(first.model).to.equal(DEFAULT_LOCAL_MODEL_ID);
      expect(first, "a first question has nothing before it to cache").to.not.have.property("cacheWriteInputTokens");

      socket.ask("c-2", "And how is it deployed?");
      const second = last(await socket.answer("c-2"), "end").usage!;
      expect(second.cacheWriteInputTokens).to.be.greaterThan(2048);
      expect(second.cacheReadInputTokens).to.equal(0);

      socket.ask("c-3", "And what does it cost?");
      const third = last(await socket.answer("c-3"), "end").usage!;
      expect(third.cacheReadInputTokens, "the prefix the second question wrote").to.equal(second.cacheWriteInputTokens);
      expect(third.cacheWriteInputTokens).to.be.greaterThan(2048);
      expect(third.inputTokens, "only the tokens neither read nor written").to.be.lessThan(100);
    } finally {
      await socket.close();
    }
    const requests = stack.bedrock!.requests.filter((r) => r.operation === "ConverseStream").slice(-3);
    for (const { body } of requests) {
      expect(body).to.deep.include({ performanceConfig: { latency: "optimized" }, serviceTier: { type: "priority" } });
    }
  });

  it("a knowledge-base answer carries the latency in its generation configuration, and no tier or checkpoints", async () => {
    const socket = await connect(stack, "cache-kb", { format: "json" });
    try {
      socket.ask("kb-1", "How do answers stream?", "kb");
      last(await socket.answer("kb-1"), "end");
    } finally {
      await socket.close();
    }
    const body = stack.bedrock!.requests.filter((r) => r.operation === "RetrieveAndGenerateStream").at(-1)!.body as Record<string, unknown>;
    expect(body).to.have.nested.property("retrieveAndGenerateConfiguration.knowledgeBaseConfiguration.generationConfiguration.performanceConfig.latency", "optimized");
    expect(JSON.stringify(body)).to.not.include("cachePoint").and.not.include("serviceTier");
  });
});
