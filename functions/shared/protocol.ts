/**
 * Wire protocol v1 (design.md): what clients may send and the envelopes `format=json`
 * connections receive. Pure: no AWS, no I/O.
 */
import type { StreamFormat } from "./table";

export const PROTOCOL_VERSION = 1;

export const SESSION_ID_PATTERN = /^[A-Za-z0-9:._-]{1,128}$/;
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9:._-]{1,64}$/;
export const MAX_QUESTION_CHARS = 4000;
export const STREAM_FORMATS: readonly StreamFormat[] = ["text", "json"];

export type AnswerMode = "llm" | "kb";
export const ANSWER_MODES: readonly AnswerMode[] = ["llm", "kb"];

export interface Citation {
  text: string;
  /** `snippet`: a short excerpt of the passage the knowledge base retrieved from the source. */
  sources: { uri: string; title?: string; snippet?: string }[];
}

/**
 * One source of a finished answer, numbered as the `[n]` markers in `end.final` cite it (from
 * 1, in the order first cited). `url` is present only when people may click it: a presigned
 * HTTPS link for an object in an allowlisted bucket, or a web source's own http(s) URL.
 */
export interface AnswerSource {
  n: number;
  title: string;
  uri: string;
  url?: string;
  snippet?: string;
}

/** Bedrock's token usage of an answer (ConverseStream `metadata.usage`), with what the stack adds. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  /** Input tokens read from Bedrock's prompt cache; present when Bedrock reports them. */
  cacheReadInputTokens?: number;
  /** Input tokens written to Bedrock's prompt cache; present when Bedrock reports them. */
  cacheWriteInputTokens?: number;
  /** The model that answered (model id, inference profile id, or `lambda` for a custom LLM Lambda). */
  model?: string;
  /** Estimated cost in US dollars, from the stack's configured token prices; absent without them. */
  estimatedCostUsd?: number;
}

export interface StreamMetrics {
  /** Milliseconds from the start of the answer to the first delta sent. */
  ttftMs: number;
  totalMs: number;
  deltas: number;
  frames: number;
}

export type ErrorCode =
  | "bad_request"
  | "forbidden"
  | "not_found"
  | "throttled"
  | "busy"
  | "budget"
  | "model_error"
  | "stalled"
  | "timeout"
  | "internal";

/**
 * What a knowledge-base answer is doing before its first token (`progress` envelope):
 * searching the knowledge base, then writing the answer from what it found.
 */
export type ProgressStage = "retrieving" | "generating";

interface EnvelopeBase {
  v: typeof PROTOCOL_VERSION;
  requestId: string;
  seq: number;
}

export type Envelope =
  | (EnvelopeBase & { type: "start" })
  | (EnvelopeBase & { type: "delta"; text: string })
  | (EnvelopeBase & { type: "citation"; citations: Citation[] })
  | (EnvelopeBase & { type: "guardrail"; action: string })
  | (EnvelopeBase & {
      type: "end";
      final: string;
      stopReason: string;
      usage?: Usage;
      /** The numbered sources `final` cites; absent when the answer cites none. */
      sources?: AnswerSource[];
      metrics: StreamMetrics;
    })
  | (EnvelopeBase & { type: "error"; code: ErrorCode; message: string; retryable: boolean })
  | (EnvelopeBase & { type: "reasoning"; text: string })
  | (EnvelopeBase & { type: "progress"; stage: ProgressStage });

export type EnvelopeType = Envelope["type"];

/** A protocol violation or refusal, with the HTTP status a front door answers it with. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number = code === "forbidden" ? 403 : code === "not_found" ? 404 : code === "busy" || code === "budget" ? 429 : 400,
    readonly retryable = false,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}

/**
 * The refusal of an `ask` whose requestId is already being answered on the connection. Its
 * envelope names the id only as `refusedRequestId`, with no `requestId` and no `seq`: the id
 * belongs to the live answer, and a client that routes or de-duplicates envelopes by
 * `requestId`/`seq` must not take the refusal for that answer's end (issue 21, finding 8).
 */
export class DuplicateRequestError extends ProtocolError {
  constructor(readonly requestId: string, message: string) {
    super("bad_request", message);
    this.name = "DuplicateRequestError";
  }
}

/** The `format=json` envelope of a DuplicateRequestError: outside any answer's stream. */
export interface DuplicateRefusal {
  v: typeof PROTOCOL_VERSION;
  type: "error";
  refusedRequestId: string;
  code: "bad_request";
  message: string;
  retryable: false;
}

