import { expect } from "chai";
import {
  DEFAULT_MEMORY_TTL_SECONDS,
  DEFAULT_MEMORY_TURNS,
  DEFAULT_LEX_ANSWER_BUDGET_MS,
  DEFAULT_STALL_MS,
  GUARDRAIL_ENV,
  loadConfig,
} from "../../functions/fulfillment/config";
import { ENV } from "../../functions/shared/env";

const endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com/Prod";

describe("fulfillment: configuration from the environment", () => {
  it("turns streaming off, memory off and knowledge base off when their variables are unset", () => {
    const config = loadConfig({ [ENV.llmModelId]: "model-1" });
    expect(config).to.deep.include({ streaming: undefined, memory: undefined, knowledgeBase: undefined, hookArn: undefined, stallMs: DEFAULT_STALL_MS, lexAnswerBudgetMs: DEFAULT_LEX_ANSWER_BUDGET_MS, unboundSessionStreaming: false });
    expect(config.llm).to.deep.equal({ modelId: "model-1", systemPrompt: undefined, inference: {}, tier: { promptCaching: "auto" } });
  });

  it("reads every setting the stack sets", () => {
    const config = loadConfig({
      [ENV.streamingEndpoint]: `${endpoint}/`,
      [ENV.connectionsTable]: "connections",
      [ENV.connectionTtlSeconds]: "3600",
      [ENV.streamStallMs]: "15000",
      [ENV.lexAnswerBudgetMs]: "20000",
      [ENV.memoryTable]: "memory",
      [ENV.memoryTurns]: "3",
      [ENV.memoryTtlSeconds]: "600",
      [ENV.llmModelId]: "model-1",
      [ENV.systemPrompt]: "Be brief.",
      [ENV.maxTokens]: "512",
      [ENV.temperature]: "0",
      [ENV.topP]: "0.9",
      [ENV.knowledgeBaseId]: "KB1",
      [ENV.knowledgeBaseModelArn]: "arn:model",
      [ENV.llmLambdaArn]: "arn:hook",
      [ENV.selfFunctionName]: "fulfillment",
      [ENV.outputLinkSchemes]: "https,mailto",
      [ENV.outputImageHosts]: "images.example.com",
      [ENV.unboundSessionStreaming]: "true",
      [ENV.promptCaching]: "off",
      [ENV.bedrockLatency]: "optimized",
      [ENV.bedrockServiceTier]: "priority",
    });
    expect(config).to.deep.equal({
      streaming: { endpoint, connectionsTable: "connections", connectionTtlSeconds: 3600 },
      unboundSessionStreaming: true,
      stallMs: 15000,
      lexAnswerBudgetMs: 20000,
      memory: { tableName: "memory", turns: 3, ttlSeconds: 600 },
      llm: { modelId: "model-1", systemPrompt: "Be brief.", inference: { maxTokens: 512, temperature: 0, topP: 0.9 }, tier: { promptCaching: "off", latency: "optimized", serviceTier: "priority" } },
      knowledgeBase: { knowledgeBaseId: "KB1", modelArn: "arn:model" },
      hookArn: "arn:hook",
      selfFunctionName: "fulfillment",
      output: { linkSchemes: ["https", "mailto"], imageHosts: ["images.example.com"] },
    });
  });

  it("keeps output safety's defaults and names the variable of a bad allowlist", () => {
    expect(loadConfig({}).output).to.deep.equal({ linkSchemes: ["http", "https", "mailto"], imageHosts: [] });
    expect(() => loadConfig({ [ENV.outputLinkSchemes]: "https,javascript" })).to.throw(/OUTPUT_LINK_SCHEMES.*javascript/);
    expect(() => loadConfig({ [ENV.outputImageHosts]: "https://cdn.example.com" })).to.throw(/OUTPUT_IMAGE_HOSTS.*not a host name/);
  });

  it("uses the documented defaults for memory", () => {
    expect(loadConfig({ [ENV.memoryTable]: "memory" }).memory).to.deep.equal({
      tableName: "memory",
      turns: DEFAULT_MEMORY_TURNS,
      ttlSeconds: DEFAULT_MEMORY_TTL_SECONDS,
    });
  });

  for (const [label, env, name] of [
    ["a stall bound that is not a number", { [ENV.streamStallMs]: "soon" }, ENV.streamStallMs],
    ["a zero stall bound", { [ENV.streamStallMs]: "0" }, ENV.streamStallMs],
    ["a Lex answer budget at Lex's 30 s cut", { [ENV.lexAnswerBudgetMs]: "30000" }, ENV.lexAnswerBudgetMs],
    ["a Lex answer budget inside the time budget margin", { [ENV.lexAnswerBudgetMs]: "5000" }, ENV.lexAnswerBudgetMs],
    ["a temperature above 1", { [ENV.temperature]: "1.5" }, ENV.temperature],
    ["fractional max tokens", { [ENV.maxTokens]: "10.5" }, ENV.maxTokens],
    ["an endpoint without its table", { [ENV.streamingEndpoint]: endpoint }, ENV.connectionsTable],
    ["an endpoint without a stage", { [ENV.streamingEndpoint]: "https://abc.example.com", [ENV.connectionsTable]: "t" }, ENV.streamingEndpoint],
    ["a knowledge base without its model ARN", { [ENV.knowledgeBaseId]: "KB1" }, ENV.knowledgeBaseModelArn],
  ] as const) {
    it(`refuses ${label}, naming ${name}`, () => {
      expect(() => loadConfig(env)).to.throw(name);
    });
  }

  describe("guardrail (GUARDRAIL_ID, GUARDRAIL_VERSION, GUARDRAIL_STREAM_PROCESSING_MODE)", () => {
    const kb = { [ENV.knowledgeBaseId]: "KB12345678", [ENV.knowledgeBaseModelArn]: "arn:aws:bedrock:us-east-1::foundation-model/m" };

    it("applies to LLM and knowledge-base answers, with async processing unless sync is asked for", () => {
      const config = loadConfig({ [ENV.llmModelId]: "m", ...kb, [GUARDRAIL_ENV.id]: "gr12345abcde", [GUARDRAIL_ENV.version]: "DRAFT" });
      const expected = { id: "gr12345abcde", version: "DRAFT", streamProcessingMode: "async" };
      expect(config.llm.guardrail).to.deep.equal(expected);
      expect(config.knowledgeBase?.guardrail).to.deep.equal(expected);
      const sync = loadConfig({ [GUARDRAIL_ENV.id]: "gr1", [GUARDRAIL_ENV.version]: "4", [GUARDRAIL_ENV.streamProcessingMode]: "sync" });
      expect(sync.llm.guardrail?.streamProcessingMode).to.equal("sync");
    });

    it("is off without GUARDRAIL_ID", () => {
      expect(loadConfig({ [ENV.llmModelId]: "m", ...kb }).llm).not.to.have.property("guardrail");
    });

    it("fails at cold start on a half or malformed setting, naming the variable", () => {
      expect(() => loadConfig({ [GUARDRAIL_ENV.id]: "gr1" })).to.throw("GUARDRAIL_ID is set but GUARDRAIL_VERSION is not");
      expect(() => loadConfig({ [GUARDRAIL_ENV.version]: "1" })).to.throw(/need GUARDRAIL_ID/);
      expect(() => loadConfig({ [GUARDRAIL_ENV.id]: "Not An Id", [GUARDRAIL_ENV.version]: "1" })).to.throw(/GUARDRAIL_ID must be/);
      expect(() => loadConfig({ [GUARDRAIL_ENV.id]: "gr1", [GUARDRAIL_ENV.version]: "v1" })).to.throw(/GUARDRAIL_VERSION must be/);
      expect(() =>
        loadConfig({ [GUARDRAIL_ENV.id]: "gr1", [GUARDRAIL_ENV.version]: "1", [GUARDRAIL_ENV.streamProcessingMode]: "fast" }),
      ).to.throw(/GUARDRAIL_STREAM_PROCESSING_MODE must be async or sync/);
    });
  });
});
