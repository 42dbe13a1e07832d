/**
 * The @connections management API (`POST|GET|DELETE /{stage}/@connections/{id}`) as the
 * ApiGatewayManagementApi SDK client sees it: SigV4 `Authorization` checked, typed errors
 * in `x-amzn-errortype`, GetConnection's JSON field names, DeleteConnection's 204. Latency
 * and failures can be injected per request for tests and benchmarks.
 *
 * A slow reader, as API Gateway treats one: a post is answered once the message is queued
 * for the client, not once the client has read it; while a client is not reading, its
 * queue grows, and once it holds more than `maxBufferedBytes` a post is refused with 429
 * LimitExceededException, which the API reference gives for "the WebSocket client side
 * buffer is full". The socket stays open (the writer decides: retry, or DeleteConnection).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { GatewayConnection } from "./connection";
import { closeStatus } from "./connection";
import { BodyTooLargeError, verifySignedRequest } from "../signed-request";
import { SignatureError, type SigV4Verifier } from "./sigv4";

export type ConnectionsApiMethod = "POST" | "GET" | "DELETE";

/** One authenticated @connections request, as fault and latency injection see it. */
export interface ConnectionsApiRequest {
  readonly method: ConnectionsApiMethod;
  readonly connectionId: string;
  /** Body size (PostToConnection data). */
  readonly bytes: number;
  /** 1-based count of authenticated @connections requests since the gateway started. */
  readonly seq: number;
}

/** An injected failure: the status, and the error type the SDK will throw (defaults by status). */
export interface ConnectionsApiFault {
  readonly status: number;
  /** @default by status: 403 ForbiddenException, 410 GoneException, 413 PayloadTooLargeException, 429 LimitExceededException, 5xx InternalServerErrorException */
  readonly errorType?: string;
  readonly message?: string;
}

export interface ConnectionsApiBehaviour {
  /** Added before each authenticated request is answered (a number, or a function for jitter). @default 0 */
  readonly latencyMs?: number | ((request: ConnectionsApiRequest) => number);
  /** Decides per request whether to fail it instead of doing it. @default never */
  readonly fault?: (request: ConnectionsApiRequest) => ConnectionsApiFault | undefined;
}

/** Counts of authenticated requests (injected failures included). */
export interface ConnectionsApiStats {
  posts: number;
  /** Bytes delivered by successful posts. */
  postBytes: number;
  gets: number;
  deletes: number;
  /** Posts refused with 429 because the client was not reading (its buffer was full). */
  bufferFull: number;
  /** Answered errors by status (injected or real). */
  errors: Record<number, number>;
}

export interface ConnectionsApiDeps {
  readonly stage: string;
  readonly region: string;
  readonly apiId: string;
  readonly verifier: SigV4Verifier;
  readonly maxMessageBytes: number;
  /** Bytes a connection may have queued and unread before posts to it get 429. */
  readonly maxBufferedBytes: number;
  lookup(connectionId: string): GatewayConnection | undefined;
  behaviour(): ConnectionsApiBehaviour;
  readonly stats: ConnectionsApiStats;
}

const DEFAULT_ERROR_TYPES: Readonly<Record<number, string>> = {
  400: "BadRequestException",
  403: "ForbiddenException",
  410: "GoneException",
  413: "PayloadTooLargeException",
  429: "LimitExceededException",
};

function errorTypeFor(status: number): string {
  return DEFAULT_ERROR_TYPES[status] ?? (status >= 500 ? "InternalServerErrorException" : "BadRequestException");
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: string | undefined, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    "x-amzn-requestid": randomUUID(),
    ...(body === undefined ? { "content-length": "0" } : { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }),
    ...headers,
  });
  res.end(body);
}

