/**
 * The fulfillment function's front doors, each a thin step from its event to the one answer
 * engine and back to its response shape. AWS calls are injected (DoorDeps), so each door is
 * tested with fakes; handler.ts wires the real ones. No door throws: bad input gets a clear
 * 4xx / error frame, a failed answer a clear final message.
 */
import type { LexV2Result } from "aws-lambda";
import type { AskLedger, AskSlot } from "../shared/ask-ledger";
import type { ConnectionsStore } from "../shared/connections";
import { logger } from "../shared/observability";
import { assertMayClaimSession, isBoundSessionId } from "../shared/principal";
import { lexAudienceOf, type SessionView } from "../shared/session-state";
import { DuplicateRequestError, ProtocolError, parseAskMessage, parseCancelMessage, parseResumeMessage, type AnswerMode } from "../shared/protocol";
import { isOverload } from "../shared/overload";
import { ROUTES } from "../shared/routes";
import type { ConnectionRow, StreamFormat } from "../shared/table";
import type { JournalEvent } from "../stream/journal";
import { MAX_REPLAYS_PER_ANSWER, type AnswerKey, type JournalStore } from "../stream/journal-store";
import type { StreamTransport } from "../stream/types";
import { postRefusal, type StreamWriterSettings } from "../stream/writer";
import type { AnswerError, AnswerRequest, AnswerResult } from "./engine";
import { DEFAULT_LEX_ANSWER_BUDGET_MS, TIME_BUDGET_MARGIN_MS } from "./config";
import { MESSAGES } from "./errors";
import {
  ASK_JOB_KIND,
  doorOf,
  isFeedbackRequest,
  lexSessionOf,
  parseAskJob,
  parseHttpAsk,
  parseHttpFeedbackRequest,
  parseLexEvent,
  parseWebSocketEvent,
  requestIdField,
  requestIdOf,
  type AskJob,
} from "./events";
import type { Clock } from "../shared/clock";
import { feedbackRoute, httpFeedback } from "./feedback";
import type { FeedbackStore } from "./feedback-store";
import type { UsageMetricsSink } from "./usage-metrics";
import { errorFrame, httpAnswer, httpError, lexClose, lexDelegate, STATUS_BY_CODE, type HttpResult } from "./responses";

/** HTTP API's longest integration timeout: past it the caller gets a 503 whatever we do. */
export const HTTP_API_TIMEOUT_MS = 30_000;
/** requestId of an error frame whose ask carried no usable one. */
export const UNKNOWN_REQUEST_ID = "unknown";

/**
 * Logged once per function instance, at the first Lex question on an unbound session id that
 * is neither streamed nor remembered because `unboundSessionStreaming` is off.
 */
export const UNBOUND_LEX_NOTICE =
  "Lex answer not streamed and not remembered: its session id is not bound to an identity (stock Lex Web UI guests send lex-web-ui- and 4 random hex digits), and Lex lets anyone ask under any session id, so the stack cannot tell who would receive it. Users logged in through the Cognito user pool (their identity id is the session id) stream and keep memory. To stream to guests anyway, accepting that whoever holds a guest's id receives what is asked under it, set unboundSessionStreaming (Pulumi config) / UNBOUND_SESSION_STREAMING=true (docs/reliability-and-security.md#sessions-and-who-receives-an-answer). Logged once per function instance.";

export const DOOR_MESSAGES = {
  streamingOff: "Streaming is not enabled on this stack, so questions cannot be asked over the WebSocket.",
  unregistered: "This connection is not registered (it may have expired). Reconnect and ask again.",
  unavailable: "The question could not be taken right now. Please try again.",
  overloaded: "The service is busy right now. Please ask again in a moment.",
  unknownEvent: "This function answers Lex V2 code hooks, POST /ask, POST /feedback and the WebSocket ask, resume, cancel and feedback routes only.",
  resumeNeedsJson: "resume needs a format=json connection: text frames carry no seq to resume after.",
  resumeUnknown: "There is no answer with this requestId to resume in this session (unknown, another caller's, or ended more than 10 minutes ago).",
  resumeTooLong: "This answer was too long to keep for a resume.",
  resumeReplayedOut: `This answer was replayed ${MAX_REPLAYS_PER_ANSWER} times already and is not replayed again.`,
  cancelUnknown: "There is no running answer with this requestId to cancel (it may have ended already).",
} as const;

