/**
 * Lambda proxy events shaped like API Gateway's WebSocket events (field set and order
 * taken from captured CONNECT/MESSAGE/DISCONNECT events: aws-lambda-go and
 * aws-lambda-rust-runtime fixtures, AWS sample logs). Pure: ids and times come in.
 */
import { randomBytes } from "node:crypto";
import type { WebSocketEvent, WebSocketIdentity } from "../../functions/shared/events";
import { ROUTES } from "../../functions/shared/routes";
import { proxyMaps } from "./query";

/** What every event of one connection shares. */
export interface ConnectionContext {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly stage: string;
  readonly apiId: string;
  /** The Host the client connected to (API Gateway reports the domain the client used). */
  readonly domainName: string;
  readonly sourceIp: string;
  readonly userAgent: string | null;
}

/** The identity fields API Gateway always lists on `$connect`, null when the authorizer has nothing to say. */
export type ConnectIdentity = Required<{ [K in keyof WebSocketIdentity]: WebSocketIdentity[K] | null }>;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `13/Dec/2020:10:17:47 +0000`, API Gateway's `requestTime`. */
export function formatRequestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number): string => String(n).padStart(2, "0");
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** A 16-character id like API Gateway's connection, request and message ids (`XfGLwFTktjMFsLg=`). */
export function newGatewayId(): string {
  return `${randomBytes(11).toString("base64url")}=`;
}

/** `Root=1-{hex time}-{24 hex}`, an X-Ray trace header as API Gateway adds it. */
function traceId(epochMs: number): string {
  return `Root=1-${Math.floor(epochMs / 1000).toString(16)}-${randomBytes(12).toString("hex")}`;
}

function requestContext(ctx: ConnectionContext, routeKey: string, eventType: "CONNECT" | "MESSAGE" | "DISCONNECT", now: number, requestId: string) {
  return {
    routeKey,
    eventType,
    extendedRequestId: requestId,
    requestTime: formatRequestTime(now),
    messageDirection: "IN" as const,
    stage: ctx.stage,
    connectedAt: ctx.connectedAt,
    requestTimeEpoch: now,
  };
}

function tail(ctx: ConnectionContext, requestId: string) {
  return { requestId, domainName: ctx.domainName, connectionId: ctx.connectionId, apiId: ctx.apiId };
}

/** After `$connect` the caller's IAM fields are not repeated; only where the messages come from. */
function messageIdentity(ctx: ConnectionContext): WebSocketIdentity {
  return ctx.userAgent === null ? { sourceIp: ctx.sourceIp } : { sourceIp: ctx.sourceIp, userAgent: ctx.userAgent };
}

export interface ConnectRequest {
  /** Header name/value pairs as sent (node's `rawHeaders`, so the client's casing survives). */
  readonly rawHeaders: readonly string[];
  readonly query: readonly (readonly [string, string])[];
  /** Port the client connected to, for X-Forwarded-Port. */
  readonly port: number;
  readonly identity: ConnectIdentity;
}

/** Hop-by-hop headers API Gateway consumes instead of passing on. */
const DROPPED_HEADERS = new Set(["connection", "upgrade"]);

export function connectEvent(ctx: ConnectionContext, request: ConnectRequest, now: number, requestId: string): WebSocketEvent {
  const pairs: [string, string][] = [];
  const seen = new Set<string>();
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i];
    if (DROPPED_HEADERS.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    pairs.push([name, request.rawHeaders[i + 1]]);
  }
  const added: [string, string][] = [
    ["X-Amzn-Trace-Id", traceId(now)],
    ["X-Forwarded-For", ctx.sourceIp],
    ["X-Forwarded-Port", String(request.port)],
    ["X-Forwarded-Proto", "http"],
  ];
  for (const [name, value] of added) if (!seen.has(name.toLowerCase())) pairs.push([name, value]);
  const headers = proxyMaps(pairs);
  const query = request.query.length > 0 ? proxyMaps(request.query) : undefined;
  const event = {
    headers: headers.single,
    multiValueHeaders: headers.multi,
    ...(query ? { queryStringParameters: query.single, multiValueQueryStringParameters: query.multi } : {}),
    requestContext: {
      ...requestContext(ctx, ROUTES.connect, "CONNECT", now, requestId),
      identity: request.identity,
      ...tail(ctx, requestId),
    },
    isBase64Encoded: false,
  };
  // @types/aws-lambda declares messageId required; API Gateway leaves it out of CONNECT and DISCONNECT.
  return event as unknown as WebSocketEvent;
}

export function messageEvent(
  ctx: ConnectionContext,
  routeKey: string,
  body: string,
  isBase64Encoded: boolean,
  now: number,
  ids: { requestId: string; messageId: string },
): WebSocketEvent {
  const { routeKey: key, ...rest } = requestContext(ctx, routeKey, "MESSAGE", now, ids.requestId);
  return {
    requestContext: {
      routeKey: key,
      messageId: ids.messageId,
      ...rest,
      identity: messageIdentity(ctx),
      ...tail(ctx, ids.requestId),
    },
    body,
    isBase64Encoded,
  };
}

export function disconnectEvent(ctx: ConnectionContext, status: { code: number; reason: string }, now: number, requestId: string): WebSocketEvent {
  const { routeKey, ...rest } = requestContext(ctx, ROUTES.disconnect, "DISCONNECT", now, requestId);
  // The odd header set is what API Gateway really sends on DISCONNECT.
  const headers = proxyMaps([
    ["Host", ctx.domainName],
    ["x-api-key", ""],
    ["X-Forwarded-For", ""],
    ["x-restapi", ""],
  ]);
  const event = {
    headers: headers.single,
    multiValueHeaders: headers.multi,
    requestContext: {
      routeKey,
      disconnectStatusCode: status.code,
      ...rest,
      disconnectReason: status.reason,
      identity: messageIdentity(ctx),
      ...tail(ctx, requestId),
    },
    isBase64Encoded: false,
  };
  return event as unknown as WebSocketEvent;
}