function sendError(res: ServerResponse, error: ApiError, stats: ConnectionsApiStats): void {
  stats.errors[error.status] = (stats.errors[error.status] ?? 0) + 1;
  // A request refused before its body was read cannot leave the connection usable for another.
  const unread = !res.req.complete;
  send(res, error.status, JSON.stringify({ message: error.message }), { "x-amzn-errortype": error.errorType, ...(unread ? { connection: "close" } : {}) });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function createConnectionsApi(deps: ConnectionsApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  let seq = 0;
  const resourceArn = (accountId: string, method: string, connectionId: string): string =>
    `arn:aws:execute-api:${deps.region}:${accountId}:${deps.apiId}/${deps.stage}/${method}/@connections/${connectionId}`;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const queryAt = url.indexOf("?");
    const rawPath = queryAt < 0 ? url : url.slice(0, queryAt);
    const segments = rawPath.split("/").map(decodeSegment);
    const method = req.method ?? "";
    if (
      segments.length !== 4 ||
      segments[0] !== "" ||
      segments[1] !== deps.stage ||
      segments[2] !== "@connections" ||
      !segments[3] ||
      !(method === "POST" || method === "GET" || method === "DELETE")
    ) {
      // What API Gateway answers for a wrong stage or path (a common endpoint misconfiguration).
      throw new ApiError(403, "ForbiddenException", `No method found matching route ${rawPath.replace(/^\//, "")} for http method ${method}.`);
    }
    const connectionId = segments[3];

    let credential;
    let body: Buffer;
    try {
      // An unsigned or foreign caller gets its 403 before any of its body is read, a body over the
      // 128 KB message payload quota its 413 unread; a known key id with a bad signature has its
      // body read from the budget every local endpoint shares (signed-request.ts).
      ({ credential, body } = await verifySignedRequest(deps.verifier, req, deps.maxMessageBytes));
    } catch (error) {
      if (error instanceof SignatureError) throw new ApiError(403, "ForbiddenException", error.message);
      if (error instanceof BodyTooLargeError) {
        const size = error.declared === undefined ? "Message size" : `Message size ${error.declared}`;
        throw new ApiError(413, "PayloadTooLargeException", `${size} exceeds the ${deps.maxMessageBytes} byte limit`);
      }
      throw error;
    }
    if (credential.allow?.manageConnections === false) {
      throw new ApiError(
        403,
        "ForbiddenException",
        `User: ${credential.identity.userArn} is not authorized to perform: execute-api:ManageConnections on resource: ${resourceArn(credential.identity.accountId, method, connectionId)}`,
      );
    }

    const request: ConnectionsApiRequest = { method, connectionId, bytes: body.length, seq: ++seq };
    if (method === "POST") deps.stats.posts += 1;
    else if (method === "GET") deps.stats.gets += 1;
    else deps.stats.deletes += 1;
    const behaviour = deps.behaviour();
    const latency = typeof behaviour.latencyMs === "function" ? behaviour.latencyMs(request) : (behaviour.latencyMs ?? 0);
    if (latency > 0) await delay(latency);
    const fault = behaviour.fault?.(request);
    if (fault) throw new ApiError(fault.status, fault.errorType ?? errorTypeFor(fault.status), fault.message ?? `Injected fault ${fault.status}`);

    switch (method) {
      case "POST": {
        const connection = deps.lookup(connectionId);
        if (!connection?.open) throw new ApiError(410, "GoneException", `Connection ${connectionId} is gone`);
        if (connection.bufferedBytes > deps.maxBufferedBytes) {
          deps.stats.bufferFull += 1;
          throw new ApiError(429, "LimitExceededException", `The WebSocket client side buffer of connection ${connectionId} is full`);
        }
        connection.queue(body);
        deps.stats.postBytes += body.length;
        send(res, 200, undefined);
        return;
      }
      case "GET": {
        const connection = deps.lookup(connectionId);
        if (!connection?.open) throw new ApiError(410, "GoneException", `Connection ${connectionId} is gone`);
        send(
          res,
          200,
          JSON.stringify({
            connectedAt: new Date(connection.connectedAt).toISOString(),
            identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
            lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
          }),
        );
        return;
      }
      case "DELETE": {
        const connection = deps.lookup(connectionId);
        if (!connection?.open) throw new ApiError(410, "GoneException", `Connection ${connectionId} is gone`);
        connection.close(closeStatus(1000, ""));
        send(res, 204, undefined);
        return;
      }
    }
  }

  return async (req, res) => {
    try {
      await serve(req, res);
    } catch (error) {
      if (error instanceof ApiError) sendError(res, error, deps.stats);
      else {
        sendError(res, new ApiError(500, "InternalServerErrorException", "Internal server error"), deps.stats);
        throw error;
      }
    }
  };
}