export interface DoorDeps {
  /** The answer engine, bound to its generators, memory and stream opener. */
  answer(request: AnswerRequest): Promise<AnswerResult>;
  /** Mode for a Lex request that names none. */
  defaultMode: AnswerMode;
  /** Lex answers on session ids not bound to an identity may stream and be remembered (session-state.ts, SessionPolicy). @default false */
  unboundSessionStreaming?: boolean;
  /** Connections store; defined when streaming is on. */
  store?: ConnectionsStore;
  /** @connections transport; defined when streaming is on. */
  transport?: StreamTransport;
  /** Retries of a refusal's post, as the stream writer's (STREAM_POST_RETRIES). @default the writer's defaults */
  refusalPosts?: StreamWriterSettings;
  /** Asks in flight per connection and session (fair use); undefined: no limit. */
  ledger?: AskLedger;
  /** Answers kept for a resume; defined when streaming is on. */
  journal?: JournalStore;
  /** Streams an ended answer's rest to a connection that resumed it. */
  replay?(replay: { sessionId: string; requestId: string; connectionId: string; events: readonly JournalEvent[]; afterSeq: number }): Promise<void>;
  /** Starts the asynchronous job for a WebSocket ask (Lambda Invoke, InvocationType Event). */
  handOff?(job: AskJob): Promise<void>;
  /** Feedback records (feedback.ts); undefined when the stack keeps no feedback. */
  feedback?: FeedbackStore;
  /** Where feedback counts go. @default the function's Powertools metrics */
  metrics?: UsageMetricsSink;
  /** Milliseconds within which the Lex door answers Lex (below LEX_CODE_HOOK_TIMEOUT_MS). @default DEFAULT_LEX_ANSWER_BUDGET_MS */
  lexAnswerBudgetMs?: number;
  clock: Clock;
}

export interface InvocationContext {
  /** Lambda's context.getRemainingTimeInMillis; undefined = no budget known. */
  remainingMs?: () => number;
  /** Lambda's request id: the requestId of asks that bring none. */
  awsRequestId: string;
}

export interface JobOutcome {
  requestId: string;
  stopReason: string;
  streamed: boolean;
  error?: AnswerResult["error"];
}

export type DoorResult = LexV2Result | HttpResult | JobOutcome;

/**
 * When generation must stop: `TIME_BUDGET_MARGIN_MS` before the earlier of the Lambda's own
 * timeout and `capMs` (what the door's caller waits), so the stream's end, the memory write
 * and the response still fit.
 */
export function deadline(context: InvocationContext, deps: DoorDeps, capMs?: number): number | undefined {
  const now = deps.clock.now();
  const lambda = context.remainingMs ? now + context.remainingMs() - TIME_BUDGET_MARGIN_MS : undefined;
  const cap = capMs === undefined ? undefined : now + capMs - TIME_BUDGET_MARGIN_MS;
  if (lambda === undefined) return cap;
  return cap === undefined ? lambda : Math.min(lambda, cap);
}

export function asProtocolError(error: unknown): ProtocolError {
  if (error instanceof ProtocolError) return error;
  logger.error("unexpected failure", { error: error instanceof Error ? error.name : typeof error });
  return new ProtocolError("internal", MESSAGES.internal, 500, true);
}

/**
 * Takes the ask's slot in the ledger. A refusal (busy, duplicate) is thrown as the
 * ProtocolError it is; a ledger that cannot be reached lets the ask through, since an
 * outage of the fair-use bookkeeping must not stop every answer.
 */
