/**
 * The Bedrock emulator: serves ConverseStream, Converse, RetrieveAndGenerateStream and
 * RetrieveAndGenerate to the unmodified AWS SDK v3 clients (h2c, and HTTP/1.1 on the same
 * port), records every request, and applies the configured behaviour or a queued script.
 */
import {
  DEFAULT_DELTAS_PER_SECOND,
  DEFAULT_FIRST_TOKEN_DELAY_MS,
  ERROR_STATUS,
  checkBehavior,
  pascalCase,
  type BedrockBehavior,
  type BedrockOperation,
  type RequestScript,
} from "./behavior";
import { listenDualProtocol, resetResponse, type CompatRequest, type CompatResponse } from "./dual-protocol";
import { EVENT_STREAM_CONTENT_TYPE, encodeException } from "./event-stream";
import { ServiceError, readJsonBody, requestIdHeaders, sendError, sendJson } from "./http";
import { prepareOperation } from "./operations";
import { PromptCache } from "./prompt-cache";
import { RETRIEVE_ROUTE, parseRetrieveRequest, retrieveResponse } from "./retrieve";
import { pause, play, waitUntil } from "./player";
import { DEFAULT_DOCUMENTS_DIR, DocumentIndex } from "./retrieval";

export interface BedrockEmulatorOptions extends BedrockBehavior {
  /** Interface to listen on. @default "127.0.0.1" */
  readonly host?: string;
  /** Port to listen on. @default 0 (the OS picks) */
  readonly port?: number;
  /** Directory of markdown documents the stand-in model answers from. @default local/documents */
  readonly documentsDir?: string;
  /** Requests in flight beyond this many are refused with ThrottlingException (429). @default no limit */
  readonly maxConcurrentRequests?: number;
  /** The prompt cache's clock (its 5-minute TTL), in epoch milliseconds. @default Date.now */
  readonly cacheClock?: () => number;
}

/**
 * How a request ended: answered in full, refused with an HTTP error, ended by an exception
 * event, broken off by an injected reset, closed by the client, or cut by `close()`.
 */
export type RequestOutcome = "completed" | "http-error" | "stream-error" | "reset" | "aborted" | "shutdown";

export interface RecordedRequest {
  readonly operation: BedrockOperation;
  readonly path: string;
  /** `h2` for the SDK's default handler, `http/1.1` for NodeHttpHandler. */
  readonly protocol: "h2" | "http/1.1";
  /** Model id from the path (Converse*) or the configuration's modelArn (RetrieveAndGenerate*). */
  readonly modelId?: string;
  /** Knowledge base id (RetrieveAndGenerate* with a knowledge base, Retrieve). */
  readonly knowledgeBaseId?: string;
  /** The parsed JSON body (undefined when it did not parse). */
  readonly body: unknown;
  /** `Date.now()` at arrival. */
  readonly receivedAt: number;
  /** Deltas written so far. */
  readonly deltasSent: number;
  /** Set once the request has ended. */
  readonly outcome?: RequestOutcome;
  /** Resolves with the outcome once the request has ended. */
  readonly settled: Promise<RequestOutcome>;
}

export interface BedrockEmulator {
  /** `http://127.0.0.1:{port}`: a client's `endpoint`, or AWS_ENDPOINT_URL_BEDROCK_RUNTIME / _AGENT_RUNTIME. */
  readonly endpoint: string;
  readonly port: number;
  /** The most recent requests received (at most REQUEST_LOG_LIMIT), in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Replaces the default behaviour with the start options overridden by `behavior` (`{}` restores the options). */
  setBehavior(behavior: BedrockBehavior): void;
  /** Queues scripts, each used by one later request (the first whose operation matches), over the default behaviour. */
  enqueue(...scripts: RequestScript[]): void;
  /** Ends every request in flight, frees every timer and socket, stops listening. */
  close(): Promise<void>;
}

/** Requests the log keeps: a long-running `npm start` must not keep every body (~8.6 KB each) forever. */
export const REQUEST_LOG_LIMIT = 1000;

type MutableRecord = { -readonly [K in keyof RecordedRequest]: RecordedRequest[K] };

