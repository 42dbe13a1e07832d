/**
 * Bedrock prompt caching as the emulator plays it: a request's cache checkpoints
 * (`{cachePoint: {type: "default"}}` in `system` and `messages`) are checked as Bedrock checks
 * them, and the token counts come out as Bedrock reports them. Bedrock User Guide, "Prompt
 * caching for faster model inference"
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html):
 * - a checkpoint caches the whole prompt before it (system, then messages), for one model;
 * - "You can only create a cache checkpoint if your total prompt prefix meets the minimum
 *   number of tokens": the first checkpoint needs the minimum, the second twice it, and one
 *   short of it is not cached, yet "your inference will still succeed";
 * - at most 4 checkpoints a request; the 1-hour TTL only on the models the table gives it;
 * - the first use writes the prefix (`cacheWriteInputTokens`), a later use within the TTL
 *   (5 minutes, "resets with each successful cache hit") reads it (`cacheReadInputTokens`);
 * - `inputTokens` then counts only the tokens neither read nor written.
 * A checkpoint on a model without caching is refused: Bedrock answers "You invoked an
 * unsupported model or your request did not allow prompt caching" (403, seen by LiteLLM,
 * https://github.com/BerriAI/litellm/pull/39210).
 * Not modelled: any speed-up. Bedrock says caching lowers latency but documents no figure, so
 * the emulator's first token comes as late with a cache hit as without one.
 */
import { createHash } from "node:crypto";
import {
  CACHE_TTL_MS,
  MAX_CACHE_CHECKPOINTS,
  ONE_HOUR_CACHE_TTL_MODELS,
  cacheCheckpointMinTokens,
  foundationModelId,
} from "../../functions/fulfillment/prompt-caching";
import { estimateTokens } from "./deltas";
import { ServiceError, isRecord } from "./http";

/** TTLs a checkpoint may name (SDK enum CacheTTL). */
const TTL_MS: Readonly<Record<string, number>> = { "5m": CACHE_TTL_MS, "1h": 60 * 60_000 };

export interface Checkpoint {
  /** Identifies the prompt before the checkpoint, for the model. */
  readonly key: string;
  /** Tokens of the prompt before the checkpoint. */
  readonly tokens: number;
  readonly ttlMs: number;
}

export interface CacheTokens {
  readonly cacheReadInputTokens: number;
  readonly cacheWriteInputTokens: number;
}

function checkCachePoint(modelId: string, block: unknown, where: string): number {
  if (!isRecord(block) || block.type !== "default") {
    throw new ServiceError("ValidationException", `1 validation error detected: Value at '${where}.cachePoint.type' failed to satisfy constraint: Member must satisfy enum value set: [default]`);
  }
  if (block.ttl === undefined) return CACHE_TTL_MS;
  const ttl = TTL_MS[String(block.ttl)];
  if (ttl === undefined) {
    throw new ServiceError("ValidationException", `1 validation error detected: Value '${String(block.ttl)}' at '${where}.cachePoint.ttl' failed to satisfy constraint: Member must satisfy enum value set: [5m, 1h]`);
  }
  // The user guide lists the 1-hour TTL for three models only; its error text for others is not documented.
  if (ttl > CACHE_TTL_MS && cacheCheckpointMinTokens(modelId) !== undefined && !ONE_HOUR_CACHE_TTL_MODELS.has(foundationModelId(modelId))) {
    throw new ServiceError("ValidationException", `The model ${modelId} does not support the 1h cache TTL.`);
  }
  return ttl;
}

/**
 * The request's checkpoints in prompt order, each with the text before it; throws as Bedrock
 * does on a malformed one, on more than four, and on any for a model without caching.
 */
export function parseCheckpoints(modelId: string, body: Record<string, unknown>): Checkpoint[] {
  const prefix: unknown[] = [];
  const texts: string[] = [];
  const checkpoints: Checkpoint[] = [];
  const visit = (blocks: unknown, where: string, role: string) => {
    if (!Array.isArray(blocks)) return;
    blocks.forEach((block, i) => {
      if (isRecord(block) && "cachePoint" in block) {
        const ttlMs = checkCachePoint(modelId, block.cachePoint, `${where}.${i}`);
        const key = createHash("sha256").update(JSON.stringify([modelId, prefix])).digest("hex");
        checkpoints.push({ key, tokens: estimateTokens(texts.join("\n")), ttlMs });
        return;
      }
      prefix.push([role, block]);
      if (isRecord(block) && typeof block.text === "string") texts.push(block.text);
    });
  };
  visit(body.system, "system", "system");
  (Array.isArray(body.messages) ? body.messages : []).forEach((m: unknown, i) => {
    if (isRecord(m)) visit(m.content, `messages.${i}.member.content`, String(m.role));
  });
  if (checkpoints.length > MAX_CACHE_CHECKPOINTS) {
    throw new ServiceError("ValidationException", `A maximum of ${MAX_CACHE_CHECKPOINTS} blocks with cache_control may be provided. Found ${checkpoints.length}.`);
  }
  if (checkpoints.length > 0 && cacheCheckpointMinTokens(modelId) === undefined) {
    throw new ServiceError("AccessDeniedException", "You invoked an unsupported model or your request did not allow prompt caching. See the documentation for more information.");
  }
  return checkpoints;
}

/** The cache of one emulator: prefixes written, until when they live. */
export class PromptCache {
  private readonly expiries = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Plays one request's checkpoints: reads the longest prefix still cached (its TTL starts
   * afresh), writes the rest up to the last checkpoint that meets the model's minimum.
   */
  use(modelId: string, checkpoints: readonly Checkpoint[]): CacheTokens {
    const minimum = cacheCheckpointMinTokens(modelId) ?? Infinity;
    const now = this.now();
    for (const [key, expiry] of this.expiries) if (expiry <= now) this.expiries.delete(key);
    // A checkpoint counts once it holds the minimum beyond the last one that counted.
    const counted: Checkpoint[] = [];
    for (const c of checkpoints) if (c.tokens - (counted.at(-1)?.tokens ?? 0) >= minimum) counted.push(c);
    let read = 0;
    let hit = -1;
    counted.forEach((c, i) => {
      if (this.expiries.has(c.key)) {
        read = c.tokens;
        hit = i;
      }
    });
    if (hit >= 0) this.expiries.set(counted[hit].key, now + counted[hit].ttlMs);
    const written = counted.slice(hit + 1);
    for (const c of written) this.expiries.set(c.key, now + c.ttlMs);
    const write = written.length > 0 ? written[written.length - 1].tokens - read : 0;
    return { cacheReadInputTokens: read, cacheWriteInputTokens: write };
  }
}