export async function admit(deps: DoorDeps, slot: AskSlot): Promise<() => Promise<void>> {
  const { ledger } = deps;
  if (!ledger) return async () => undefined;
  try {
    await ledger.acquire(slot);
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    logger.warn("ask ledger unavailable; the ask is let through", { error: error instanceof Error ? error.name : typeof error });
    return async () => undefined;
  }
  return () => ledger.release(slot).catch((error) => logger.warn("ask slot could not be freed; its lease ends it", { error: errorName(error) }));
}

export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

let unboundNoticeLogged = false;

/**
 * Who the Lex door answers as (session-state.ts, lexAudienceOf: Lex passes no caller identity
 * and lets anyone ask under any session id). Only an unbound id with the setting on needs the
 * session read; one that cannot be read is treated as contested: the final answer matters
 * more than its stream.
 */
async function lexAudience(sessionId: string, deps: DoorDeps): Promise<Pick<AnswerRequest, "memoryOwner" | "memoryUntil" | "stream">> {
  const policy = { unboundSessionStreaming: deps.unboundSessionStreaming === true };
  let session: SessionView | undefined;
  if (policy.unboundSessionStreaming && !isBoundSessionId(sessionId) && deps.store) {
    try {
      session = await deps.store.listSession(sessionId);
    } catch (error) {
      logger.warn("session lookup failed; answering without stream or memory", { error: errorName(error) });
    }
  }
  const audience = lexAudienceOf(sessionId, session, policy);
  if (audience.withheld === "unbound" && !unboundNoticeLogged) {
    unboundNoticeLogged = true;
    logger.warn(UNBOUND_LEX_NOTICE);
  } else if (audience.withheld === "contested") {
    logger.warn("Lex answer not streamed: the session is claimed by several principals", { claimants: session?.claimants.length });
  }
  const { stream, memoryOwner, memoryUntil } = audience;
  return { stream, memoryOwner, ...(memoryUntil === undefined ? {} : { memoryUntil }) };
}

/** Test instrumentation: the next unbound Lex question logs UNBOUND_LEX_NOTICE again, as in a new instance. */
export function resetUnboundNotice(): void {
  unboundNoticeLogged = false;
}

/**
 * Lex V2 code hook: a `DialogCodeHook` invocation gets Delegate, a fulfillment one is answered
 * with Close. The stream goes to the session's connections where lexAudience allows it.
 * The answer returns within the Lex answer budget, below Lex's 30 s cut: one still generating
 * then ends cut short (time_budget) with what was generated, and a later "continue" resumes it.
 */
export async function lexDoor(event: unknown, context: InvocationContext, deps: DoorDeps): Promise<LexV2Result> {
  let ask;
  try {
    ask = parseLexEvent(event);
  } catch (error) {
    const message = asProtocolError(error).message;
    return lexClose(lexSessionOf(event), { markdown: message, plainText: message });
  }
  if (ask.invocationSource === "DialogCodeHook") return lexDelegate(ask);
  const requestId = ask.requestId ?? context.awsRequestId;
  let release;
  try {
    release = await admit(deps, { sessionId: ask.sessionId, key: `lex:${requestId}` });
  } catch (error) {
    const message = asProtocolError(error).message;
    return lexClose(ask, { markdown: message, plainText: message });
  }
  try {
    const result = await deps.answer({
      question: ask.question,
      sessionId: ask.sessionId,
      mode: ask.mode ?? deps.defaultMode,
      requestId,
      deadlineAt: deadline(context, deps, deps.lexAnswerBudgetMs ?? DEFAULT_LEX_ANSWER_BUDGET_MS),
      ...(await lexAudience(ask.sessionId, deps)),
    });
    return lexClose(ask, { markdown: result.answer, plainText: result.plainText });
  } finally {
    await release();
  }
}

