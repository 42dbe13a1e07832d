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
  type ConverseStreamCommandOutput,
  type Message,
  type TokenUsage,
} from "@aws-sdk/client-bedrock-runtime";
import type { Usage } from "../shared/protocol";
import type { InferenceSettings } from "./config";
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

/** The request both Converse and ConverseStream take. */
export function converseInput(settings: ConverseSettings, history: Turn[], question: string): ConverseCommandInput {
  const input: ConverseCommandInput = {
    modelId: settings.modelId,
    messages: conversationMessages(history, question),
  };
  if (settings.systemPrompt) input.system = [{ text: settings.systemPrompt }];
  if (Object.keys(settings.inference).length > 0) input.inferenceConfig = { ...settings.inference };
  return input;
}

export function toUsage(usage: TokenUsage | undefined): Usage | undefined {
  if (!usage) return undefined;
  const inputTokens = usage.inputTokens ?? 0;
  const outputTokens = usage.outputTokens ?? 0;
  return { inputTokens, outputTokens, totalTokens: usage.totalTokens ?? inputTokens + outputTokens };
}

/** Streams one answer; a time budget running out mid-answer keeps the text so far. */
export async function converseStream(
  client: ConverseClient,
  input: ConverseCommandInput,
  sink: GenerateSink,
  guard: StreamGuard,
): Promise<GenerateResult> {
  let text = "";
  let stopReason: string | undefined;
  let usage: Usage | undefined;
  try {
    const response = await guard.step(client.send(new ConverseStreamCommand(input), { abortSignal: guard.signal }));
    if (!response.stream) throw new GenerationError("model_error", MESSAGES.unavailable, true, "no event stream");
    for await (const event of guard.events(response.stream)) {
      const chunk = event.contentBlockDelta?.delta?.text;
      if (chunk) {
        text += chunk;
        sink.delta(chunk);
      } else if (event.messageStop) {
        stopReason = event.messageStop.stopReason ?? "end_turn";
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
  return { text, stopReason, usage, citations: [] };
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
  return { text, stopReason: response.stopReason ?? "end_turn", usage: toUsage(response.usage), citations: [] };
}

export function converseGenerator(client: ConverseClient, settings: ConverseSettings): Generator {
  return {
    streamsItself: false,
    generate(request: GenerateRequest, sink: GenerateSink, guard: StreamGuard) {
      const input = converseInput(settings, request.history, request.question);
      return request.streaming ? converseStream(client, input, sink, guard) : converse(client, input, guard);
    },
  };
}
