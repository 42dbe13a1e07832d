/**
 * Bedrock Runtime `ConverseStream` and `Converse`: request checks, the event sequence of a
 * streamed text answer, and the one-shot response, shaped as the SDK's schemas read them.
 */
import { lastUserText } from "./answer";
import type { BedrockBehavior } from "./behavior";
import { estimateTokens } from "./deltas";
import { encodeEvent } from "./event-stream";
import { ServiceError, isRecord } from "./http";
import type { PlannedAnswer } from "./plan";
import type { EventPlan } from "./player";
import { parseThinking, standInReasoning, type ThinkingRequest } from "./thinking";

/** What the stand-in signs its reasoning with; a real signature verifies the text, this one nothing. */
const STAND_IN_SIGNATURE = "c3RhbmQtaW4=";
import { parseCheckpoints, type CacheTokens, type PromptCache } from "./prompt-cache";
import { BEDROCK_LATENCIES, BEDROCK_SERVICE_TIERS } from "../../functions/fulfillment/prompt-caching";

export interface ConverseRequest {
  /** Text of the last user message: what the stand-in answers. */
  readonly question: string;
  /** Every text the model would read (system prompt and messages), for input token usage. */
  readonly inputText: string;
  /** Extended thinking, when the request asks for it (thinking.ts). */
  readonly thinking?: ThinkingRequest;
  /** Tokens read from and written to the prompt cache; undefined without cache checkpoints. */
  readonly cache?: CacheTokens;
  /** `performanceConfig` and `serviceTier` as asked, echoed in the response as Bedrock does. */
  readonly tier: { performanceConfig?: { latency: string }; serviceTier?: { type: string } };
}

function enumError(value: unknown, where: string, allowed: readonly string[]): ServiceError {
  return new ServiceError(
    "ValidationException",
    `1 validation error detected: Value '${String(value)}' at '${where}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(", ")}]`,
  );
}

/** `performanceConfig.latency` and `serviceTier.type`, refused outside their enums (SDK 3.1163 PerformanceConfigLatency, ServiceTierType). */
function parseTier(body: Record<string, unknown>): ConverseRequest["tier"] {
  const tier: { performanceConfig?: { latency: string }; serviceTier?: { type: string } } = {};
  if (body.performanceConfig !== undefined) {
    const latency = isRecord(body.performanceConfig) ? body.performanceConfig.latency : undefined;
    if (latency !== undefined && !(BEDROCK_LATENCIES as readonly unknown[]).includes(latency)) {
      throw enumError(latency, "performanceConfig.latency", BEDROCK_LATENCIES);
    }
    tier.performanceConfig = { latency: (latency as string | undefined) ?? "standard" };
  }
  if (body.serviceTier !== undefined) {
    const type = isRecord(body.serviceTier) ? body.serviceTier.type : undefined;
    if (!(BEDROCK_SERVICE_TIERS as readonly unknown[]).includes(type)) throw enumError(type, "serviceTier.type", BEDROCK_SERVICE_TIERS);
    tier.serviceTier = { type: type as string };
  }
  return tier;
}

/** `cache`: the emulator's prompt cache, played when the request carries checkpoints for `modelId`. */
export function parseConverseRequest(body: unknown, modelId = "", cache?: PromptCache): ConverseRequest {
  if (!isRecord(body) || !Array.isArray(body.messages) || body.messages.length === 0) {
    throw new ServiceError("ValidationException", "The request must contain a non-empty messages list.");
  }
  const messages = body.messages as unknown[];
  if (!messages.every((m) => isRecord(m) && (m.role === "user" || m.role === "assistant") && Array.isArray(m.content))) {
    throw new ServiceError("ValidationException", "Each message needs a role of user or assistant and a content list.");
  }
  const texts = (blocks: unknown) =>
    Array.isArray(blocks) ? blocks.flatMap((b) => (isRecord(b) && typeof b.text === "string" ? [b.text] : isRecord(b) && "cachePoint" in b ? [] : [""])) : [];
  const typed = messages as Array<{ role: string; content: unknown[] }>;
  const inputText = [...texts(body.system), ...typed.flatMap((m) => texts(m.content))].join("\n");
  const thinking = parseThinking(body, modelId);
  const tier = parseTier(body);
  const checkpoints = parseCheckpoints(modelId, body);
  const played = checkpoints.length > 0 && cache ? cache.use(modelId, checkpoints) : undefined;
  return { question: lastUserText(typed), inputText, tier, ...(played ? { cache: played } : {}), ...(thinking ? { thinking } : {}) };
}

