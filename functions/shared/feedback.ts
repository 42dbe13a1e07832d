/**
 * Feedback on an answer (issue 24, item 3): what a client sends (the WebSocket `feedback`
 * action, the body of HTTP `POST /feedback`) and the replies a `format=json` connection gets.
 * Pure: no AWS, no I/O.
 *
 * Both replies sit outside any answer's stream, as a duplicate ask's refusal does
 * (protocol.ts, DuplicateRefusal): they carry no `seq`, and the refusal names the answer only
 * as `feedbackRequestId`, so a client that routes `error` envelopes by `requestId` never takes
 * it for the end of that answer.
 */
import { PROTOCOL_VERSION, ProtocolError, validateRequestId, validateSessionId, type ErrorCode } from "./protocol";

export type FeedbackRating = "up" | "down";
export const FEEDBACK_RATINGS: readonly FeedbackRating[] = ["up", "down"];

/** Longest comment kept with a rating, in UTF-16 code units (what JavaScript's `length` counts). */
export const MAX_FEEDBACK_COMMENT_CHARS = 1000;

/** Days feedback (and the answer record it rates) is kept when the stack turns feedback on. */
export const DEFAULT_FEEDBACK_TTL_DAYS = 30;
/** Longest `feedbackTtlDays` (ten years). */
export const MAX_FEEDBACK_TTL_DAYS = 3650;

/** A rating of one of the caller's answers. */
export interface Feedback {
  requestId: string;
  rating: FeedbackRating;
  /** Absent when the caller wrote none (or only white space). */
  comment?: string;
}

/** `{"action":"feedback","requestId","rating","comment"?}` over the WebSocket. */
export interface FeedbackMessage extends Feedback {
  action: "feedback";
}

/** `POST /feedback`: the same, with the session the answer was asked in. */
export interface HttpFeedback extends Feedback {
  sessionId: string;
}

function fieldsOf(body: Record<string, unknown>): Feedback {
  const requestId = validateRequestId(body.requestId);
  if (typeof body.rating !== "string" || !(FEEDBACK_RATINGS as readonly string[]).includes(body.rating)) {
    throw new ProtocolError("bad_request", `rating must be one of: ${FEEDBACK_RATINGS.join(", ")}`);
  }
  const comment = body.comment;
  if (comment !== undefined && comment !== null && typeof comment !== "string") {
    throw new ProtocolError("bad_request", "comment must be a string");
  }
  if (typeof comment === "string" && comment.length > MAX_FEEDBACK_COMMENT_CHARS) {
    throw new ProtocolError("bad_request", `comment is longer than ${MAX_FEEDBACK_COMMENT_CHARS} characters`);
  }
  const trimmed = typeof comment === "string" ? comment.trim() : "";
  return { requestId, rating: body.rating as FeedbackRating, ...(trimmed === "" ? {} : { comment: trimmed }) };
}

function objectOf(text: string | null | undefined, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? "");
  } catch {
    throw new ProtocolError("bad_request", `${what} must be JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ProtocolError("bad_request", `${what} must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Parses a `feedback` frame; throws ProtocolError naming the first bad field. */
export function parseFeedbackMessage(body: string | null | undefined): FeedbackMessage {
  const message = objectOf(body, "message body");
  if (message.action !== "feedback") throw new ProtocolError("bad_request", 'action must be "feedback"');
  return { action: "feedback", ...fieldsOf(message) };
}

/** Parses a `POST /feedback` body (already a JSON object). */
export function parseHttpFeedback(body: Record<string, unknown>): HttpFeedback {
  return { sessionId: validateSessionId(body.sessionId), ...fieldsOf(body) };
}

/** The acknowledgement of accepted feedback; `replaced` when it overwrote the caller's earlier rating of the answer. */
export interface FeedbackAck {
  v: typeof PROTOCOL_VERSION;
  type: "feedback";
  requestId: string;
  rating: FeedbackRating;
  replaced: boolean;
}

/** The refusal of feedback, outside any answer's stream (no `requestId`, no `seq`). */
export interface FeedbackRefusal {
  v: typeof PROTOCOL_VERSION;
  type: "error";
  feedbackRequestId: string;
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

export function feedbackAck(requestId: string, rating: FeedbackRating, replaced: boolean): FeedbackAck {
  return { v: PROTOCOL_VERSION, type: "feedback", requestId, rating, replaced };
}

export function feedbackRefusal(requestId: string, error: { code: ErrorCode; message: string; retryable: boolean }): FeedbackRefusal {
  return { v: PROTOCOL_VERSION, type: "error", feedbackRequestId: requestId, code: error.code, message: error.message, retryable: error.retryable };
}
