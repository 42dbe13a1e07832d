/**
 * What each door answers with: a Lex V2 `Close` (plain text message, markdown for Lex Web UI
 * in `appContext.altMessages.markdown`, as QnABot does), an HTTP JSON body, and the lone
 * `error` frame the WebSocket `ask` route posts when it cannot take a question. Pure.
 */
import type { LexV2Result } from "aws-lambda";
import { duplicateRefusal, DuplicateRequestError, envelope, type ErrorCode } from "../shared/protocol";
import type { StreamFormat } from "../shared/table";
import type { AnswerError, AnswerResult } from "./engine";
import type { LexAsk } from "./events";

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** HTTP status for each error code, for the HTTP door and the WebSocket route's result. */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  throttled: 429,
  busy: 429,
  budget: 429,
  model_error: 502,
  stalled: 504,
  timeout: 504,
  internal: 500,
};

export function lexClose(
  session: Pick<LexAsk, "sessionAttributes" | "intent">,
  answer: { markdown: string; plainText: string },
): LexV2Result {
  return {
    sessionState: {
      sessionAttributes: {
        ...session.sessionAttributes,
        appContext: JSON.stringify({ altMessages: { markdown: answer.markdown } }),
      },
      dialogAction: { type: "Close" },
      ...(session.intent ? { intent: { ...session.intent, state: "Fulfilled" as const } } : {}),
    },
    messages: [{ contentType: "PlainText", content: answer.plainText }],
  };
}

/**
 * The answer to a Lex `DialogCodeHook` invocation: Lex goes on with its own dialog, as
 * QnABot's does (clients.md); only the fulfillment invocation answers.
 */
export function lexDelegate(session: Pick<LexAsk, "sessionAttributes" | "intent">): LexV2Result {
  return {
    sessionState: {
      sessionAttributes: { ...session.sessionAttributes },
      dialogAction: { type: "Delegate" },
      ...(session.intent ? { intent: { ...session.intent, state: "InProgress" as const } } : {}),
    },
  };
}

export function json(statusCode: number, body: unknown): HttpResult {
  return { statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

export function httpError(error: { code: ErrorCode; message: string; retryable?: boolean }, status?: number): HttpResult {
  return json(status ?? STATUS_BY_CODE[error.code], {
    error: { code: error.code, message: error.message, retryable: error.retryable ?? false },
  });
}

export function httpAnswer(result: AnswerResult, requestId: string): HttpResult {
  const body = {
    requestId,
    answer: result.answer,
    citations: result.citations,
    sources: result.sources ?? [],
    usage: result.usage ?? null,
    stopReason: result.stopReason,
    streamed: result.streamed,
    ...(result.error ? { error: result.error } : {}),
  };
  return json(result.error ? STATUS_BY_CODE[result.error.code] : 200, body);
}

/** The one frame that tells a connection its ask was refused, in its own format. */
export function errorFrame(format: StreamFormat, requestId: string, error: AnswerError | DuplicateRequestError): Uint8Array {
  const text =
    format === "text"
      ? error.message
      : error instanceof DuplicateRequestError
        ? JSON.stringify(duplicateRefusal(error))
        : JSON.stringify(envelope("error", requestId, 0, { code: error.code, message: error.message, retryable: error.retryable }));
  return new TextEncoder().encode(text);
}