const ROUTES: ReadonlyArray<{ pattern: RegExp; operation: BedrockOperation }> = [
  { pattern: /^\/model\/([^/]+)\/converse-stream$/, operation: "ConverseStream" },
  { pattern: /^\/model\/([^/]+)\/converse$/, operation: "Converse" },
  { pattern: /^\/retrieveAndGenerateStream$/, operation: "RetrieveAndGenerateStream" },
  { pattern: /^\/retrieveAndGenerate$/, operation: "RetrieveAndGenerate" },
  { pattern: RETRIEVE_ROUTE, operation: "Retrieve" },
];

function matchRoute(
  method: string | undefined,
  url: string | undefined,
): { operation: BedrockOperation; modelId?: string; knowledgeBaseId?: string } | undefined {
  if (method !== "POST" || !url) return undefined;
  const path = url.split("?")[0];
  for (const { pattern, operation } of ROUTES) {
    const match = pattern.exec(path);
    const captured = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
    // Retrieve's path names the knowledge base; Converse's, the model.
    if (match) return operation === "Retrieve" ? { operation, knowledgeBaseId: captured } : { operation, modelId: captured };
  }
  return undefined;
}

function behaviorOf(options: BedrockEmulatorOptions): BedrockBehavior {
  const { host: _host, port: _port, documentsDir: _dir, maxConcurrentRequests: _max, cacheClock: _clock, ...behavior } = options;
  return behavior;
}