/** The reasoning deltas a request that asked for thinking gets: the behaviour's, or the stand-in's. */
export function reasoningDeltas(request: ConverseRequest, behavior: BedrockBehavior): readonly string[] {
  if (!request.thinking) return [];
  return behavior.reasoning ?? standInReasoning(request.question);
}

function usage(request: ConverseRequest, answer: PlannedAnswer, reasoning: readonly string[]) {
  const promptTokens = estimateTokens(request.inputText);
  const read = request.cache?.cacheReadInputTokens ?? 0;
  const written = request.cache?.cacheWriteInputTokens ?? 0;
  // With caching, inputTokens counts only what was neither read nor written (user guide, Converse API).
  const inputTokens = promptTokens - read - written;
  // One delta stands for one generated token, as a model streams them; thinking tokens are output tokens.
  const outputTokens = answer.deltas.length + reasoning.length;
  return { inputTokens, outputTokens, totalTokens: promptTokens + outputTokens, ...(request.cache ?? {}) };
}

export function converseStreamPlan(
  request: ConverseRequest,
  answer: PlannedAnswer,
  behavior: BedrockBehavior,
  startedAt: number,
  trace?: Record<string, unknown>,
): EventPlan {
  // The reasoning is its own content block before the text's, closed by its signature.
  const reasoning = reasoningDeltas(request, behavior);
  const textBlock = reasoning.length > 0 ? 1 : 0;
  return {
    opening: () => [encodeEvent("messageStart", { role: "assistant" })],
    deltaCount: reasoning.length + answer.deltas.length,
    delta: (i) => {
      if (i >= reasoning.length) {
        return [encodeEvent("contentBlockDelta", { contentBlockIndex: textBlock, delta: { text: answer.deltas[i - reasoning.length] } })];
      }
      const frames = [encodeEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { text: reasoning[i] } } })];
      if (i === reasoning.length - 1) {
        frames.push(
          encodeEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { signature: STAND_IN_SIGNATURE } } }),
          encodeEvent("contentBlockStop", { contentBlockIndex: 0 }),
        );
      }
      return frames;
    },
    closing: () => [
      encodeEvent("contentBlockStop", { contentBlockIndex: textBlock }),
      encodeEvent("messageStop", { stopReason: behavior.stopReason ?? "end_turn" }),
      encodeEvent("metadata", {
        usage: usage(request, answer, reasoning),
        metrics: { latencyMs: Math.round(performance.now() - startedAt) },
        ...(trace ? { trace } : {}),
        ...request.tier,
      }),
    ],
  };
}

export function converseResponse(
  request: ConverseRequest,
  answer: PlannedAnswer,
  behavior: BedrockBehavior,
  startedAt: number,
  trace?: Record<string, unknown>,
) {
  const reasoning = reasoningDeltas(request, behavior);
  const thought = reasoning.length > 0 ? [{ reasoningContent: { reasoningText: { text: reasoning.join(""), signature: STAND_IN_SIGNATURE } } }] : [];
  return {
    output: { message: { role: "assistant", content: [...thought, { text: answer.text }] } },
    stopReason: behavior.stopReason ?? "end_turn",
    usage: usage(request, answer, reasoning),
    metrics: { latencyMs: Math.round(performance.now() - startedAt) },
    ...(trace ? { trace } : {}),
    ...request.tier,
  };
}
