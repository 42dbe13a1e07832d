/**
 * The Lambda side of the local stack: an emulator of the Lambda Invoke API
 * (`POST /2015-03-31/functions/{name}/invocations`) that runs registered handlers
 * in-process, and the `context` object every local invocation gets. The real
 * `@aws-sdk/client-lambda` talks to it through `endpoint` or `AWS_ENDPOINT_URL_LAMBDA`, so
 * a handler that hands work off asynchronously (the fulfillment function's WebSocket
 * `ask`) runs unchanged.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Context } from "aws-lambda";
import type { CredentialLookup, LocalCredential } from "./gateway/credentials";
import { SigV4Verifier, SignatureError } from "./gateway/sigv4";
import { listenOnLoopback } from "./loopback";
import { BodyTooLargeError, verifySignedRequest } from "./signed-request";

// Handlers are typed by their own modules; the emulator only passes JSON through.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LambdaHandler = (event: any, context: Context) => Promise<unknown>;

export interface LocalFunction {
  /** The handler, invoked in-process. */
  readonly handler: LambdaHandler;
  /** Function timeout: what `context.getRemainingTimeInMillis()` counts down from. @default 30000 */
  readonly timeoutMs?: number;
  /** Reported as `context.memoryLimitInMB`. @default 128 */
  readonly memoryMB?: number;
}

export interface LambdaContextOptions {
  readonly functionName: string;
  /** @default 30000 */
  readonly timeoutMs?: number;
  /** @default 128 */
  readonly memoryMB?: number;
  /** @default "us-east-1" */
  readonly region?: string;
  /** @default "000000000000" */
  readonly accountId?: string;
  /** @default a random UUID */
  readonly awsRequestId?: string;
}

/** Lambda's defaults for a function nobody configured. */
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MEMORY_MB = 128;
const LOCAL_ACCOUNT_ID = "000000000000";

/** Lambda's payload quotas (Invoke API reference): 6 MB synchronous, 1 MB asynchronous. */
const MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
const MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024;

function unsupported(name: string): never {
  throw new Error(`context.${name}() is not supported locally: return a value or throw from an async handler`);
}

/** The `context` the Node.js runtime passes; the clock starts when it is created. */
export function createLambdaContext(options: LambdaContextOptions): Context {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const region = options.region ?? "us-east-1";
  const deadline = Date.now() + timeoutMs;
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, "/");
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:${options.accountId ?? LOCAL_ACCOUNT_ID}:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryMB ?? DEFAULT_MEMORY_MB),
    awsRequestId: options.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString("hex")}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => unsupported("done"),
    fail: () => unsupported("fail"),
    succeed: () => unsupported("succeed"),
  };
}

export interface LambdaApiOptions {
  /** Functions by name; a value is a handler or a handler with its configuration. */
  readonly functions: Readonly<Record<string, LambdaHandler | LocalFunction>>;
  /** Who may invoke (`lambda:InvokeFunction`): the credentials whose signatures are accepted. */
  readonly credentials: readonly LocalCredential[] | CredentialLookup;
  /** Region in ARNs and contexts. @default "us-east-1" */
  readonly region?: string;
  /** Account id in ARNs. @default "000000000000" */
  readonly accountId?: string;
  /** Port on 127.0.0.1. @default 0 (the OS picks) */
  readonly port?: number;
  /** Where failures of asynchronous invocations are reported (nobody else sees them). @default console */
  readonly logger?: Pick<Console, "error">;
}

export interface LambdaApi {
  /** `http://127.0.0.1:{port}`, for AWS_ENDPOINT_URL_LAMBDA or a client's `endpoint`. */
  readonly endpoint: string;
  /** Resolves when no handler is running: every `Event` invocation has finished, including ones started meanwhile. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

interface FunctionError {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

/** What the Node.js runtime reports for an unhandled error. */
function functionError(error: unknown): FunctionError {
  if (error instanceof Error) {
    return { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? "").split("\n") };
  }
  return { errorType: "Error", errorMessage: String(error) };
}

/**
 * Counts handler invocations still running, so a test can wait until every piece of
 * handler code (including work handed off in the background) has finished.
 */
export class InvocationTracker {
  private running = 0;
  private waiters: (() => void)[] = [];

  /** Counts `invocation` until it settles (its outcome is left to the caller). */
  track(invocation: Promise<unknown>): void {
    this.running += 1;
    invocation
      .catch(() => undefined)
      .finally(() => {
        this.running -= 1;
        this.settle();
      });
  }

  /** Resolves once nothing runs, including invocations started by the ones that were running. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.settle();
    });
  }

  private settle(): void {
    // A finishing invocation may start another in the same tick; only report idle once nothing is left.
    setImmediate(() => {
      if (this.running > 0 || this.waiters.length === 0) return;
      const waiters = this.waiters;
      this.waiters = [];
      for (const resolve of waiters) resolve();
    });
  }
}

class TimeoutError extends Error {}

/** Runs a handler with Lambda's timeout semantics: past the timeout the caller gets an error (the local handler cannot be frozen, so it finishes in the background). */
function runWithTimeout(fn: LocalFunction & { name: string }, event: unknown, region: string, accountId: string): { done: Promise<unknown>; result: Promise<unknown> } {
  const timeoutMs = fn.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const context = createLambdaContext({ functionName: fn.name, timeoutMs, memoryMB: fn.memoryMB, region, accountId });
  const done = Promise.resolve().then(() => fn.handler(event, context));
  // Whoever awaits `result` sees the failure; a failure after the timeout has nobody left to tell.
  done.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`RequestId: ${context.awsRequestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`)),
      timeoutMs,
    );
  });
  const result = Promise.race([done, timeout]).finally(() => clearTimeout(timer));
  return { done, result };
}

