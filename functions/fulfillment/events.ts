/**
 * The fulfillment function's events, told apart and checked: a Lex V2 code hook, an HTTP API
 * (payload 2.0) `POST /ask`, the WebSocket `ask` route, and the internal asynchronous job the
 * `ask` route hands its work to. Pure. Every event is read as untrusted `unknown`: a malformed
 * one gives a ProtocolError naming what is wrong, never a TypeError.
 */
import type { LexV2Slots } from "aws-lambda";
import { connectionIdOf } from "../shared/events";
import { principalFromIdentity, type Principal } from "../shared/principal";
import {
  ProtocolError,
  REQUEST_ID_PATTERN,
  parseFormat,
  parseMode,
  parseReasoningFlag,
  validateQuestion,
  validateRequestId,
  validateSessionId,
  type AnswerMode,
} from "../shared/protocol";
import { FULFILLMENT_ROUTE_KEYS } from "../shared/routes";
import type { StreamFormat } from "../shared/table";

/** `kind` of the internal job event; nothing else carries it. */
export const ASK_JOB_KIND = "qnabot-streaming.ask";

/** What the `ask` route hands to the asynchronous self-invocation. */
export interface AskJob {
  kind: typeof ASK_JOB_KIND;
  sessionId: string;
  /** Principal of the asking connection (its row's). */
  principal: string;
  connectionId: string;
  /** The asking connection's format, so it can be answered even when the table cannot be read. */
  format: StreamFormat;
  requestId: string;
  question: string;
  mode: AnswerMode;
  /** The asker wants the model's reasoning (a json connection's `"reasoning": true`); absent: false. */
  reasoning?: boolean;
}

/** Session attribute a Lex client may set to choose the answer mode (`llm` or `kb`). */
export const LEX_MODE_ATTRIBUTE = "qnabotStreamingMode";

export type DoorName = "lex" | "http" | "websocket" | "job";

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** Which door an event came through; undefined when it is none of them. */
export function doorOf(event: unknown): DoorName | undefined {
  if (!isObject(event)) return undefined;
  if (event.kind === ASK_JOB_KIND) return "job";
  const context = event.requestContext;
  if (isObject(context) && typeof context.connectionId === "string" && typeof context.routeKey === "string") {
    return "websocket";
  }
  if (isObject(context) && isObject(context.http)) return "http";
  if (isObject(event.sessionState) || typeof event.inputTranscript === "string" || isObject(event.bot)) return "lex";
  return undefined;
}

export interface LexAsk {
  sessionId: string;
  /** `DialogCodeHook` (validation: Lex continues its dialog) or `FulfillmentCodeHook` (answer). */
  invocationSource: "DialogCodeHook" | "FulfillmentCodeHook";
  question: string;
  /** Undefined when the client chose none: the door picks the stack's default. */
  mode?: AnswerMode;
  /** Lex's originating request id when it fits the protocol, else undefined. */
  requestId?: string;
  sessionAttributes: Record<string, string>;
  intent?: { name: string; slots?: LexV2Slots };
}

/** Session attributes (strings only, as Lex requires) and intent, readable even from a bad event. */
export function lexSessionOf(event: unknown): Pick<LexAsk, "sessionAttributes" | "intent"> {
  const attributes: Record<string, string> = {};
  const raw = field(event, "sessionState", "sessionAttributes");
  if (isObject(raw)) {
    for (const [key, value] of Object.entries(raw)) if (typeof value === "string") attributes[key] = value;
  }
  const name = field(event, "sessionState", "intent", "name");
  const slots = field(event, "sessionState", "intent", "slots");
  return {
    sessionAttributes: attributes,
    intent: typeof name === "string" && name !== "" ? { name, ...(isObject(slots) ? { slots: slots as LexV2Slots } : {}) } : undefined,
  };
}

/**
 * Reads a Lex V2 code hook event. The streaming endpoint/table session attributes Lex Web UI
 * sends are deliberately not read: streaming goes only where the stack's environment says.
 */