/**
 * HTTP API `POST /ask` → JSON. The caller is known, so its answer streams to its own
 * connections of the session only, whoever else claims it.
 */
export async function httpDoor(event: unknown, context: InvocationContext, deps: DoorDeps): Promise<HttpResult> {
  let ask;
  let release;
  let requestId;
  try {
    ask = parseHttpAsk(event);
    assertMayClaimSession(ask.principal, ask.sessionId);
    requestId = ask.requestId ?? context.awsRequestId;
    release = await admit(deps, { sessionId: ask.sessionId, key: `http:${ask.principal.id}/${requestId}` });
  } catch (error) {
    const refusal = asProtocolError(error);
    return httpError(refusal, refusal.status);
  }
  try {
    const result = await deps.answer({
      question: ask.question,
      sessionId: ask.sessionId,
      principal: ask.principal.id,
      mode: ask.mode,
      requestId,
      deadlineAt: deadline(context, deps, HTTP_API_TIMEOUT_MS),
      ...(ask.reasoning ? { reasoning: true } : {}),
    });
    return httpAnswer(result, requestId);
  } finally {
    await release();
  }
}

/** HTTP API `POST /feedback`: the signed caller rates one of its ended answers (feedback.ts). */
async function httpFeedbackDoor(event: unknown, deps: DoorDeps): Promise<HttpResult> {
  let request;
  try {
    request = parseHttpFeedbackRequest(event);
  } catch (error) {
    const refusal = asProtocolError(error);
    return httpError(refusal, refusal.status);
  }
  return httpFeedback(request.principal, request.body, deps);
}

/**
 * WebSocket `ask` route: checks the frame, finds the asking connection's session, hands the
 * work to an asynchronous invocation and returns at once, so an answer longer than API
 * Gateway's 29 s integration timeout still arrives whole. The route is one-way: refusals
 * are posted to the connection as an `error` frame.
 */
export async function askRoute(event: unknown, deps: DoorDeps): Promise<HttpResult> {
  let connectionId: string;
  let routeKey: string;
  let body: string | undefined;
  try {
    ({ connectionId, routeKey, body } = parseWebSocketEvent(event));
  } catch (error) {
    return httpError(asProtocolError(error));
  }
  const requestId = requestIdOf(body) ?? UNKNOWN_REQUEST_ID;
  const { store, transport, handOff } = deps;
  if (!store || !transport || !handOff) {
    return httpError({ code: "internal", message: DOOR_MESSAGES.streamingOff, retryable: false }, 503);
  }
  const refuse = async (format: StreamFormat, refusal: ProtocolError): Promise<HttpResult> => {
    const payload = { code: refusal.code, message: refusal.message, retryable: refusal.retryable };
    const frame = errorFrame(format, requestId, refusal instanceof DuplicateRequestError ? refusal : payload);
    await postRefusal({ transport, options: deps.refusalPosts }, { connectionId, format }, requestId, frame);
    return httpError(payload, refusal.status);
  };

  let row;
  try {
    row = await store.find(connectionId);
  } catch (error) {
    logger.warn("connection lookup failed", { error: errorName(error) });
    return refuse("json", unavailable(error));
  }
  if (!row) return refuse("json", new ProtocolError("not_found", DOOR_MESSAGES.unregistered));
  if (routeKey === ROUTES.resume) return resume(row, body, deps, (refusal) => refuse(row.format, refusal));
  if (routeKey === ROUTES.cancel) return cancel(row, body, deps, (refusal) => refuse(row.format, refusal));
  if (routeKey === ROUTES.feedback) return feedbackRoute(row, body, deps, transport);

  let message;
  try {
    message = parseAskMessage(body);
  } catch (error) {
    return refuse(row.format, asProtocolError(error));
  }
  let release;
  try {
    release = await admit(deps, { sessionId: row.sessionId, connectionId, key: message.requestId });
  } catch (error) {
    // Refused before any work: one client's burst costs a DynamoDB write per ask, no invocation.
    return refuse(row.format, asProtocolError(error));
  }
  const job: AskJob = {
    kind: ASK_JOB_KIND,
    sessionId: row.sessionId,
    principal: row.principal,
    connectionId,
    format: row.format,
    requestId: message.requestId,
    question: message.question,
    mode: message.mode,
    // Reasoning envelopes reach json connections only: a text asker would pay for thinking it never sees.
    ...(message.reasoning && row.format === "json" ? { reasoning: true } : {}),
  };
  try {
    await handOff(job);
  } catch (error) {
    logger.warn("ask hand-off failed", { error: errorName(error) });
    await release();
    return refuse(row.format, unavailable(error));
  }
  return ACCEPTED;
}

