/**
 * A Lambda function URL (AuthType AWS_IAM, InvokeMode RESPONSE_STREAM) for the local stack:
 * SigV4 verified like Lambda does (service `lambda`, the signature judged before the body is
 * read, Lambda's 6 MB request payload quota), the payload 2.0 event with the IAM authorizer
 * context, and the handler's streamed response relayed as it is written (chunked transfer):
 * the prelude `HttpResponseStream.from` wrote becomes the status and headers, the rest the
 * body. When the caller hangs up, the handler runs on and its writes are taken and dropped:
 * Lambda does not interrupt or stop a streamed response when the invoking client's connection
 * breaks, and bills the whole duration
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html).
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { PassThrough } from "node:stream";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import type { CredentialLookup, LocalCredential } from "./gateway/credentials";
import { SigV4Verifier, SignatureError } from "./gateway/sigv4";
import { headerMap, iamAuthorizer } from "./http-api";
import { InvocationTracker, createLambdaContext } from "./lambda-api";
import { listenOnLoopback } from "./loopback";
import { PRELUDE_DELIMITER, hasPrelude, isStreamingHandler, type StreamingHandler } from "./response-streaming";
import { BodyTooLargeError, verifySignedRequest } from "./signed-request";

/** Lambda's synchronous request payload quota (6 MB), which a function URL request counts against. */
export const MAX_FUNCTION_URL_BODY_BYTES = 6 * 1024 * 1024;
/** Longest a prelude may be before the body: a bound, so a handler that never ends one cannot grow memory. */
const MAX_PRELUDE_BYTES = 64 * 1024;

export interface LocalFunctionUrlOptions {
  /** A handler wrapped by `awslambda.streamifyResponse` (local/response-streaming.ts). */
  readonly handler: StreamingHandler;
  /** Credentials whose signatures are accepted. */
  readonly credentials: readonly LocalCredential[] | CredentialLookup;
  /** @default "us-east-1" */
  readonly region?: string;
  /** The URL id (`https://{urlId}.lambda-url.{region}.on.aws`). @default "localurl" */
  readonly urlId?: string;
  /** The function's timeout. @default 900000 (Lambda's 15 minutes) */
  readonly timeoutMs?: number;
  /** @default 0 (the OS picks) */
  readonly port?: number;
}

export interface LocalFunctionUrl {
  /** `http://127.0.0.1:{port}/` */
  readonly url: string;
  /** Resolves when no invocation is running. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ Message: message });
  res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type, "content-length": String(Buffer.byteLength(body)), connection: "close" });
  res.end(body);
}

/**
 * Relays a handler's response stream as it is written: a prelude (when the handler framed one
 * with HttpResponseStream.from) becomes the status and headers, the rest the chunked body.
 */
function relay(responseStream: PassThrough, res: ServerResponse): void {
  let pending: Buffer | undefined = Buffer.alloc(0);
  const head = (statusCode: number, headers: Record<string, string>) => res.writeHead(statusCode, { ...headers, "transfer-encoding": "chunked" });
  responseStream.on("data", (chunk: Buffer) => {
    // The caller hung up: the function's writes still succeed, and go nowhere.
    if (res.destroyed) return;
    if (pending === undefined) {
      res.write(chunk);
      return;
    }
    if (!hasPrelude(responseStream)) {
      head(200, { "content-type": "application/octet-stream" });
      pending = undefined;
      res.write(chunk);
      return;
    }
    pending = Buffer.concat([pending, chunk]);
    const at = pending.indexOf(PRELUDE_DELIMITER);
    if (at < 0) {
      if (pending.length > MAX_PRELUDE_BYTES) responseStream.destroy(new Error("the response prelude never ended"));
      return;
    }
    const prelude = JSON.parse(pending.subarray(0, at).toString("utf8")) as { statusCode?: number; headers?: Record<string, string> };
    head(prelude.statusCode ?? 200, prelude.headers ?? {});
    const rest = pending.subarray(at + PRELUDE_DELIMITER.length);
    pending = undefined;
    if (rest.length > 0) res.write(rest);
  });
  responseStream.on("end", () => {
    if (res.destroyed) return;
    if (!res.headersSent) head(200, { "content-type": "application/octet-stream" });
    res.end();
  });
}

export async function startLocalFunctionUrl(options: LocalFunctionUrlOptions): Promise<LocalFunctionUrl> {
  if (!isStreamingHandler(options.handler)) throw new Error("a RESPONSE_STREAM function URL needs a handler wrapped by awslambda.streamifyResponse");
  const region = options.region ?? "us-east-1";
  const urlId = options.urlId ?? "localurl";
  const verifier = new SigV4Verifier({ credentials: options.credentials, region, service: "lambda" });
  const tracker = new InvocationTracker();

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let credential: LocalCredential;
    let body: Buffer;
    try {
      ({ credential, body } = await verifySignedRequest(verifier, req, MAX_FUNCTION_URL_BODY_BYTES));
    } catch (error) {
      if (error instanceof SignatureError) return send(res, 403, "AccessDeniedException", "Forbidden");
      if (error instanceof BodyTooLargeError) return send(res, 413, "RequestEntityTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation");
      throw error;
    }
    const url = req.url ?? "/";
    const queryAt = url.indexOf("?");
    const rawPath = queryAt < 0 ? url : url.slice(0, queryAt);
    const now = Date.now();
    const event: LambdaFunctionURLEvent = {
      version: "2.0",
      routeKey: "$default",
      rawPath,
      rawQueryString: queryAt < 0 ? "" : url.slice(queryAt + 1),
      headers: headerMap(req),
      requestContext: {
        accountId: "anonymous",
        apiId: urlId,
        authorizer: { iam: iamAuthorizer(credential) },
        domainName: req.headers.host ?? "127.0.0.1",
        domainPrefix: urlId,
        http: {
          method: req.method ?? "POST",
          path: rawPath,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
          userAgent: req.headers["user-agent"] ?? "",
        },
        requestId: randomUUID(),
        routeKey: "$default",
        stage: "$default",
        time: new Date(now).toUTCString(),
        timeEpoch: now,
      },
      body: body.toString("utf8"),
      isBase64Encoded: false,
    } as LambdaFunctionURLEvent;
    const responseStream = new PassThrough();
    responseStream.once("error", () => res.destroy());
    const context = createLambdaContext({ functionName: "ask-stream", timeoutMs: options.timeoutMs ?? 900_000, region });
    relay(responseStream, res);
    const invocation = Promise.resolve().then(() => options.handler(event, responseStream, context));
    tracker.track(invocation);
    try {
      await invocation;
      // The runtime ends the response when the handler returns, whether or not it did.
      if (!responseStream.writableEnded) responseStream.end();
    } catch {
      if (!res.headersSent) send(res, 502, "ServiceException", "The Lambda function returned an error.");
      else res.destroy();
    }
  }

  const server: Server = createServer((req, res) => {
    serve(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, "ServiceException", "Internal error");
      else res.destroy();
    });
  });
  const port = await listenOnLoopback(server, options.port);
  return {
    url: `http://127.0.0.1:${port}/`,
    idle: () => tracker.idle(),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