export function parseLexEvent(event: unknown): LexAsk {
  const sessionId = validateSessionId(field(event, "sessionId"));
  const question = validateQuestion(field(event, "inputTranscript"));
  const session = lexSessionOf(event);
  const requested = session.sessionAttributes[LEX_MODE_ATTRIBUTE];
  const originating = field(event, "sessionState", "originatingRequestId");
  return {
    sessionId,
    // Lex sends one of the two; an event without one is treated as the fulfillment it is used as.
    invocationSource: field(event, "invocationSource") === "DialogCodeHook" ? "DialogCodeHook" : "FulfillmentCodeHook",
    question,
    mode: requested === undefined || requested === "" ? undefined : parseMode(requested),
    requestId: typeof originating === "string" && REQUEST_ID_PATTERN.test(originating) ? originating : undefined,
    ...session,
  };
}

export interface HttpAsk {
  question: string;
  sessionId: string;
  mode: AnswerMode;
  /** Optional in the body: lets a client match this answer to the frames of its socket. */
  requestId?: string;
  principal: Principal;
  /** `"reasoning": true` in the body: stream the model's reasoning to the caller's json connections. */
  reasoning: boolean;
}

function httpBody(event: unknown): Obj {
  const raw = field(event, "body");
  if (typeof raw !== "string" || raw === "") throw new ProtocolError("bad_request", "request body must be a JSON object");
  const text = field(event, "isBase64Encoded") === true ? Buffer.from(raw, "base64").toString("utf8") : raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ProtocolError("bad_request", "request body must be JSON");
  }
  if (!isObject(parsed)) throw new ProtocolError("bad_request", "request body must be a JSON object");
  return parsed;
}

/** HTTP API `POST /feedback` (functions/fulfillment/feedback.ts); a stage or custom domain may prefix the path. */
const FEEDBACK_PATH = /(^|\/)feedback\/?$/;

function pathOf(event: unknown): unknown {
  return field(event, "rawPath") ?? field(event, "requestContext", "http", "path");
}

/** Whether an HTTP API event is for `POST /feedback` rather than `POST /ask`. */
export function isFeedbackRequest(event: unknown): boolean {
  const path = pathOf(event);
  return typeof path === "string" && FEEDBACK_PATH.test(path);
}

/** The signed caller and JSON body of an HTTP API `POST /feedback`. */
export function parseHttpFeedbackRequest(event: unknown): { principal: Principal; body: Obj } {
  return httpRequest(event, { feedback: true });
}

/** The signed caller and JSON body of an HTTP API `POST /ask` or `POST /feedback`, or a function URL's `POST /` (`root`). */
function httpRequest(event: unknown, options: { root?: boolean; feedback?: boolean }): { principal: Principal; body: Obj } {
  const method = field(event, "requestContext", "http", "method");
  const path = pathOf(event);
  // A function URL has no routes of its own: its root is the door too.
  const route = options.feedback ? FEEDBACK_PATH : options.root ? /^\/(ask\/?)?$/ : /(^|\/)ask\/?$/;
  if (typeof path !== "string" || !route.test(path)) {
    throw new ProtocolError("not_found", `no such route: POST ${options.root ? "/ (or /ask) is the only one" : "/ask and POST /feedback are the only ones"}`);
  }
  if (method !== "POST") throw new ProtocolError("bad_request", "method must be POST", 405);
  const iam = field(event, "requestContext", "authorizer", "iam");
  const identityId = field(iam, "cognitoIdentity", "identityId");
  const userArn = field(iam, "userArn");
  const principal = principalFromIdentity({
    cognitoIdentityId: typeof identityId === "string" ? identityId : undefined,
    userArn: typeof userArn === "string" ? userArn : undefined,
  });
  if (!principal) throw new ProtocolError("forbidden", "the request carries no IAM identity");
  return { principal, body: httpBody(event) };
}

/**
 * Reads an HTTP API (payload 2.0) `POST /ask`, or a function URL's `POST /` (the same payload
 * format, `root`). The principal comes from the IAM authorizer's context
 * (`requestContext.authorizer.iam`), never from the body.
 */