type Refuse = (refusal: ProtocolError) => Promise<HttpResult>;

/** An ask that could not be taken: `busy` when a call was throttled or timed out (overload), else a retryable `internal`. */
function unavailable(error: unknown): ProtocolError {
  return isOverload(error) ? new ProtocolError("busy", DOOR_MESSAGES.overloaded, 429, true) : new ProtocolError("internal", DOOR_MESSAGES.unavailable, 503, true);
}

const ACCEPTED: HttpResult = { statusCode: 200, headers: {}, body: "" };

/**
 * A `resume` or a `cancel`: the message parsed, then carried out on one of the caller's own
 * answers through its journal item (the answer runs in another invocation). `act` returns
 * the refusal to send, if any.
 */
async function onOwnAnswer<T extends { requestId: string }>(
  row: ConnectionRow,
  body: string | undefined,
  deps: DoorDeps,
  refuse: Refuse,
  parse: (body: string | undefined) => T,
  act: (message: T, key: AnswerKey, journal: JournalStore) => Promise<ProtocolError | undefined>,
): Promise<HttpResult> {
  let message: T;
  try {
    message = parse(body);
  } catch (error) {
    return refuse(asProtocolError(error));
  }
  if (!deps.journal) return refuse(new ProtocolError("internal", DOOR_MESSAGES.streamingOff, 503));
  const key = { sessionId: row.sessionId, principal: row.principal, requestId: message.requestId };
  try {
    const refusal = await act(message, key, deps.journal);
    return refusal ? refuse(refusal) : ACCEPTED;
  } catch (error) {
    logger.warn("acting on an answer's journal failed", { error: errorName(error) });
    return refuse(new ProtocolError("internal", DOOR_MESSAGES.unavailable, 503, true));
  }
}

/**
 * WebSocket `resume`: the rest of one of the caller's answers after the last `seq` it saw, to
 * this (new) connection. A running answer's writer takes the connection at its next
 * checkpoint; an ended one is replayed from its journal here.
 */
function resume(row: ConnectionRow, body: string | undefined, deps: DoorDeps, refuse: Refuse): Promise<HttpResult> {
  if (row.format !== "json") return refuse(new ProtocolError("bad_request", DOOR_MESSAGES.resumeNeedsJson));
  return onOwnAnswer(row, body, deps, refuse, parseResumeMessage, async (message, key, journal) => {
    // Fair use: every resume frame counts against its connection, every replay against its answer.
    try {
      await deps.ledger?.chargeResume(row.connectionId);
    } catch (error) {
      if (error instanceof ProtocolError) return error;
      // As for asks: an outage of the fair-use bookkeeping does not stop a resume; the answer's own count still holds.
      logger.warn("resume count unavailable; the resume is let through", { error: errorName(error) });
    }
    const outcome = await journal.resume(key, row.connectionId, message.afterSeq);
    if (outcome.state === "unknown") return new ProtocolError("not_found", DOOR_MESSAGES.resumeUnknown);
    if (outcome.state === "too_long") return new ProtocolError("bad_request", DOOR_MESSAGES.resumeTooLong);
    if (outcome.state === "replayed_out") return new ProtocolError("busy", DOOR_MESSAGES.resumeReplayedOut, 429, false);
    if (outcome.state === "ended") {
      if (!deps.replay) return new ProtocolError("internal", DOOR_MESSAGES.streamingOff, 503);
      await deps.replay({ ...key, connectionId: row.connectionId, events: outcome.events, afterSeq: message.afterSeq });
    }
    return undefined;
  });
}