export function duplicateRefusal(error: DuplicateRequestError): DuplicateRefusal {
  return { v: PROTOCOL_VERSION, type: "error", refusedRequestId: error.requestId, code: "bad_request", message: error.message, retryable: false };
}

export function validateSessionId(value: unknown): string {
  if (typeof value !== "string" || !SESSION_ID_PATTERN.test(value)) {
    throw new ProtocolError(
      "bad_request",
      "sessionId is required: 1-128 characters of A-Z a-z 0-9 : . _ -",
    );
  }
  return value;
}

export function validateRequestId(value: unknown): string {
  if (typeof value !== "string" || !REQUEST_ID_PATTERN.test(value)) {
    throw new ProtocolError("bad_request", "requestId is required: 1-64 characters of A-Z a-z 0-9 : . _ -");
  }
  return value;
}

export function parseFormat(value: unknown): StreamFormat {
  if (value === undefined || value === null || value === "") return "text";
  if (typeof value === "string" && (STREAM_FORMATS as readonly string[]).includes(value)) {
    return value as StreamFormat;
  }
  throw new ProtocolError("bad_request", `format must be one of: ${STREAM_FORMATS.join(", ")}`);
}

export function parseMode(value: unknown): AnswerMode {
  if (value === undefined || value === null || value === "") return "llm";
  if (typeof value === "string" && (ANSWER_MODES as readonly string[]).includes(value)) {
    return value as AnswerMode;
  }
  throw new ProtocolError("bad_request", `mode must be one of: ${ANSWER_MODES.join(", ")}`);
}

export function validateQuestion(value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new ProtocolError("bad_request", "question is required: a non-empty string");
  }
  if (value.length > MAX_QUESTION_CHARS) {
    throw new ProtocolError("bad_request", `question is longer than ${MAX_QUESTION_CHARS} characters`);
  }
  return value;
}

export interface AskMessage {
  action: "ask";
  requestId: string;
  question: string;
  mode: AnswerMode;
  /** Asks for the model's reasoning as `reasoning` envelopes; honoured only where the stack allows it. */
  reasoning: boolean;
}

/** An ask's optional `reasoning` field: absent is false, anything but a boolean is refused. */
export function parseReasoningFlag(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw new ProtocolError("bad_request", "reasoning must be true or false");
  return value;
}

function messageObject(body: string | null | undefined): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? "");
  } catch {
    throw new ProtocolError("bad_request", "message body must be JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ProtocolError("bad_request", "message body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

/** Parses a client's `ask` frame; throws ProtocolError naming the first bad field. */
export function parseAskMessage(body: string | null | undefined): AskMessage {
  const message = messageObject(body);
  if (message.action !== "ask") throw new ProtocolError("bad_request", 'action must be "ask"');
  return {
    action: "ask",
    requestId: validateRequestId(message.requestId),
    question: validateQuestion(message.question),
    mode: parseMode(message.mode),
    reasoning: parseReasoningFlag(message.reasoning),
  };
}

/** `{"action":"resume","requestId","afterSeq"}`: the rest of an answer after the last `seq` seen. */
export interface ResumeMessage {
  action: "resume";
  requestId: string;
  afterSeq: number;
}

export function parseResumeMessage(body: string | null | undefined): ResumeMessage {
  const message = messageObject(body);
  if (message.action !== "resume") throw new ProtocolError("bad_request", 'action must be "resume"');
  const afterSeq = message.afterSeq;
  if (typeof afterSeq !== "number" || !Number.isSafeInteger(afterSeq) || afterSeq < 0) {
    throw new ProtocolError("bad_request", "afterSeq must be the last seq received: a non-negative integer (0 after start only)");
  }
  return { action: "resume", requestId: validateRequestId(message.requestId), afterSeq };
}

/** `{"action":"cancel","requestId"}`: stop generating one of the caller's answers. */
export interface CancelMessage {
  action: "cancel";
  requestId: string;
}

export function parseCancelMessage(body: string | null | undefined): CancelMessage {
  const message = messageObject(body);
  if (message.action !== "cancel") throw new ProtocolError("bad_request", 'action must be "cancel"');
  return { action: "cancel", requestId: validateRequestId(message.requestId) };
}

/** Builds an envelope; `seq` is the caller's, which keeps it strictly increasing per connection. */
export function envelope<T extends EnvelopeType>(
  type: T,
  requestId: string,
  seq: number,
  fields: Omit<Extract<Envelope, { type: T }>, "v" | "type" | "requestId" | "seq">,
): Extract<Envelope, { type: T }> {
  return { v: PROTOCOL_VERSION, type, requestId, seq, ...fields } as Extract<Envelope, { type: T }>;
}
