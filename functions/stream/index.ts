/**
 * The stream writer as a library (`qnabot-streaming/stream`), for a custom LLM Lambda
 * (QnABot's LLM_API=LAMBDA): the fulfillment function invokes the hook with
 * `streamingAttributes`, and the hook streams its answer through the same writer, with the
 * same coalescing, framing, Gone handling and metrics as the built-in answers.
 */
import { randomUUID } from "node:crypto";
import { validateSessionId } from "../shared/protocol";
import { flushIntervalsFromEnv, streamOpenerFor } from "./aws";
import type { AnswerStream } from "./types";

/** QnABot's `streamingAttributes`: all three set when streaming is on, `{}` when it is off. */
export interface StreamingAttributes {
  /** The session whose connections receive the answer (Lex sessionId: the Cognito identity id). */
  readonly sessionId?: string;
  /** The stage's base URL, `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`. */
  readonly streamingEndpoint?: string;
  /** The connections table name. */
  readonly streamingDynamoDbTable?: string;
  /** This project's addition: the ask's requestId, which `format=json` clients match the answer by. */
  readonly requestId?: string;
  /** This project's addition: the asker's principal; when set, only a session it owns is streamed to. */
  readonly principal?: string;
}

const REQUIRED = ["sessionId", "streamingEndpoint", "streamingDynamoDbTable"] as const;

/**
 * Opens an answer's stream from the attributes a hook was invoked with; `undefined` when
 * streaming is off. `requestId` is used when the attributes carry none (e.g. the hook's own
 * awsRequestId); with neither, a fresh one is made. Write with delta(), finish with end().
 */
export async function openStreamFromAttributes(
  attributes: StreamingAttributes | null | undefined,
  requestId?: string,
): Promise<AnswerStream | undefined> {
  const given = attributes ?? {};
  const missing = REQUIRED.filter((name) => !given[name]);
  if (missing.length === REQUIRED.length) return undefined;
  if (missing.length > 0) {
    throw new Error(`streamingAttributes must carry all of ${REQUIRED.join(", ")} or none; missing ${missing.join(", ")}`);
  }
  const opener = streamOpenerFor({
    endpoint: given.streamingEndpoint!,
    tableName: given.streamingDynamoDbTable!,
    flushIntervalMs: flushIntervalsFromEnv(),
  });
  return opener({
    sessionId: validateSessionId(given.sessionId),
    principal: given.principal,
    requestId: given.requestId ?? requestId ?? randomUUID(),
  });
}

export { flushIntervalsFromEnv, ManagementApiTransport, streamOpenerFor, streamOpenerFromEnv, toPostError } from "./aws";
export type { ManagementApiTransportOptions, StreamOpenerConfig } from "./aws";
export { createStreamOpener, DEFAULT_FLUSH_INTERVAL_MS, streamReporter } from "./writer";
export type { StreamClock, StreamLogger, StreamWriterDeps, StreamWriterOptions, StreamWriterSettings } from "./writer";
export { PostError } from "./types";
export type { AnswerStream, OpenStream, PostFailureKind, StreamOpener, StreamReport, StreamTransport } from "./types";
export type { Citation, ErrorCode, Usage } from "../shared/protocol";