export function parseHttpAsk(event: unknown, options: { root?: boolean } = {}): HttpAsk {
  const { principal, body } = httpRequest(event, options);
  return askOf(principal, body);
}

function askOf(principal: Principal, body: Obj): HttpAsk {
  return {
    question: validateQuestion(body.question),
    sessionId: validateSessionId(body.sessionId),
    mode: parseMode(body.mode),
    requestId: body.requestId === undefined ? undefined : validateRequestId(body.requestId),
    principal,
    reasoning: parseReasoningFlag(body.reasoning),
  };
}

/** `{"action":"cancel","sessionId","requestId"}` to the streaming function URL: stop one of the caller's answers. */
export interface UrlCancel {
  sessionId: string;
  requestId: string;
  principal: Principal;
}

/**
 * A function URL request: an ask, a cancel of one of the caller's answers (`action: "cancel"`),
 * or a rating of one (`action: "feedback"`, the body of `POST /feedback`, read by feedback.ts).
 */
export function parseUrlRequest(event: unknown): { ask: HttpAsk } | { cancel: UrlCancel } | { feedback: { principal: Principal; body: Obj } } {
  const { principal, body } = httpRequest(event, { root: true });
  if (body.action === undefined) return { ask: askOf(principal, body) };
  if (body.action === "feedback") return { feedback: { principal, body } };
  if (body.action !== "cancel") throw new ProtocolError("bad_request", 'action must be "cancel" or "feedback" (or absent, for an ask)');
  return { cancel: { sessionId: validateSessionId(body.sessionId), requestId: validateRequestId(body.requestId), principal } };
}

/** A message's `requestId` when usable, so even an error can be matched to its ask. */
export function requestIdField(message: unknown): string | undefined {
  const id = field(message, "requestId");
  return typeof id === "string" && REQUEST_ID_PATTERN.test(id) ? id : undefined;
}

/** The same, from a frame's JSON text. */
export function requestIdOf(body: unknown): string | undefined {
  if (typeof body !== "string") return undefined;
  try {
    return requestIdField(JSON.parse(body));
  } catch {
    return undefined;
  }
}

export interface WebSocketAsk {
  connectionId: string;
  routeKey: string;
  body: string | undefined;
}

export function parseWebSocketEvent(event: unknown): WebSocketAsk {
  // The id becomes a table key and a URL path: one API Gateway never sends is refused here.
  const connectionId = connectionIdOf(field(event, "requestContext"));
  const routeKey = field(event, "requestContext", "routeKey");
  if (connectionId === undefined || typeof routeKey !== "string") {
    throw new ProtocolError("bad_request", "requestContext.connectionId and routeKey are required");
  }
  if (!(FULFILLMENT_ROUTE_KEYS as readonly string[]).includes(routeKey)) {
    throw new ProtocolError("not_found", `this function serves the ${FULFILLMENT_ROUTE_KEYS.map((key) => `"${key}"`).join(" and ")} routes only`);
  }
  const body = field(event, "body");
  return { connectionId, routeKey, body: typeof body === "string" ? body : undefined };
}

/** Reads the internal job event; it comes from this function, but is checked like any input. */
export function parseAskJob(event: unknown): AskJob {
  if (!isObject(event) || event.kind !== ASK_JOB_KIND) throw new ProtocolError("bad_request", "not an ask job");
  if (typeof event.principal !== "string" || event.principal === "") {
    throw new ProtocolError("bad_request", "ask job without a principal");
  }
  if (typeof event.connectionId !== "string" || event.connectionId === "") {
    throw new ProtocolError("bad_request", "ask job without a connectionId");
  }
  return {
    kind: ASK_JOB_KIND,
    sessionId: validateSessionId(event.sessionId),
    principal: event.principal,
    connectionId: event.connectionId,
    format: parseFormat(event.format),
    requestId: validateRequestId(event.requestId),
    question: validateQuestion(event.question),
    mode: parseMode(event.mode),
    ...(parseReasoningFlag(event.reasoning) ? { reasoning: true } : {}),
  };
}
