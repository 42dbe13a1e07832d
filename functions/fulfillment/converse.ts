/**
 * LLM answers through Bedrock's Converse API: ConverseStream while streaming (each
 * `contentBlockDelta.delta.text` becomes a delta), Converse otherwise; the same result either
 * way. The conversation history goes in as alternating user/assistant messages, the seed
 * app's ConversationChain without LangChain.
 */
import {
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
  type ConverseStreamCommandInput,
  type ConverseStreamCommandOutput,
  type Message,
  type TokenUsage,
} from "@aws-sdk/client-bedrock-runtime";
import type { Usage } from "../shared/protocol";
import {
  GUARDRAIL_FALLBACK_ANSWER,
  GUARDRAIL_INTERVENED,
  GUARDRAIL_STOP_REASON,
  type GuardrailSettings,
  type InferenceSettings,
} from "./config";
import { BudgetExhausted, GenerationError, MESSAGES } from "./errors";
import {
  TIME_BUDGET_STOP_REASON,
  type GenerateRequest,
  type GenerateResult,
  type GenerateSink,
  type Generator,
  type Turn,
} from "./generate";
import type { StreamGuard } from "./guard";
import { withReasoning, type ReasoningSettings } from "./reasoning";
import { applyModelTier, type ModelTierSettings } from "./prompt-caching";

/** The part of BedrockRuntimeClient the adapter uses; tests pass a fake with the same `send`. */
export interface ConverseClient {
  send(command: ConverseStreamCommand, options?: { abortSignal?: AbortSignal }): Promise<ConverseStreamCommandOutput>;
  send(command: ConverseCommand, options?: { abortSignal?: AbortSignal }): Promise<ConverseCommandOutput>;
}

export interface ConverseSettings {
  /** Model id or inference profile id. */
  modelId: string;
  systemPrompt?: string;
  inference: InferenceSettings;
  /** Applies this Bedrock guardrail to the question and the answer. @default none */
  guardrail?: GuardrailSettings;
  /** Lets an ask that wants it stream the model's reasoning (reasoning.ts). @default none: never asked for */
  reasoning?: ReasoningSettings;
  /** Prompt caching, latency and service tier. @default caching `auto`, latency and tier unset */
  tier?: ModelTierSettings;
}

/** History as Converse messages: user/assistant pairs (blank turns dropped), then the question. */
export function conversationMessages(history: Turn[], question: string): Message[] {
  const messages: Message[] = [];
  for (const turn of history) {
    if (turn.question.trim() === "" || turn.answer.trim() === "") continue;
    messages.push({ role: "user", content: [{ text: turn.question }] });
    messages.push({ role: "assistant", content: [{ text: turn.answer }] });
  }
  messages.push({ role: "user", content: [{ text: question }] });
  return messages;
}

/** The request Converse takes; ConverseStream's is the same but for its guardrail settings. */
export function converseInput(settings: ConverseSettings, history: Turn[], question: string): ConverseCommandInput {
  const input: ConverseCommandInput = {
    modelId: settings.modelId,
    messages: conversationMessages(history, question),
  };
  if (settings.systemPrompt) input.system = [{ text: settings.systemPrompt }];
  if (Object.keys(settings.inference).length > 0) input.inferenceConfig = { ...settings.inference };
  if (settings.guardrail) {
    input.guardrailConfig = { guardrailIdentifier: settings.guardrail.id, guardrailVersion: settings.guardrail.version };
  }
  return applyModelTier(input, settings.tier ?? { promptCaching: "auto" });
}

/** ConverseStream's request: Converse's, with the guardrail's stream processing mode. */
export function converseStreamInput(settings: ConverseSettings, history: Turn[], question: string): ConverseStreamCommandInput {
  const { guardrailConfig, ...input } = converseInput(settings, history, question);
  if (!guardrailConfig || !settings.guardrail) return input;
  return { ...input, guardrailConfig: { ...guardrailConfig, streamProcessingMode: settings.guardrail.streamProcessingMode } };
}