export async function startBedrockEmulator(options: BedrockEmulatorOptions = {}): Promise<BedrockEmulator> {
  const baseBehavior = behaviorOf(options);
  checkBehavior(baseBehavior);
  const index = DocumentIndex.fromDirectory(options.documentsDir ?? DEFAULT_DOCUMENTS_DIR);
  const host = options.host ?? "127.0.0.1";
  let current: BedrockBehavior = baseBehavior;
  const queue: RequestScript[] = [];
  const requests: MutableRecord[] = [];
  const promptCache = new PromptCache(options.cacheClock);
  const inFlight = new Map<AbortController, Promise<RequestOutcome>>();
  let closing = false;

  const takeScript = (operation: BedrockOperation): RequestScript | undefined => {
    const i = queue.findIndex((s) => s.operation === undefined || s.operation === operation);
    return i < 0 ? undefined : queue.splice(i, 1)[0];
  };

  const handle = async (
    req: CompatRequest,
    res: CompatResponse,
    entry: MutableRecord,
    signal: AbortSignal,
    startedAt: number,
  ): Promise<RequestOutcome> => {
    entry.body = await readJsonBody(req);
    const { operation: _op, ...script } = takeScript(entry.operation) ?? {};
    const behavior: BedrockBehavior = { ...current, ...script };

    if (behavior.responseDelayMs) await pause(behavior.responseDelayMs, signal);
    if (options.maxConcurrentRequests !== undefined && inFlight.size > options.maxConcurrentRequests) {
      throw new ServiceError("ThrottlingException", "Too many requests, please wait before trying again.");
    }
    if (behavior.httpError) {
      const { type, status, message } = behavior.httpError;
      throw new ServiceError(type, message ?? `Injected ${type}.`, status);
    }
    if (entry.operation === "Retrieve") {
      sendJson(res, 200, retrieveResponse(index, parseRetrieveRequest(entry.body)));
      return "completed";
    }

    const pace = {
      deltasPerSecond: behavior.deltasPerSecond ?? DEFAULT_DELTAS_PER_SECOND,
      firstTokenDelayMs: behavior.firstTokenDelayMs ?? DEFAULT_FIRST_TOKEN_DELAY_MS,
      startedAt,
    };
    const prepared = prepareOperation(entry.operation, entry.body, behavior, index, startedAt, { modelId: entry.modelId, cache: promptCache });
    if (prepared.modelArn !== undefined) entry.modelId = prepared.modelArn;
    entry.knowledgeBaseId = prepared.knowledgeBaseId;

    const injected = behavior.streamError;
    if (!prepared.streaming) {
      // A one-shot call takes as long as generating the answer would, and fails the way the stream would.
      const interval = pace.deltasPerSecond > 0 ? 1000 / pace.deltasPerSecond : 0;
      const generated = Math.min(
        prepared.answer.deltas.length,
        injected?.afterDeltas ?? Infinity,
        behavior.stall?.afterDeltas ?? Infinity,
        behavior.reset?.afterDeltas ?? Infinity,
      );
      await waitUntil(startedAt + pace.firstTokenDelayMs + generated * interval, signal);
      if (behavior.stall) await pause(behavior.stall.forMs, signal);
      if (behavior.reset) {
        await resetResponse(res);
        return "reset";
      }
      if (injected) {
        const type = pascalCase(injected.type);
        throw new ServiceError(type, injected.message ?? `Injected ${type}.`, ERROR_STATUS[type] ?? 500);
      }
      sendJson(res, 200, prepared.oneShot(), prepared.headers);
      return "completed";
    }

    res.writeHead(200, { ...requestIdHeaders(), ...prepared.headers, "content-type": EVENT_STREAM_CONTENT_TYPE });
    // HTTP/1.1 holds headers back until the first write; the first event may be a while off.
    if ("flushHeaders" in res) res.flushHeaders();
    const exception = injected && {
      afterDeltas: injected.afterDeltas,
      frame: encodeException(injected.type, {
        message: injected.message ?? `Injected ${pascalCase(injected.type)}.`,
        ...(pascalCase(injected.type) === "ModelStreamErrorException" ? { originalStatusCode: 500, originalMessage: "Injected fault." } : {}),
      }),
    };
    const result = await play(prepared.plan, res, {
      ...pace,
      exception,
      stall: behavior.stall,
      resetAfterDeltas: behavior.reset?.afterDeltas,
      signal,
      onDelta: () => {
        entry.deltasSent += 1;
      },
    });
    if (result === "reset") await resetResponse(res);
    return result;
  };

  const listener = (req: CompatRequest, res: CompatResponse) => {
    const startedAt = performance.now();
    const route = matchRoute(req.method, req.url);
    if (!route || closing) {
      req.resume();
      sendError(
        res,
        closing
          ? new ServiceError("ServiceUnavailableException", "The emulator is shutting down.")
          : new ServiceError("UnknownOperationException", `No operation at ${req.method} ${req.url}.`),
      );
      return;
    }
    const controller = new AbortController();
    // Not writableFinished: an HTTP/2 stream reset by the client reports itself finished.
    res.on("close", () => {
      if (!res.writableEnded) controller.abort(new Error("client closed the stream"));
    });
    let settle: (outcome: RequestOutcome) => void = () => undefined;
    const entry: MutableRecord = {
      operation: route.operation,
      path: (req.url ?? "").split("?")[0],
      protocol: req.httpVersion === "2.0" ? "h2" : "http/1.1",
      modelId: route.modelId,
      knowledgeBaseId: route.knowledgeBaseId,
      body: undefined,
      receivedAt: Date.now(),
      deltasSent: 0,
      settled: new Promise<RequestOutcome>((resolve) => (settle = resolve)),
    };
    requests.push(entry);
    if (requests.length > REQUEST_LOG_LIMIT) requests.splice(0, requests.length - REQUEST_LOG_LIMIT);
    inFlight.set(controller, entry.settled);
    handle(req, res, entry, controller.signal, startedAt)
      .catch(async (error: unknown): Promise<RequestOutcome> => {
        if (controller.signal.aborted && !closing) return "aborted";
        if (res.headersSent || closing) {
          await resetResponse(res);
          return closing ? "shutdown" : "aborted";
        }
        sendError(res, error instanceof ServiceError ? error : new ServiceError("InternalServerException", String(error)));
        return "http-error";
      })
      .then((outcome) => {
        inFlight.delete(controller);
        entry.outcome = outcome;
        settle(outcome);
      });
  };

  const server = await listenDualProtocol(listener, host, options.port ?? 0);
  const endpoint = `http://${host.includes(":") ? `[${host}]` : host}:${server.port}`;

  return {
    endpoint,
    port: server.port,
    requests,
    setBehavior(behavior) {
      const next = { ...baseBehavior, ...behavior };
      checkBehavior(next);
      current = next;
    },
    enqueue(...scripts) {
      scripts.forEach(checkBehavior);
      queue.push(...scripts);
    },
    async close() {
      if (closing) return;
      closing = true;
      const pending = [...inFlight.entries()];
      for (const [controller] of pending) controller.abort(new Error("emulator closed"));
      await Promise.all(pending.map(([, done]) => done));
      await server.close();
    },
  };
}
