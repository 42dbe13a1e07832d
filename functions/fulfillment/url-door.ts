/**
 * The streaming HTTP door: `POST` to a Lambda function URL (AWS_IAM, RESPONSE_STREAM) with the
 * body of `POST /ask`. `Accept: text/event-stream` streams the answer as Server-Sent Events
 * mirroring protocol v1 (no WebSocket, no connections table, no PostToConnection, no 30 s cut);
 * otherwise the complete answer comes back as JSON, as from `POST /ask`. Same engine, memory,
 * modes, guardrails, hooks and fair use as every other door. Bad input is a 4xx JSON error
 * before any stream starts.
 *
 * A caller that hangs up does not stop the answer: Lambda does not interrupt a response
 * stream when its client disconnects, and bills the function until it ends
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html). So the
 * caller stops it explicitly: a signed `POST {"action":"cancel","sessionId","requestId"}` by
 * the same principal marks the answer's journal item cancelled (as the WebSocket `cancel`
 * does), and the writer stops the generation at its next checkpoint. A signed
 * `POST {"action":"feedback","sessionId","requestId","rating","comment"?}` rates one of the
 * caller's ended answers, as `POST /feedback` does (feedback.ts).
 */
import type { Writable } from "node:stream";
import { assertMayClaimSession } from "../shared/principal";
import { SseTransport } from "../stream/sse";
import { openDirectStream } from "../stream/writer";
import { logger } from "../shared/observability";
import { admit, asProtocolError, deadline, DOOR_MESSAGES, errorName, type DoorDeps, type InvocationContext } from "./doors";
import { parseUrlRequest, type UrlCancel } from "./events";
import { httpFeedback } from "./feedback";
import { httpAnswer, httpError, json, type HttpResult } from "./responses";
import { ProtocolError } from "../shared/protocol";

/** Where the door writes its response: the runtime's HttpResponseStream, or a local stand-in. */
export interface HttpResponseSink {
  /** Sends the status and headers; the body is written to the returned stream. */
  open(statusCode: number, headers: Record<string, string>): Writable;
}

export const EVENT_STREAM_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
} as const;

/** The function URL's target: one json "lane" on the response. */
const RESPONSE_TARGET = { connectionId: "http-response", format: "json" } as const;

/** Whether the caller asked for an event stream (Accept: text/event-stream). */
export function wantsEventStream(event: unknown): boolean {
  const headers = (event as { headers?: unknown } | null)?.headers;
  if (typeof headers !== "object" || headers === null) return false;
  const accept = Object.entries(headers).find(([name]) => name.toLowerCase() === "accept")?.[1];
  return typeof accept === "string" && accept.toLowerCase().includes("text/event-stream");
}

function writeWhole(response: HttpResponseSink, result: HttpResult): void {
  response.open(result.statusCode, result.headers).end(result.body);
}

/** Marks one of the caller's running answers cancelled: 200 `{requestId, cancelled: true}`, else a 404. */
async function cancelAnswer(cancel: UrlCancel, deps: DoorDeps): Promise<HttpResult> {
  // The function URL deploys with streaming only, so its journal is always there on AWS.
  if (!deps.journal) return httpError(new ProtocolError("internal", DOOR_MESSAGES.unavailable, 503), 503);
  const key = { sessionId: cancel.sessionId, principal: cancel.principal.id, requestId: cancel.requestId };
  let cancelled: boolean;
  try {
    cancelled = await deps.journal.cancel(key);
  } catch (error) {
    logger.warn("the answer's journal could not be marked cancelled", { error: errorName(error) });
    return httpError(new ProtocolError("internal", DOOR_MESSAGES.unavailable, 503, true), 503);
  }
  if (!cancelled) return httpError(new ProtocolError("not_found", DOOR_MESSAGES.cancelUnknown), 404);
  return json(200, { requestId: cancel.requestId, cancelled: true });
}

export async function urlDoor(event: unknown, response: HttpResponseSink, context: InvocationContext, deps: DoorDeps): Promise<void> {
  let ask;
  let requestId: string;
  let release: () => Promise<void>;
  try {
    const parsed = parseUrlRequest(event);
    if ("cancel" in parsed) {
      writeWhole(response, await cancelAnswer(parsed.cancel, deps));
      return;
    }
    if ("feedback" in parsed) {
      writeWhole(response, await httpFeedback(parsed.feedback.principal, parsed.feedback.body, deps));
      return;
    }
    ask = parsed.ask;
    assertMayClaimSession(ask.principal, ask.sessionId);
    requestId = ask.requestId ?? context.awsRequestId;
    release = await admit(deps, { sessionId: ask.sessionId, key: `url:${ask.principal.id}/${requestId}` });
  } catch (error) {
    const refusal = asProtocolError(error);
    writeWhole(response, httpError(refusal, refusal.status));
    return;
  }
  const request = {
    question: ask.question,
    sessionId: ask.sessionId,
    principal: ask.principal.id,
    mode: ask.mode,
    requestId,
    deadlineAt: deadline(context, deps),
    ...(ask.reasoning ? { reasoning: true } : {}),
  };
  try {
    if (!wantsEventStream(event)) {
      writeWhole(response, httpAnswer(await deps.answer(request), requestId));
      return;
    }
    const transport = new SseTransport(response.open(200, { ...EVENT_STREAM_HEADERS }));
    const { journal } = deps;
    await deps.answer({
      ...request,
      // Every write costs nothing per call here, unlike PostToConnection: no frame budget.
      streamTo: (open) => openDirectStream({ transport, journal, options: { flushIntervalMs: { json: 0, text: 0 } } }, open, RESPONSE_TARGET),
    });
    await transport.close();
  } finally {
    await release();
  }
}