/** `name`, `arn:aws:lambda:{region}:{account}:function:name[:qualifier]` or `{account}:function:name`. */
export function functionNameOf(identifier: string): string {
  const arn = /^(?:arn:[^:]+:lambda:[^:]+:)?(?:\d{12}:)?function:([^:]+)(?::[^:]+)?$/.exec(identifier);
  if (arn) return arn[1];
  const qualified = /^([^:]+):[^:]+$/.exec(identifier);
  return qualified ? qualified[1] : identifier;
}

/** `close`: the request's body was left unread, so the connection cannot carry another request. */
function sendError(res: ServerResponse, status: number, errorType: string, body: Record<string, string>, close = false): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "x-amzn-errortype": errorType,
    "x-amzn-requestid": randomUUID(),
    "content-length": Buffer.byteLength(payload),
    ...(close ? { connection: "close" } : {}),
  });
  res.end(payload);
}

export async function startLambdaApi(options: LambdaApiOptions): Promise<LambdaApi> {
  const region = options.region ?? "us-east-1";
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const logger = options.logger ?? console;
  const functions = new Map<string, LocalFunction & { name: string }>();
  for (const [name, value] of Object.entries(options.functions)) {
    functions.set(name, typeof value === "function" ? { name, handler: value } : { ...value, name });
  }

  const tracker = new InvocationTracker();
  const verifier = new SigV4Verifier({ credentials: options.credentials, region, service: "lambda" });

  function invoke(fn: LocalFunction & { name: string }, event: unknown): { result: Promise<unknown> } {
    const { done, result } = runWithTimeout(fn, event, region, accountId);
    tracker.track(done);
    return { result };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(path);
    if (req.method !== "POST" || !match) {
      sendError(res, 404, "UnknownOperationException", { Type: "User", message: `No operation at ${req.method} ${path}` });
      return;
    }
    const identifier = decodeURIComponent(match[1]);
    const name = functionNameOf(identifier);
    const invocationType = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
    const limit = invocationType === "Event" ? MAX_ASYNC_PAYLOAD_BYTES : MAX_SYNC_PAYLOAD_BYTES;
    let body: Buffer;
    try {
      ({ body } = await verifySignedRequest(verifier, req, limit));
    } catch (error) {
      if (error instanceof SignatureError) {
        // Lambda's REST-JSON auth errors: 403, the type in x-amzn-errortype, the text in `message`.
        sendError(res, 403, error.errorType, { message: error.message }, true);
        return;
      }
      if (error instanceof BodyTooLargeError) {
        sendError(res, 413, "RequestTooLargeException", { Type: "User", message: `Request must be smaller than ${limit} bytes for the InvokeFunction operation` }, true);
        return;
      }
      throw error;
    }
    const fn = functions.get(name);
    if (!fn) {
      sendError(res, 404, "ResourceNotFoundException", {
        Type: "User",
        Message: `Function not found: arn:aws:lambda:${region}:${accountId}:function:${name}`,
      });
      return;
    }
    let event: unknown;
    try {
      event = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
    } catch {
      sendError(res, 400, "InvalidRequestContentException", { Type: "User", message: "Could not parse request body into json" });
      return;
    }

    switch (invocationType) {
      case "DryRun":
        res.writeHead(204, { "x-amzn-requestid": randomUUID() });
        res.end();
        return;
      case "Event": {
        const { result } = invoke(fn, event);
        result.catch((error: unknown) => logger.error(`[lambda ${name}] asynchronous invocation failed`, error));
        res.writeHead(202, { "x-amzn-requestid": randomUUID() });
        res.end();
        return;
      }
      case "RequestResponse": {
        let payload: string;
        const headers: Record<string, string> = { "content-type": "application/json", "x-amz-executed-version": "$LATEST", "x-amzn-requestid": randomUUID() };
        try {
          const value = await invoke(fn, event).result;
          payload = JSON.stringify(value === undefined ? null : value);
        } catch (error) {
          headers["x-amz-function-error"] = "Unhandled";
          payload = JSON.stringify(error instanceof TimeoutError ? { errorType: "Sandbox.Timedout", errorMessage: error.message } : functionError(error));
        }
        res.writeHead(200, headers);
        res.end(payload);
        return;
      }
      default:
        sendError(res, 400, "InvalidParameterValueException", { Type: "User", message: `Unsupported invocation type ${invocationType}` });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error("[lambda api] request failed", error);
      if (!res.headersSent) sendError(res, 500, "ServiceException", { Type: "Service", message: "internal error" });
      else res.destroy();
    });
  });
  const port = await listenOnLoopback(server, options.port);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    idle: () => tracker.idle(),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
