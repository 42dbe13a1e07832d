/**
 * A local API Gateway V2 WebSocket API: one node:http server on loopback that serves the
 * WebSocket endpoint (`ws://127.0.0.1:{port}/{stage}`) and the @connections API on the
 * same port, invoking the real Lambda handlers in-process with API Gateway's events.
 */
import { STATUS_CODES, createServer, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { APIGatewayProxyResultV2, Callback, Context } from "aws-lambda";
import { WebSocketServer, type RawData, type ServerOptions, type WebSocket } from "ws";
import type { WebSocketEvent } from "../../functions/shared/events";
import { ROUTES } from "../../functions/shared/routes";
import { InvocationTracker, createLambdaContext } from "../lambda-api";
import { GatewayConnection, closeStatus, type CloseStatus, type GatewayConnectionInfo } from "./connection";
import { createConnectionsApi, type ConnectionsApiBehaviour, type ConnectionsApiStats } from "./connections-api";
import type { CredentialLookup, LocalCredential } from "./credentials";
import { connectEvent, disconnectEvent, messageEvent, newGatewayId, type ConnectIdentity, type ConnectionContext } from "./events";
import { parseQuery, proxyMaps } from "./query";
import { RouteTable } from "./routing";
import { SigV4Verifier, SignatureError } from "./sigv4";
import { TokenBucket, type RouteThrottles, type StageThrottle } from "./throttle";
import { listenOnLoopback } from "../loopback";

/** A Lambda handler as API Gateway invokes it (async; the callback style is not supported). */
export type RouteHandler = (
  event: WebSocketEvent,
  context: Context,
  callback: Callback<APIGatewayProxyResultV2>,
) => void | Promise<APIGatewayProxyResultV2 | void>;

export interface RouteIntegration {
  readonly handler: RouteHandler;
  /** `context.functionName`. @default `ws-{routeKey without $}` */
  readonly functionName?: string;
  /** Function timeout behind `context.getRemainingTimeInMillis()`. @default 30000 */
  readonly timeoutMs?: number;
}

export interface GatewayLimits {
  /** Largest client message; a bigger one closes the socket with 1009, a bigger post answers 413. @default 131072 (128 KB) */
  readonly maxMessageBytes: number;
  /** A connection with no client message for this long is closed (1001). @default 600000 (10 min) */
  readonly idleTimeoutMs: number;
  /** A connection is closed (1001) this long after it opened. @default 7200000 (2 h) */
  readonly maxConnectionMs: number;
  /** After this the client gets a timeout error; the handler itself runs on. @default 29000 */
  readonly integrationTimeoutMs: number;
  /**
   * Bytes queued for a client that is not reading before a PostToConnection to it gets 429
   * LimitExceededException ("the WebSocket client side buffer is full"); AWS documents no
   * size, so this is a local choice, on top of what the sockets themselves buffer. @default 1048576 (1 MiB)
   */
  readonly maxBufferedBytes: number;
}

/** API Gateway's WebSocket quotas (API Gateway developer guide, WebSocket API quotas). */
export const AWS_WEBSOCKET_LIMITS: GatewayLimits = {
  maxMessageBytes: 128 * 1024,
  idleTimeoutMs: 10 * 60 * 1000,
  maxConnectionMs: 2 * 60 * 60 * 1000,
  integrationTimeoutMs: 29_000,
  maxBufferedBytes: 1024 * 1024,
};

export interface GatewayLogger {
  error(message: string, ...details: unknown[]): void;
}

export interface WebSocketGatewayOptions {
  /** Stage: the first path segment of the WebSocket URL and the @connections endpoint. @default "Prod" */
  readonly stage?: string;
  /** Region of SigV4 credential scopes and ARNs. @default "us-east-1" */
  readonly region?: string;
  /** API id reported in events. @default "local" */
  readonly apiId?: string;
  /** Port on 127.0.0.1. @default 0 (the OS picks) */
  readonly port?: number;
  /** Integrations by route key (`$connect`, `$disconnect`, `$default`, `ask`, …). A route without one is absent, as in an API without that route. */
  readonly handlers?: Readonly<Record<string, RouteHandler | RouteIntegration>>;
  /** Credentials whose signatures are accepted on `$connect` and @connections (a store may grow meanwhile). @default [] (nobody can connect) */
  readonly credentials?: readonly LocalCredential[] | CredentialLookup;
  readonly limits?: Partial<GatewayLimits>;
  /** Injected @connections latency and failures; replaceable later with `setConnectionsApiBehaviour`. @default none */
  readonly connectionsApi?: ConnectionsApiBehaviour;
  /** Stage throttling (rate and burst, per stage, over `$connect` and every client message); `false` for none. @default false */
  readonly throttle?: StageThrottle | false;
  /**
   * Route-level throttles: a route named here (`ping`, `$default`, …) has its own bucket and
   * draws nothing from the stage's. Applied only while stage throttling is on. @default {}
   */
  readonly routeThrottles?: RouteThrottles;
  /** Clock (epoch ms) for signature expiry and event times. @default Date.now */
  readonly now?: () => number;
  /** Where handler failures go (API Gateway would log them). @default console */
  readonly logger?: GatewayLogger;
}

export interface GatewayStats {
  /** Upgrade requests that reached authentication. */
  connectAttempts: number;
  /** Upgrades refused: bad signature, denied, or a non-2xx `$connect`. */
  rejected: number;
  connected: number;
  disconnected: number;
  /** Client messages received (any route). */
  messagesIn: number;
  /** `$connect`s and messages refused by stage throttling (429 / a "Too Many Requests" frame). */
  throttled: number;
  /** Handler invocations that threw or timed out. */
  handlerErrors: number;
  /** Handler invocations by route key (a MOCK route such as `ping` never appears). */
  invocations: Record<string, number>;
  connectionsApi: ConnectionsApiStats;
}

export interface WebSocketGateway {
  /** `ws://127.0.0.1:{port}/{stage}`: presign this and connect. */
  readonly url: string;
  /** `http://127.0.0.1:{port}/{stage}`: the ApiGatewayManagementApi endpoint (STREAMING_ENDPOINT). */
  readonly managementEndpoint: string;
  readonly port: number;
  readonly stage: string;
  readonly region: string;
  readonly apiId: string;
  /** Live connections by id (read-only view). */
  readonly connections: ReadonlyMap<string, GatewayConnectionInfo>;
  /** Replaces the injected @connections latency and failures. */
  setConnectionsApiBehaviour(behaviour: ConnectionsApiBehaviour): void;
  /** A snapshot of the counters. */
  stats(): GatewayStats;
  /** Resolves once no handler invocation is running (e.g. after a close, when `$disconnect` has finished). */
  idle(): Promise<void>;
  /** Drops every connection (each gets its `$disconnect`), waits for running handlers, stops listening. */
  close(): Promise<void>;
}

type Outcome = { kind: "ok"; result: APIGatewayProxyResultV2 | void } | { kind: "error"; error: unknown } | { kind: "timeout" };

/** A valid opening handshake key (16 random bytes, base64). */
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{21}[AQgw]==$/;

/** How long a server-side close waits for the client's close frame before dropping the socket. */
const CLOSE_HANDSHAKE_TIMEOUT_MS = 3000;

function callbackUnsupported(): never {
  throw new Error("callback-style handlers are not supported locally: return a promise");
}

/** API Gateway's error frame, byte for byte (note the spacing). */
function gatewayErrorFrame(message: string, connectionId: string, requestId: string): string {
  return `{"message": "${message}", "connectionId":"${connectionId}", "requestId":"${requestId}"}`;
}

/** The HTTP answer a `$connect` integration result turns into. */
function connectAnswer(outcome: Outcome): { status: number; body: string; headers: Record<string, string> } {
  if (outcome.kind === "timeout") return { status: 504, body: JSON.stringify({ message: "Endpoint request timed out" }), headers: {} };
  if (outcome.kind === "error") return { status: 500, body: JSON.stringify({ message: "Internal server error" }), headers: {} };
  const result = outcome.result;
  // No result, a string, or an object without statusCode: API Gateway reads these as 200.
  if (result === undefined || result === null || typeof result !== "object" || typeof result.statusCode !== "number") {
    return { status: 200, body: typeof result === "string" ? result : "", headers: {} };
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  const status = Number.isInteger(result.statusCode) && result.statusCode >= 100 && result.statusCode <= 599 ? result.statusCode : 502;
  return { status, body: typeof result.body === "string" ? result.body : "", headers };
}

/** What a two-way route sends back: the proxy result's body (base64-decoded when flagged). */
function routeResponse(result: APIGatewayProxyResultV2 | void): Buffer | undefined {
  if (result === undefined || result === null) return undefined;
  if (typeof result === "string") return Buffer.from(result, "utf8");
  if (typeof result.statusCode !== "number") return Buffer.from(JSON.stringify(result), "utf8");
  if (typeof result.body !== "string") return undefined;
  return Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8");
}

/** Writes an HTTP response on a socket whose upgrade is refused. */
function refuseUpgrade(socket: Duplex, status: number, body: string, headers: Record<string, string>): void {
  if (socket.destroyed) return;
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`];
  const all: Record<string, string> = { "content-type": "application/json", ...headers, "content-length": String(Buffer.byteLength(body)), connection: "close" };
  for (const [name, value] of Object.entries(all)) {
    // A handler's header must not be able to split the response.
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) continue;
    lines.push(`${name}: ${value}`);
  }
  socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
}

function sourceIpOf(socket: Duplex): string {
  const address = (socket as Socket).remoteAddress ?? "127.0.0.1";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

function connectIdentity(context: ConnectionContext, credential: LocalCredential): ConnectIdentity {
  const id = credential.identity;
  return {
    cognitoIdentityPoolId: id.cognitoIdentityPoolId ?? null,
    cognitoIdentityId: id.cognitoIdentityId ?? null,
    principalOrgId: id.principalOrgId ?? null,
    cognitoAuthenticationType: id.cognitoAuthenticationType ?? null,
    userArn: id.userArn,
    userAgent: context.userAgent,
    accountId: id.accountId,
    caller: id.caller ?? null,
    sourceIp: context.sourceIp,
    accessKey: credential.accessKeyId,
    cognitoAuthenticationProvider: id.cognitoAuthenticationProvider ?? null,
    user: id.user ?? null,
  };
}

export async function startWebSocketGateway(options: WebSocketGatewayOptions = {}): Promise<WebSocketGateway> {
  const stage = options.stage ?? "Prod";
  const region = options.region ?? "us-east-1";
  const apiId = options.apiId ?? "local";
  const limits: GatewayLimits = { ...AWS_WEBSOCKET_LIMITS, ...options.limits };
  const now = options.now ?? Date.now;
  const logger = options.logger ?? console;
  const integrations = new Map<string, RouteIntegration>();
  for (const [routeKey, value] of Object.entries(options.handlers ?? {})) {
    integrations.set(routeKey, typeof value === "function" ? { handler: value } : value);
  }
  const routes = new RouteTable(integrations.keys());
  const verifier = new SigV4Verifier({ credentials: options.credentials ?? [], region, now });
  const connections = new Map<string, GatewayConnection>();
  const tracker = new InvocationTracker();
  let behaviour: ConnectionsApiBehaviour = options.connectionsApi ?? {};
  let closing = false;
  const counters = { connectAttempts: 0, rejected: 0, connected: 0, disconnected: 0, messagesIn: 0, throttled: 0, handlerErrors: 0 };
  const apiStats: ConnectionsApiStats = { posts: 0, postBytes: 0, gets: 0, deletes: 0, bufferFull: 0, errors: {} };
  const bucket = options.throttle ? new TokenBucket(options.throttle, now) : undefined;
  const routeBuckets = new Map(
    options.throttle ? Object.entries(options.routeThrottles ?? {}).map(([routeKey, limits]) => [routeKey, new TokenBucket(limits, now)] as const) : [],
  );
  /** The bucket a message to `routeKey` draws on: its route's own, else the stage's. */
  const bucketFor = (routeKey: string): TokenBucket | undefined => routeBuckets.get(routeKey) ?? bucket;
  const invocations: Record<string, number> = {};

  /** Runs a route's handler with API Gateway's integration timeout; the handler counts for idle() until it really ends. */
  async function invoke(routeKey: string, event: WebSocketEvent): Promise<Outcome> {
    const integration = integrations.get(routeKey)!;
    invocations[routeKey] = (invocations[routeKey] ?? 0) + 1;
    const context = createLambdaContext({
      functionName: integration.functionName ?? `ws-${routeKey.replace(/^\$/, "")}`,
      timeoutMs: integration.timeoutMs,
      region,
    });
    const done = Promise.resolve().then(() => integration.handler(event, context, callbackUnsupported));
    tracker.track(done);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve({ kind: "timeout" }), limits.integrationTimeoutMs);
    });
    const outcome = await Promise.race([
      done.then(
        (result): Outcome => ({ kind: "ok", result }),
        (error: unknown): Outcome => ({ kind: "error", error }),
      ),
      timeout,
    ]);
    clearTimeout(timer);
    if (outcome.kind !== "ok") {
      counters.handlerErrors += 1;
      const detail = outcome.kind === "error" ? outcome.error : `no result within ${limits.integrationTimeoutMs} ms`;
      logger.error(`[gateway] ${routeKey} integration failed (connection ${event.requestContext.connectionId})`, detail);
    }
    return outcome;
  }

  function fireDisconnect(context: ConnectionContext, status: CloseStatus): void {
    counters.disconnected += 1;
    if (!integrations.has(ROUTES.disconnect)) return;
    void invoke(ROUTES.disconnect, disconnectEvent(context, status, now(), newGatewayId()));
  }

  function reply(connection: GatewayConnection, data: Buffer): void {
    // The client may be gone by the time the integration answers; API Gateway drops the reply then too.
    if (connection.open) connection.send(data).catch(() => undefined);
  }

  async function onMessage(connection: GatewayConnection, data: Buffer, isBinary: boolean): Promise<void> {
    // Frames still arriving after the gateway began closing the connection are not routed.
    if (!connection.open) return;
    const receivedAt = now();
    connection.touch(receivedAt);
    counters.messagesIn += 1;
    const text = isBinary ? undefined : data.toString("utf8");
    const target = routes.select(text);
    // An unrouted message (no `$default` route) is throttled as `$default` would be.
    const throttled = bucketFor(target.kind === "unrouted" ? ROUTES.default : target.routeKey);
    if (throttled && !throttled.take()) {
      // A throttled message reaches no integration; the client gets the gateway's error frame with 429's text.
      counters.throttled += 1;
      reply(connection, Buffer.from(gatewayErrorFrame("Too Many Requests", connection.connectionId, newGatewayId())));
      return;
    }
    if (target.kind === "mock") return;
    const ids = { requestId: newGatewayId(), messageId: newGatewayId() };
    if (target.kind === "unrouted") {
      reply(connection, Buffer.from(gatewayErrorFrame("Forbidden", connection.connectionId, ids.requestId)));
      return;
    }
    const body = text ?? data.toString("base64");
    const outcome = await invoke(target.routeKey, messageEvent(connection.context, target.routeKey, body, isBinary, receivedAt, ids));
    if (outcome.kind === "error") reply(connection, Buffer.from(gatewayErrorFrame("Internal server error", connection.connectionId, ids.requestId)));
    else if (outcome.kind === "timeout") reply(connection, Buffer.from(gatewayErrorFrame("Endpoint request timed out", connection.connectionId, ids.requestId)));
    else if (target.twoWay) {
      const response = routeResponse(outcome.result);
      if (response !== undefined) reply(connection, response);
    }
  }

  function accept(ws: WebSocket, context: ConnectionContext, identity: ConnectIdentity, query: Record<string, string>): void {
    const connection = new GatewayConnection(ws, context, identity, query, limits, (closed, status) => {
      if (connections.get(closed.connectionId) === closed) connections.delete(closed.connectionId);
      fireDisconnect(closed.context, status);
    });
    connections.set(context.connectionId, connection);
    counters.connected += 1;
    ws.on("message", (data: RawData, isBinary: boolean) => {
      // With the default binaryType ws hands over one Buffer per message (fragments already joined).
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      onMessage(connection, bytes, isBinary).catch((error: unknown) => logger.error("[gateway] message handling failed", error));
    });
  }

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: limits.maxMessageBytes,
    closeTimeout: CLOSE_HANDSHAKE_TIMEOUT_MS,
  } as ServerOptions);

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // Until ws owns the socket, a client reset must not crash the process.
    socket.on("error", () => undefined);
    const url = req.url ?? "/";
    const queryAt = url.indexOf("?");
    const rawPath = queryAt < 0 ? url : url.slice(0, queryAt);
    if (closing || (rawPath !== `/${stage}` && rawPath !== `/${stage}/`)) {
      refuseUpgrade(socket, 403, JSON.stringify({ message: "Forbidden" }), { "x-amzn-errortype": "ForbiddenException" });
      return;
    }
    const version = req.headers["sec-websocket-version"];
    if (req.method !== "GET" || req.headers.upgrade?.toLowerCase() !== "websocket" || !WEBSOCKET_KEY.test(req.headers["sec-websocket-key"] ?? "") || (version !== "13" && version !== "8")) {
      refuseUpgrade(socket, 400, JSON.stringify({ message: "Bad Request" }), {});
      return;
    }

    counters.connectAttempts += 1;
    const connectBucket = bucketFor(ROUTES.connect);
    if (connectBucket && !connectBucket.take()) {
      counters.throttled += 1;
      counters.rejected += 1;
      refuseUpgrade(socket, 429, JSON.stringify({ message: "Too Many Requests" }), {});
      return;
    }
    const query = parseQuery(queryAt < 0 ? "" : url.slice(queryAt + 1));
    let credential: LocalCredential;
    try {
      credential = await verifier.verifyQuery({ method: "GET", rawPath, query: query.params, headers: req.headers });
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error;
      counters.rejected += 1;
      refuseUpgrade(socket, 403, JSON.stringify({ message: error.message }), { "x-amzn-errortype": error.errorType });
      return;
    }
    if (credential.allow?.connect === false) {
      counters.rejected += 1;
      const resource = `arn:aws:execute-api:${region}:${credential.identity.accountId}:${apiId}/${stage}/$connect`;
      refuseUpgrade(socket, 403, JSON.stringify({ Message: `User: ${credential.identity.userArn} is not authorized to perform: execute-api:Invoke on resource: ${resource}` }), {
        "x-amzn-errortype": "AccessDeniedException",
      });
      return;
    }

    const connectedAt = now();
    const context: ConnectionContext = {
      connectionId: newGatewayId(),
      connectedAt,
      stage,
      apiId,
      domainName: req.headers.host ?? `127.0.0.1:${port}`,
      sourceIp: sourceIpOf(socket),
      userAgent: req.headers["user-agent"] ?? null,
    };
    const identity = connectIdentity(context, credential);
    if (integrations.has(ROUTES.connect)) {
      const event = connectEvent(context, { rawHeaders: req.rawHeaders, query: query.pairs, port, identity }, connectedAt, newGatewayId());
      const answer = connectAnswer(await invoke(ROUTES.connect, event));
      if (answer.status < 200 || answer.status > 299) {
        counters.rejected += 1;
        refuseUpgrade(socket, answer.status, answer.body, answer.headers);
        return;
      }
    }
    // $connect accepted: from here on whatever happens to the socket, $disconnect must follow.
    if (closing || socket.destroyed || !socket.writable) {
      socket.destroy();
      fireDisconnect(context, closeStatus(1006, ""));
      return;
    }
    let upgraded = false;
    wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      accept(ws, context, identity, proxyMaps(query.pairs).single);
    });
    // ws completes (or aborts) the handshake synchronously; an abort means the client is gone.
    if (!upgraded) fireDisconnect(context, closeStatus(1006, ""));
  }

  const connectionsApi = createConnectionsApi({
    stage,
    region,
    apiId,
    verifier,
    maxMessageBytes: limits.maxMessageBytes,
    maxBufferedBytes: limits.maxBufferedBytes,
    lookup: (id) => connections.get(id),
    behaviour: () => behaviour,
    stats: apiStats,
  });

  const server = createServer((req, res) => {
    connectionsApi(req, res).catch((error: unknown) => logger.error("[gateway] @connections request failed", error));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    onUpgrade(req, socket, head).catch((error: unknown) => {
      logger.error("[gateway] upgrade failed", error);
      refuseUpgrade(socket, 500, JSON.stringify({ message: "Internal server error" }), {});
    });
  });
  // Keep idle keep-alive sockets longer than SDK agents reuse them, so a reused socket is never closed under a request.
  server.keepAliveTimeout = 65_000;
  const port = await listenOnLoopback(server, options.port);

  return {
    url: `ws://127.0.0.1:${port}/${stage}`,
    managementEndpoint: `http://127.0.0.1:${port}/${stage}`,
    port,
    stage,
    region,
    apiId,
    connections,
    setConnectionsApiBehaviour: (next) => {
      behaviour = next;
    },
    stats: () => ({ ...counters, invocations: { ...invocations }, connectionsApi: { ...apiStats, errors: { ...apiStats.errors } } }),
    idle: () => tracker.idle(),
    close: async () => {
      closing = true;
      const open = [...connections.values()];
      for (const connection of open) connection.close(closeStatus(1001, ""), true);
      // Each close is reported (and its $disconnect started) asynchronously; wait for that before waiting on handlers.
      await Promise.all(open.map((connection) => connection.whenClosed));
      await tracker.idle();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