export function toUsage(usage: TokenUsage | undefined): Usage | undefined {
  if (!usage) return undefined;
  const inputTokens = usage.inputTokens ?? 0;
  const outputTokens = usage.outputTokens ?? 0;
  return {
    inputTokens,
    outputTokens,
    totalTokens: usage.totalTokens ?? inputTokens + outputTokens,
    ...(usage.cacheReadInputTokens !== undefined ? { cacheReadInputTokens: usage.cacheReadInputTokens } : {}),
    ...(usage.cacheWriteInputTokens !== undefined ? { cacheWriteInputTokens: usage.cacheWriteInputTokens } : {}),
  };
}

/**
 * Streams one answer; a time budget running out mid-answer keeps the text so far. A guardrail
 * intervention (messageStop `guardrail_intervened`) is reported to the sink, and the answer is
 * the guardrail's blocked message, or GUARDRAIL_FALLBACK_ANSWER when Bedrock sent no text.
 */
export async function converseStream(
  client: ConverseClient,
  input: ConverseStreamCommandInput,
  sink: GenerateSink,
  guard: StreamGuard,
): Promise<GenerateResult> {
  let text = "";
  let stopReason: string | undefined;
  let usage: Usage | undefined;
  try {
    // The stall bound times the model's silence, which starts with its response: until Bedrock
    // answers, the request may not even have reached it (issue 21: 500 local answers queued
    // for a connection ended `stalled` before the model had the question). The time budget
    // still bounds the wait.
    const response = await guard.step(client.send(new ConverseStreamCommand(input), { abortSignal: guard.signal }), { stall: false });
    if (!response.stream) throw new GenerationError("model_error", MESSAGES.unavailable, true, "no event stream");
    for await (const event of guard.events(response.stream)) {
      const chunk = event.contentBlockDelta?.delta?.text;
      const reasoning = event.contentBlockDelta?.delta?.reasoningContent?.text;
      if (chunk) {
        text += chunk;
        sink.delta(chunk);
      } else if (reasoning) {
        sink.reasoning?.(reasoning);
      } else if (event.messageStop) {
        stopReason = event.messageStop.stopReason ?? "end_turn";
        if (stopReason === GUARDRAIL_STOP_REASON) sink.guardrail(GUARDRAIL_INTERVENED);
      } else if (event.metadata) {
        usage = toUsage(event.metadata.usage);
      }
    }
  } catch (error) {
    if (error instanceof BudgetExhausted && text !== "") {
      return { text, stopReason: TIME_BUDGET_STOP_REASON, usage, citations: [] };
    }
    throw error;
  }
  // A stream broken off (reset connection) ends the iteration without an error: only the
  // missing messageStop tells that the answer is incomplete.
  if (stopReason === undefined) {
    throw new GenerationError("model_error", MESSAGES.unavailable, true, "stream ended without messageStop");
  }
  if (stopReason !== GUARDRAIL_STOP_REASON) return { text, stopReason, usage, citations: [] };
  if (text === "") {
    text = GUARDRAIL_FALLBACK_ANSWER;
    sink.delta(text);
  }
  return { text, stopReason, usage, citations: [], guardrailAction: GUARDRAIL_INTERVENED };
}

/** One answer in one response, for when streaming is off. */
export async function converse(
  client: ConverseClient,
  input: ConverseCommandInput,
  guard: StreamGuard,
): Promise<GenerateResult> {
  const response = await guard.step(client.send(new ConverseCommand(input), { abortSignal: guard.signal }), {
    stall: false,
  });
  const text = (response.output?.message?.content ?? []).map((block) => block.text ?? "").join("");
  const stopReason = response.stopReason ?? "end_turn";
  const usage = toUsage(response.usage);
  if (stopReason !== GUARDRAIL_STOP_REASON) return { text, stopReason, usage, citations: [] };
  return { text: text || GUARDRAIL_FALLBACK_ANSWER, stopReason, usage, citations: [], guardrailAction: GUARDRAIL_INTERVENED };
}

export function converseGenerator(client: ConverseClient, settings: ConverseSettings): Generator {
  return {
    streamsItself: false,
    generate(request: GenerateRequest, sink: GenerateSink, guard: StreamGuard) {
      if (!request.streaming) return converse(client, converseInput(settings, request.history, request.question), guard);
      const input = converseStreamInput(settings, request.history, request.question);
      const reasoning = request.reasoning === true ? settings.reasoning : undefined;
      return converseStream(client, reasoning ? withReasoning(input, settings.inference, reasoning) : input, sink, guard);
    },
  };
}
