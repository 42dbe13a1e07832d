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

export interface ConverseRequest {
  /** Text of the last user message: what the stand-in answers. */
  readonly question: string;
  /** Every text the model would read (system prompt and messages), for input token usage. */
  readonly inputText: string;
}

export function parseConverseRequest(body: unknown): ConverseRequest {
  if (!isRecord(body) || !Array.isArray(body.messages) || body.messages.length === 0) {
    throw new ServiceError("ValidationException", "The request must contain a non-empty messages list.");
  }
  const messages = body.messages as unknown[];
  if (!messages.every((m) => isRecord(m) && (m.role === "user" || m.role === "assistant") && Array.isArray(m.content))) {
    throw new ServiceError("ValidationException", "Each message needs a role of user or assistant and a content list.");
  }
  const texts = (blocks: unknown) =>
    Array.isArray(blocks) ? blocks.map((b) => (isRecord(b) && typeof b.text === "string" ? b.text : "")) : [];
  const typed = messages as Array<{ role: string; content: unknown[] }>;
  const inputText = [...texts(body.system), ...typed.flatMap((m) => texts(m.content))].join("\n");
  return { question: lastUserText(typed), inputText };
}

function usage(request: ConverseRequest, answer: PlannedAnswer) {
  const inputTokens = estimateTokens(request.inputText);
  // One delta stands for one generated token, as a model streams them.
  const outputTokens = answer.deltas.length;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

export function converseStreamPlan(
  request: ConverseRequest,
  answer: PlannedAnswer,
  behavior: BedrockBehavior,
  startedAt: number,
  trace?: Record<string, unknown>,
): EventPlan {
  return {
    opening: () => [encodeEvent("messageStart", { role: "assistant" })],
    deltaCount: answer.deltas.length,
    delta: (i) => [encodeEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text: answer.deltas[i] } })],
    closing: () => [
      encodeEvent("contentBlockStop", { contentBlockIndex: 0 }),
      encodeEvent("messageStop", { stopReason: behavior.stopReason ?? "end_turn" }),
      encodeEvent("metadata", {
        usage: usage(request, answer),
        metrics: { latencyMs: Math.round(performance.now() - startedAt) },
        ...(trace ? { trace } : {}),
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
  return {
    output: { message: { role: "assistant", content: [{ text: answer.text }] } },
    stopReason: behavior.stopReason ?? "end_turn",
    usage: usage(request, answer),
    metrics: { latencyMs: Math.round(performance.now() - startedAt) },
    ...(trace ? { trace } : {}),
  };
}
