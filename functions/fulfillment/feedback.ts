/**
 * Feedback on an answer from its asker (issue 24, item 3): the WebSocket `feedback` route,
 * HTTP `POST /feedback`, the record an answer leaves for it when it ends, and its metrics.
 * The stores and the @connections transport are injected (doors.ts, DoorDeps).
 */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { feedbackAck, feedbackRefusal, parseFeedbackMessage, parseHttpFeedback, type Feedback, type FeedbackRating } from "../shared/feedback";
import { metrics as defaultMetrics } from "../shared/metrics";
import { logger } from "../shared/observability";
import { assertMayClaimSession, type Principal } from "../shared/principal";
import { ProtocolError, REQUEST_ID_PATTERN, type AnswerMode, type Citation } from "../shared/protocol";
import type { ConnectionRow } from "../shared/table";
import type { StreamTransport } from "../stream/types";
import { sourcesOf, type FeedbackKey, type FeedbackStore } from "./feedback-store";
import { httpError, json, type HttpResult } from "./responses";
import type { UsageMetricsSink } from "./usage-metrics";

/** Metric names, shared with the dashboard (components/monitoring.ts). */
export const FEEDBACK_METRICS: Readonly<Record<FeedbackRating, string>> = { up: "FeedbackUp", down: "FeedbackDown" };

export const FEEDBACK_MESSAGES = {
  off: "Feedback is not enabled on this stack (feedbackTtlDays is 0).",
  unknown:
    "There is no ended answer of yours with this requestId in this session to rate (unknown, another caller's, failed, still being answered, or past the stack's feedback retention).",
  unavailable: "The feedback could not be stored right now. Please try again.",
} as const;

/** Counts one accepted rating; a changed rating counts again. */
export function meterFeedback(rating: FeedbackRating, sink: UsageMetricsSink = defaultMetrics): void {
  sink.addMetric(FEEDBACK_METRICS[rating], MetricUnit.Count, 1);
  sink.publishStoredMetrics();
}

/** What feedback needs of the doors' dependencies. */
export interface FeedbackDeps {
  /** Feedback records; undefined when the stack keeps no feedback. */
  feedback?: FeedbackStore;
  /** @default the function's Powertools metrics */
  metrics?: UsageMetricsSink;
}

/** The ended answer, as the engine knows it when it ends. */
export interface EndedAnswer {
  sessionId: string;
  principal?: string;
  requestId: string;
  question: string;
  mode: AnswerMode;
  final: string;
  model?: string;
  citations: readonly Citation[];
  stopReason: string;
}

/**
 * Writes the record feedback will rate, before the answer's `end` goes out: a client that rates
 * an answer as soon as it sees its end finds it. Without an asker (the Lex door) nobody could
 * rate it, so nothing is written. A failed write costs the answer nothing but its feedback.
 */
export async function recordForFeedback(store: FeedbackStore | undefined, ended: EndedAnswer): Promise<void> {
  if (!store || ended.principal === undefined) return;
  try {
    await store.recordAnswer({
      sessionId: ended.sessionId,
      principal: ended.principal,
      requestId: ended.requestId,
      question: ended.question,
      answer: ended.final,
      mode: ended.mode,
      ...(ended.model ? { model: ended.model } : {}),
      sources: sourcesOf(ended.citations),
      stopReason: ended.stopReason,
    });
  } catch (error) {
    logger.warn("the answer could not be recorded for feedback", { requestId: ended.requestId, error: error instanceof Error ? error.name : typeof error });
  }
}

/** Stores the rating; throws the ProtocolError to answer with when it is refused. */
async function rate(deps: FeedbackDeps, key: FeedbackKey, feedback: Feedback): Promise<boolean> {
  if (!deps.feedback) throw new ProtocolError("bad_request", FEEDBACK_MESSAGES.off);
  let outcome;
  try {
    outcome = await deps.feedback.rate(key, feedback);
  } catch (error) {
    logger.warn("feedback could not be stored", { error: error instanceof Error ? error.name : typeof error });
    throw new ProtocolError("internal", FEEDBACK_MESSAGES.unavailable, 503, true);
  }
  if (outcome.state === "unknown") throw new ProtocolError("not_found", FEEDBACK_MESSAGES.unknown);
  meterFeedback(feedback.rating, deps.metrics);
  logger.info("feedback stored", { requestId: key.requestId, rating: feedback.rating, comment: feedback.comment !== undefined, replaced: outcome.replaced });
  return outcome.replaced;
}

function refusalOf(error: unknown): ProtocolError {
  return error instanceof ProtocolError ? error : new ProtocolError("internal", FEEDBACK_MESSAGES.unavailable, 500, true);
}

/** The requestId a refusal names: the frame's, when it is usable. */
function requestIdIn(body: string | undefined): string {
  try {
    const id = (JSON.parse(body ?? "") as { requestId?: unknown } | null)?.requestId;
    return typeof id === "string" && REQUEST_ID_PATTERN.test(id) ? id : "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * WebSocket `feedback`: rates one of the caller's ended answers in the connection's session.
 * The route is one-way: the ack or the refusal is posted to the connection (a `format=text`
 * connection gets a refusal's message only).
 */
export async function feedbackRoute(row: ConnectionRow, body: string | undefined, deps: FeedbackDeps, transport: StreamTransport): Promise<HttpResult> {
  let reply: unknown;
  let result: HttpResult;
  try {
    const message = parseFeedbackMessage(body);
    const replaced = await rate(deps, { sessionId: row.sessionId, principal: row.principal, requestId: message.requestId }, message);
    reply = row.format === "json" ? feedbackAck(message.requestId, message.rating, replaced) : undefined;
    result = { statusCode: 200, headers: {}, body: "" };
  } catch (error) {
    const refusal = refusalOf(error);
    const payload = { code: refusal.code, message: refusal.message, retryable: refusal.retryable };
    reply = row.format === "json" ? feedbackRefusal(requestIdIn(body), payload) : refusal.message;
    result = httpError(payload, refusal.status);
  }
  if (reply !== undefined) {
    try {
      await transport.post(row.connectionId, new TextEncoder().encode(typeof reply === "string" ? reply : JSON.stringify(reply)));
    } catch (error) {
      logger.warn("feedback reply could not be posted", { error: error instanceof Error ? error.name : typeof error });
    }
  }
  return result;
}

/**
 * HTTP `POST /feedback` `{sessionId, requestId, rating, comment?}`, signed by the asker:
 * 200 `{requestId, rating, replaced}`, else a 4xx/5xx error body as `POST /ask` answers.
 */
export async function httpFeedback(principal: Principal, body: Record<string, unknown>, deps: FeedbackDeps): Promise<HttpResult> {
  try {
    const feedback = parseHttpFeedback(body);
    assertMayClaimSession(principal, feedback.sessionId);
    const replaced = await rate(deps, { sessionId: feedback.sessionId, principal: principal.id, requestId: feedback.requestId }, feedback);
    return json(200, { requestId: feedback.requestId, rating: feedback.rating, replaced });
  } catch (error) {
    const refusal = refusalOf(error);
    return httpError(refusal, refusal.status);
  }
}
