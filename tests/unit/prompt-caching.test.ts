import { expect } from "chai";
import { converseInput, converseStreamInput, type ConverseSettings } from "../../functions/fulfillment/converse";
import { loadConfig } from "../../functions/fulfillment/config";
import { retrieveAndGenerateInput } from "../../functions/fulfillment/knowledge-base";
import {
  applyModelTier,
  cacheCheckpointMinTokens,
  cachesPrompt,
  foundationModelId,
  withCachePoints,
} from "../../functions/fulfillment/prompt-caching";
import { ENV } from "../../functions/shared/env";

const CACHE_POINT = { cachePoint: { type: "default" } };
const HISTORY = [
  { question: "Who are you?", answer: "A bot." },
  { question: "Where?", answer: "Here." },
];
/** Claude 3.5 Haiku takes checkpoints (2,048 tokens minimum); Claude 3 Haiku, the deployed default, does not (user guide table). */
const CACHING_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0";
const PLAIN_MODEL = "anthropic.claude-3-haiku-20240307-v1:0";

function settings(modelId: string, extra: Partial<ConverseSettings> = {}): ConverseSettings {
  return { modelId, systemPrompt: "Answer from the FAQ.", inference: {}, ...extra };
}

describe("prompt caching: where cache checkpoints go (request shaping)", () => {
  it("puts a checkpoint after the system prompt and after each answer so far, none after the question", () => {
    const input = converseInput(settings(CACHING_MODEL), HISTORY, "And now?");
    expect(input.system).to.deep.equal([{ text: "Answer from the FAQ." }, CACHE_POINT]);
    expect(input.messages).to.deep.equal([
      { role: "user", content: [{ text: "Who are you?" }] },
      { role: "assistant", content: [{ text: "A bot." }, CACHE_POINT] },
      { role: "user", content: [{ text: "Where?" }] },
      { role: "assistant", content: [{ text: "Here." }, CACHE_POINT] },
      { role: "user", content: [{ text: "And now?" }] },
    ]);
  });

  it("keeps to Bedrock's four checkpoints: the system prompt's and the latest answers'", () => {
    const history = Array.from({ length: 5 }, (_, i) => ({ question: `q${i}`, answer: `a${i}` }));
    const marked = (input: ReturnType<typeof converseInput>) =>
      (input.messages ?? []).flatMap((m) => (m.content?.some((b) => "cachePoint" in b && b.cachePoint) ? [m.content[0].text] : []));
    expect(marked(converseInput(settings(CACHING_MODEL), history, "q"))).to.deep.equal(["a2", "a3", "a4"]);
    expect(marked(converseInput(settings(CACHING_MODEL, { systemPrompt: undefined }), history, "q"))).to.deep.equal(["a1", "a2", "a3", "a4"]);
  });

  it("a first question caches the system prompt only; no system prompt and no history: no checkpoint at all", () => {
    expect(converseInput(settings(CACHING_MODEL), [], "Q?").messages).to.deep.equal([{ role: "user", content: [{ text: "Q?" }] }]);
    expect(converseInput(settings(CACHING_MODEL), [], "Q?").system).to.deep.equal([{ text: "Answer from the FAQ." }, CACHE_POINT]);
    const bare = converseInput(settings(CACHING_MODEL, { systemPrompt: undefined }), [], "Q?");
    expect(bare).to.not.have.property("system");
    expect(JSON.stringify(bare)).to.not.include("cachePoint");
  });

  it("auto sends none to a model Bedrock documents no caching for; on sends them anyway; off never", () => {
    expect(JSON.stringify(converseInput(settings(PLAIN_MODEL), HISTORY, "Q?"))).to.not.include("cachePoint");
    expect(JSON.stringify(converseInput(settings(PLAIN_MODEL, { tier: { promptCaching: "on" } }), HISTORY, "Q?"))).to.include("cachePoint");
    expect(JSON.stringify(converseInput(settings(CACHING_MODEL, { tier: { promptCaching: "off" } }), HISTORY, "Q?"))).to.not.include("cachePoint");
    expect(cachesPrompt("auto", "meta.llama3-70b-instruct-v1:0")).to.equal(false);
    expect(cachesPrompt("auto", "amazon.nova-pro-v1:0")).to.equal(true);
  });

  it("knows the model behind an inference profile id or ARN, with the documented minimum per checkpoint", () => {
    expect(foundationModelId("eu.anthropic.claude-3-7-sonnet-20250219-v1:0")).to.equal("anthropic.claude-3-7-sonnet-20250219-v1:0");
    expect(foundationModelId("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0")).to.equal("amazon.nova-lite-v1:0");
    expect(cacheCheckpointMinTokens(CACHING_MODEL)).to.equal(2048);
    expect(cacheCheckpointMinTokens("global.anthropic.claude-sonnet-4-5-20250929-v1:0")).to.equal(4096);
    expect(cacheCheckpointMinTokens(PLAIN_MODEL)).to.equal(undefined);
    expect(cacheCheckpointMinTokens("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0")).to.equal(1000);
    expect(cachesPrompt("auto", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6")).to.equal(false);
  });

  it("lists the models and minimums of Bedrock's table as docs/deploy-and-configuration.md names them", () => {
    const minimums = {
      "anthropic.claude-3-5-haiku-20241022-v1:0": 2048,
      "anthropic.claude-3-7-sonnet-20250219-v1:0": 1024,
      "anthropic.claude-sonnet-4-20250514-v1:0": 1024,
      "anthropic.claude-sonnet-4-6": 1024,
      "anthropic.claude-opus-4-20250514-v1:0": 1024,
      "anthropic.claude-opus-4-1-20250805-v1:0": 1024,
      "anthropic.claude-sonnet-4-5-20250929-v1:0": 4096,
      "anthropic.claude-haiku-4-5-20251001-v1:0": 4096,
      "anthropic.claude-opus-4-5-20251101-v1:0": 4096,
      "anthropic.claude-opus-4-6-v1": 4096,
      "amazon.nova-micro-v1:0": 1000,
      "amazon.nova-lite-v1:0": 1000,
      "amazon.nova-pro-v1:0": 1000,
      "amazon.nova-premier-v1:0": 1000,
    };
    for (const [model, minimum] of Object.entries(minimums)) expect(cacheCheckpointMinTokens(`us.${model}`), model).to.equal(minimum);
    expect(Object.keys(minimums).length).to.equal(14);
  });

  it("leaves knowledge-base answers without checkpoints or tier (RetrieveAndGenerate takes neither); their latency goes in generationConfiguration", () => {
    const settings = { knowledgeBaseId: "KB12345678", modelArn: `arn:aws:bedrock:us-east-1::foundation-model/${CACHING_MODEL.slice(3)}`, inference: {} };
    const input = retrieveAndGenerateInput(settings, "Q?");
    expect(JSON.stringify(input)).to.not.include("cachePoint");
    expect(input.retrieveAndGenerateConfiguration?.knowledgeBaseConfiguration).to.not.have.property("generationConfiguration");
    const fast = retrieveAndGenerateInput({ ...settings, latency: "optimized" }, "Q?");
    expect(fast.retrieveAndGenerateConfiguration?.knowledgeBaseConfiguration?.generationConfiguration).to.deep.equal({ performanceConfig: { latency: "optimized" } });
  });

  it("does not change the input it is given", () => {
    const input = { modelId: CACHING_MODEL, system: [{ text: "s" }], messages: [{ role: "assistant" as const, content: [{ text: "a" }] }, { role: "user" as const, content: [{ text: "q" }] }] };
    const before = JSON.stringify(input);
    withCachePoints(input);
    expect(JSON.stringify(input)).to.equal(before);
  });
});

describe("service tier and latency (request shaping)", () => {
  it("sends performanceConfig and serviceTier only when set, on ConverseStream as on Converse", () => {
    const plain = converseStreamInput(settings(PLAIN_MODEL), [], "Q?");
    expect(plain).to.not.have.property("performanceConfig");
    expect(plain).to.not.have.property("serviceTier");
    const tiered = converseStreamInput(settings(PLAIN_MODEL, { tier: { promptCaching: "auto", latency: "optimized", serviceTier: "flex" } }), [], "Q?");
    expect(tiered.performanceConfig).to.deep.equal({ latency: "optimized" });
    expect(tiered.serviceTier).to.deep.equal({ type: "flex" });
    expect(applyModelTier({ modelId: "m", messages: [] }, { promptCaching: "off", serviceTier: "priority" })).to.deep.equal({ modelId: "m", messages: [], serviceTier: { type: "priority" } });
  });

  it("refuses an unknown mode, latency or tier at cold start, naming the variable", () => {
    expect(() => loadConfig({ [ENV.promptCaching]: "yes" })).to.throw(/PROMPT_CACHING must be one of auto, on, off, got "yes"/);
    expect(() => loadConfig({ [ENV.bedrockLatency]: "fast" })).to.throw(/BEDROCK_LATENCY must be one of standard, optimized/);
    expect(() => loadConfig({ [ENV.bedrockServiceTier]: "gold" })).to.throw(/BEDROCK_SERVICE_TIER must be one of default, flex, priority, reserved/);
  });
});
