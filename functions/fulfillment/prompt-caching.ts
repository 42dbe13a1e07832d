/**
 * Prompt caching and the Bedrock service tier for ConverseStream/Converse: where cache
 * checkpoints (`{cachePoint: {type: "default"}}` content blocks) go, which models take them,
 * and the `performanceConfig` / `serviceTier` request fields. Pure: no AWS client here.
 *
 * Bedrock User Guide, "Prompt caching for faster model inference"
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html), section
 * "Supported models, Regions, and limits": a checkpoint caches the whole prompt before it
 * (tools → system → messages); a prefix shorter than the model's minimum is not cached, "your
 * inference will still succeed"; at most 4 checkpoints per request; the cache lives 5 minutes,
 * reset by each hit. With caching, `inputTokens` counts only the tokens neither read from nor
 * written to the cache.
 */
import type { ConverseCommandInput, Message, SystemContentBlock } from "@aws-sdk/client-bedrock-runtime";

/** `auto`: checkpoints for models known to take them; `on`: always (Bedrock refuses them on other models); `off`: never. */
export type PromptCachingMode = "auto" | "on" | "off";
export const PROMPT_CACHING_MODES: readonly PromptCachingMode[] = ["auto", "on", "off"];
export const DEFAULT_PROMPT_CACHING: PromptCachingMode = "auto";

/**
 * ConverseStream `performanceConfig.latency` (SDK 3.1163 enum PerformanceConfigLatency):
 * `optimized` asks for the latency-optimized version of the model where Bedrock offers one.
 */
export type BedrockLatency = "standard" | "optimized";
export const BEDROCK_LATENCIES: readonly BedrockLatency[] = ["standard", "optimized"];

/**
 * ConverseStream `serviceTier.type` (SDK 3.1163 enum ServiceTierType; API reference
 * API_runtime_ServiceTier: "Valid Values: priority | default | flex | reserved").
 */
export type BedrockServiceTier = "default" | "flex" | "priority" | "reserved";
export const BEDROCK_SERVICE_TIERS: readonly BedrockServiceTier[] = ["default", "flex", "priority", "reserved"];

/** Checkpoints one request may carry (the table's "Maximum number of cache checkpoints per request": 4 for every model). */
export const MAX_CACHE_CHECKPOINTS = 4;

/** How long a cache entry lives without a hit: the default (`5m`) TTL. */
export const CACHE_TTL_MS = 5 * 60_000;

/**
 * "Minimum number of tokens per cache checkpoint" of the models whose Converse checkpoints
 * Bedrock documents, by foundation model id (the user guide's table, as of the SDK above;
 * Nova rows: "1K", and `system` and `messages` only). Claude 3.5 Sonnet v2 is left out: its
 * caching stayed a preview closed to new customers.
 */
export const CACHE_CHECKPOINT_MIN_TOKENS: Readonly<Record<string, number>> = {
  "anthropic.claude-opus-4-6-v1": 4096,
  "anthropic.claude-opus-4-5-20251101-v1:0": 4096,
  "anthropic.claude-opus-4-1-20250805-v1:0": 1024,
  "anthropic.claude-opus-4-20250514-v1:0": 1024,
  "anthropic.claude-sonnet-4-6": 1024,
  "anthropic.claude-sonnet-4-5-20250929-v1:0": 4096,
  "anthropic.claude-sonnet-4-20250514-v1:0": 1024,
  "anthropic.claude-haiku-4-5-20251001-v1:0": 4096,
  "anthropic.claude-3-7-sonnet-20250219-v1:0": 1024,
  "anthropic.claude-3-5-haiku-20241022-v1:0": 2048,
  "amazon.nova-micro-v1:0": 1000,
  "amazon.nova-lite-v1:0": 1000,
  "amazon.nova-pro-v1:0": 1000,
  "amazon.nova-premier-v1:0": 1000,
};

/** Models whose checkpoints may ask for the 1-hour TTL (`"ttl": "1h"`): the table's "5 minutes, 1 hour" rows. */
export const ONE_HOUR_CACHE_TTL_MODELS: ReadonlySet<string> = new Set([
  "anthropic.claude-opus-4-5-20251101-v1:0",
  "anthropic.claude-sonnet-4-5-20250929-v1:0",
  "anthropic.claude-haiku-4-5-20251001-v1:0",
]);

/** Cross-Region inference profile prefixes (as local/model-check.ts knows them). */
const PROFILE_PREFIX = /^(us|eu|apac|us-gov|global|jp|au|ca)\./;

/** The foundation model behind an id: the part after an ARN's last `/`, without a geography prefix. */
export function foundationModelId(modelId: string): string {
  return modelId.slice(modelId.lastIndexOf("/") + 1).replace(PROFILE_PREFIX, "");
}

/** The model's minimum tokens per checkpoint, or undefined when Bedrock documents no caching for it. */
export function cacheCheckpointMinTokens(modelId: string): number | undefined {
  return CACHE_CHECKPOINT_MIN_TOKENS[foundationModelId(modelId)];
}

/** Whether requests to `modelId` carry cache checkpoints under `mode`. */
export function cachesPrompt(mode: PromptCachingMode, modelId: string): boolean {
  return mode === "on" || (mode === "auto" && cacheCheckpointMinTokens(modelId) !== undefined);
}

const CACHE_POINT = { cachePoint: { type: "default" as const } };

/**
 * The request with checkpoints after the system prompt and after each of the latest answers,
 * as many as the limit of four allows: the conversation so far repeats on the session's next
 * question, the question itself never does. An earlier answer keeps its checkpoint so the next
 * question can read the prefix this one wrote: Bedrock reads a cached prefix at a checkpoint of
 * the request only (Claude's ~20-block look-back aside, which Nova lacks). Nothing is added
 * where there is nothing before it to cache.
 */
export function withCachePoints(input: ConverseCommandInput): ConverseCommandInput {
  const hasSystem = (input.system?.length ?? 0) > 0;
  const system: SystemContentBlock[] | undefined = hasSystem ? [...input.system!, CACHE_POINT] : input.system;
  const messages: Message[] = [...(input.messages ?? [])];
  let left = MAX_CACHE_CHECKPOINTS - (hasSystem ? 1 : 0);
  // The last message is the question.
  for (let i = messages.length - 2; i >= 0 && left > 0; i--) {
    if (messages[i].role !== "assistant") continue;
    messages[i] = { ...messages[i], content: [...(messages[i].content ?? []), CACHE_POINT] };
    left--;
  }
  return { ...input, ...(system ? { system } : {}), messages };
}

/** The model settings the request carries besides the prompt. */
export interface ModelTierSettings {
  readonly promptCaching: PromptCachingMode;
  /** @default unset (Bedrock's `standard`) */
  readonly latency?: BedrockLatency;
  /** @default unset (Bedrock's `default` tier) */
  readonly serviceTier?: BedrockServiceTier;
}

/** The request shaped by the settings: checkpoints when they apply, `performanceConfig` and `serviceTier` when set. */
export function applyModelTier(input: ConverseCommandInput, settings: ModelTierSettings): ConverseCommandInput {
  const shaped = cachesPrompt(settings.promptCaching, input.modelId ?? "") ? withCachePoints(input) : { ...input };
  if (settings.latency) shaped.performanceConfig = { latency: settings.latency };
  if (settings.serviceTier) shaped.serviceTier = { type: settings.serviceTier };
  return shaped;
}

/** Parses one of `allowed`; undefined for unset or blank; throws naming what is allowed. */
export function parseChoice<T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`${name} must be one of ${allowed.join(", ")}, got "${value}"`);
  return value as T;
}