/**
 * WebSocket `cancel`: stops one of the caller's running answers. The writer reads the request
 * at its next checkpoint (STREAM_CHECKPOINT_MS) and the answer ends with stopReason
 * `cancelled` and the text so far. An answer already ended is left as it is.
 */
function cancel(row: ConnectionRow, body: string | undefined, deps: DoorDeps, refuse: Refuse): Promise<HttpResult> {
  return onOwnAnswer(row, body, deps, refuse, parseCancelMessage, async (_message, key, journal) =>
    (await journal.cancel(key)) ? undefined : new ProtocolError("not_found", DOOR_MESSAGES.cancelUnknown),
  );
}

/** Best effort, so a client whose job was malformed is not left waiting: the error frame to its connection. */
async function tellConnection(event: unknown, requestId: string, error: AnswerError, deps: DoorDeps): Promise<void> {
  const connectionId = (event as { connectionId?: unknown } | null)?.connectionId;
  if (typeof connectionId !== "string" || connectionId === "" || !deps.store || !deps.transport) return;
  let row;
  try {
    row = await deps.store.find(connectionId);
  } catch (failure) {
    logger.warn("the malformed job's connection could not be looked up", { error: errorName(failure) });
    return;
  }
  if (row) await postRefusal({ transport: deps.transport, options: deps.refusalPosts }, row, requestId, errorFrame(row.format, requestId, error));
}

/** The asynchronous job: answers, streaming to the asker's session as its principal. */
export async function askJob(event: unknown, context: InvocationContext, deps: DoorDeps): Promise<JobOutcome> {
  let job: AskJob;
  try {
    job = parseAskJob(event);
  } catch (error) {
    const refusal = asProtocolError(error);
    logger.error("malformed ask job", { code: refusal.code, reason: refusal.message });
    const payload = { code: refusal.code, message: refusal.message, retryable: false };
    const requestId = requestIdField(event) ?? UNKNOWN_REQUEST_ID;
    await tellConnection(event, requestId, payload, deps);
    return { requestId, stopReason: "error", streamed: false, error: payload };
  }
  let result;
  try {
    result = await deps.answer({
      question: job.question,
      sessionId: job.sessionId,
      principal: job.principal,
      mode: job.mode,
      requestId: job.requestId,
      deadlineAt: deadline(context, deps),
      asker: { connectionId: job.connectionId, format: job.format },
      ...(job.reasoning ? { reasoning: true } : {}),
    });
  } finally {
    // The slot the ask route took for this ask.
    await deps.ledger?.release({ sessionId: job.sessionId, connectionId: job.connectionId, key: job.requestId }).catch((error) => {
      logger.warn("ask slot could not be freed; its lease ends it", { error: errorName(error) });
    });
  }
  return {
    requestId: job.requestId,
    stopReason: result.stopReason,
    streamed: result.streamed,
    ...(result.error ? { error: result.error } : {}),
  };
}

/** Routes an event to its door; an event of no door gets a 400. */
export async function dispatch(event: unknown, context: InvocationContext, deps: DoorDeps): Promise<DoorResult> {
  switch (doorOf(event)) {
    case "lex":
      return lexDoor(event, context, deps);
    case "http":
      return isFeedbackRequest(event) ? httpFeedbackDoor(event, deps) : httpDoor(event, context, deps);
    case "websocket":
      return askRoute(event, deps);
    case "job":
      return askJob(event, context, deps);
    default:
      return httpError({ code: "bad_request", message: DOOR_MESSAGES.unknownEvent }, STATUS_BY_CODE.bad_request);
  }
}
