/**
 * The stream writer wired to AWS: frames go out through the API Gateway Management API
 * (PostToConnection) and connections come from the DynamoDB connections table. The endpoint
 * and table always come from the stack (environment), never from a client.
 */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
  type ApiGatewayManagementApiClientConfig,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { optionalBooleanEnv, optionalIntEnv } from "../shared/aws";
import { DynamoConnectionsStore } from "../shared/dynamo-connections";
import { ENV } from "../shared/env";
import type { StreamFormat } from "../shared/table";
import { DynamoJournalStore } from "./journal-store";
import { PostError, type PostFailureKind, type StreamOpener, type StreamTransport } from "./types";
import { createStreamOpener, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_POST_RETRIES } from "./writer";

export interface ManagementApiTransportOptions {
  /**
   * The stage's base URL: `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`, or
   * `http://127.0.0.1:{port}/{stage}` for the local gateway. Posts go to `{endpoint}/@connections/{id}`.
   */
  readonly endpoint: string;
  /** Signing region. @default the region in an execute-api host name, else the SDK's (AWS_REGION) */
  readonly region?: string;
  /** @default the SDK's default credential chain */
  readonly credentials?: ApiGatewayManagementApiClientConfig["credentials"];
  /** Milliseconds to establish a connection before the post fails. @default 1000 */
  readonly connectionTimeoutMs?: number;
  /** Milliseconds a post may take before it fails, so a stuck post never hangs the answer. @default DEFAULT_POST_TIMEOUT_MS (3000) */
  readonly requestTimeoutMs?: number;
}

/** A post that has not answered in this long counts as failed (and, for json, is retried). */
export const DEFAULT_POST_TIMEOUT_MS = 3000;

const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

/** Posts frames with PostToConnection; failures come back as PostError with the @connections API's reason. */
export class ManagementApiTransport implements StreamTransport {
  private readonly client: ApiGatewayManagementApiClient;

  constructor(options: ManagementApiTransportOptions) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new Error(`streaming endpoint must be an http(s) URL ending in the stage, got ${JSON.stringify(options.endpoint)}`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new Error(`streaming endpoint must be an http(s) URL, got ${JSON.stringify(options.endpoint)}`);
    }
    this.client = new ApiGatewayManagementApiClient({
      endpoint: options.endpoint,
      region: options.region ?? EXECUTE_API_HOST.exec(url.hostname)?.[1],
      credentials: options.credentials,
      // The writer retries with its own jittered backoff and drops hopeless connections;
      // SDK retries underneath would multiply its attempts and hide 410s behind delays.
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 1000,
        requestTimeout: options.requestTimeoutMs ?? DEFAULT_POST_TIMEOUT_MS,
        throwOnRequestTimeout: true,
        httpAgent: { keepAlive: true },
        httpsAgent: { keepAlive: true },
      },
    });
  }

  async post(connectionId: string, data: Uint8Array): Promise<void> {
    try {
      await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
    } catch (error) {
      throw toPostError(error);
    }
  }

  async close(connectionId: string): Promise<void> {
    try {
      await this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    } catch (error) {
      const failure = toPostError(error);
      if (failure.kind !== "gone") throw failure;
    }
  }

  /** Closes the kept-alive sockets. */
  destroy(): void {
    this.client.destroy();
  }
}

const KIND_BY_NAME: Record<string, PostFailureKind> = {
  GoneException: "gone",
  ForbiddenException: "forbidden",
  LimitExceededException: "throttled",
  PayloadTooLargeException: "too_large",
};

/**
 * 403 is left out on purpose: only a typed ForbiddenException means "this connection";
 * an untyped 403 (a missing ManageConnections grant, a wrong endpoint) must not make the
 * writer delete every row it posts to.
 */
const KIND_BY_STATUS: Record<number, PostFailureKind> = { 410: "gone", 429: "throttled", 413: "too_large" };

/** Network errors raised before the request left this process: the frame was certainly not delivered. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/**
 * @smithy/node-http-handler's connection timeout (no socket yet, or none free in the pool):
 * the request never left. Its request timeout carries code ETIMEDOUT instead.
 */
function neverConnected(error: unknown): boolean {
  return error instanceof Error && error.name === "TimeoutError" && /did not establish a connection/.test(error.message);
}

/**
 * Classifies an SDK error by its name, else by its HTTP status. An HTTP answer is API
 * Gateway's word that the post failed ("other", retried, as the SDKs retry a 5xx); a timeout
 * or a reset without an answer may have delivered the frame ("unknown").
 */
export function toPostError(error: unknown): PostError {
  if (error instanceof PostError) return error;
  const name = error instanceof Error ? error.name : "Error";
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  const code = (error as { code?: unknown } | undefined)?.code;
  const kind =
    KIND_BY_NAME[name] ??
    (status === undefined ? undefined : (KIND_BY_STATUS[status] ?? "other")) ??
    ((typeof code === "string" && NOT_SENT_CODES.has(code)) || neverConnected(error) ? "other" : "unknown");
  const message = error instanceof Error ? error.message : String(error);
  return new PostError(kind, `${name}: ${message}`, status);
}

export interface StreamOpenerConfig {
  /** The stage's base URL (see ManagementApiTransportOptions.endpoint). */
  readonly endpoint: string;
  /** Connections table name. */
  readonly tableName: string;
  /** The frame budget per format (StreamWriterOptions.flushIntervalMs). @default the writer's defaults */
  readonly flushIntervalMs?: Partial<Record<StreamFormat, number>>;
}

const openers = new Map<string, StreamOpener>();

/** The opener for one endpoint and table, built once per process so warm invocations reuse its sockets. */
export function streamOpenerFor(config: StreamOpenerConfig): StreamOpener {
  const { endpoint, tableName } = config;
  const flushIntervalMs = { ...DEFAULT_FLUSH_INTERVAL_MS, ...config.flushIntervalMs };
  const unboundSessionStreaming = optionalBooleanEnv(ENV.unboundSessionStreaming, false);
  const key = JSON.stringify([endpoint, tableName, flushIntervalMs.text, flushIntervalMs.json, unboundSessionStreaming]);
  let opener = openers.get(key);
  if (!opener) {
    opener = createStreamOpener({
      // The writer never registers a connection, so the row lifetime only satisfies the store's contract.
      store: new DynamoConnectionsStore({
        tableName,
        ttlSeconds: optionalIntEnv(ENV.connectionTtlSeconds, 7200, { min: 1, max: 86_400 }),
        unboundSessionStreaming,
      }),
      transport: new ManagementApiTransport({ endpoint, requestTimeoutMs: postTimeoutFromEnv() }),
      options: {
        flushIntervalMs,
        checkpointMs: optionalIntEnv(ENV.streamCheckpointMs, 1000, { min: 50, max: 60_000 }),
        maxRetries: postRetriesFromEnv(),
      },
      journal: new DynamoJournalStore({ tableName }),
    });
    openers.set(key, opener);
  }
  return opener;
}

/** Retries of one post the stack configured (STREAM_POST_RETRIES), else the writer's 10. */
export function postRetriesFromEnv(): number {
  return optionalIntEnv(ENV.streamPostRetries, DEFAULT_POST_RETRIES, { min: 0, max: 20 });
}

/** A post's timeout the stack configured (STREAM_POST_TIMEOUT_MS), else the transport's 3 s. */
export function postTimeoutFromEnv(): number {
  return optionalIntEnv(ENV.streamPostTimeoutMs, DEFAULT_POST_TIMEOUT_MS, { min: 100, max: 29_000 });
}

/**
 * The frame budget the stack configured: STREAM_TEXT_FLUSH_MS and STREAM_JSON_FLUSH_MS, each
 * defaulting to the writer's default. A malformed value is an error, not the default.
 */
export function flushIntervalsFromEnv(): Record<StreamFormat, number> {
  const range = { min: 0, max: 60_000 };
  return {
    text: optionalIntEnv(ENV.streamTextFlushMs, DEFAULT_FLUSH_INTERVAL_MS.text, range),
    json: optionalIntEnv(ENV.streamJsonFlushMs, DEFAULT_FLUSH_INTERVAL_MS.json, range),
  };
}

/**
 * The stack's stream opener, or `undefined` when streaming is off (no STREAMING_ENDPOINT or
 * CONNECTIONS_TABLE). A malformed frame budget or endpoint is an error, not "off".
 */
export function streamOpenerFromEnv(): StreamOpener | undefined {
  const endpoint = process.env[ENV.streamingEndpoint];
  const tableName = process.env[ENV.connectionsTable];
  if (!endpoint || !tableName) return undefined;
  return streamOpenerFor({ endpoint, tableName, flushIntervalMs: flushIntervalsFromEnv() });
}
