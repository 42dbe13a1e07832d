/**
 * The QnA stack's HTTP API (`POST /ask` and `POST /feedback`, AWS_IAM) for the local stack: SigV4 `Authorization`
 * verified like API Gateway does, payload 2.0 events with the IAM authorizer context, the
 * fulfillment handler invoked in-process.
 *
 * A body is read only once the signature headers name a current credential the stack
 * issued, and never past HTTP API's 10 MB payload quota (a larger Content-Length is
 * refused unread); the signature, which covers the body's hash, is checked once it is read.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from "aws-lambda";
import { SigV4Verifier, SignatureError } from "./gateway/sigv4";
import type { CredentialLookup, LocalCredential } from "./gateway/credentials";
import { InvocationTracker, createLambdaContext, type LambdaHandler } from "./lambda-api";
import { listenOnLoopback } from "./loopback";
import { BodyTooLargeError, verifySignedRequest } from "./signed-request";

export interface LocalHttpApiOptions {
  /** The function behind `POST /ask` and `POST /feedback`. */
  readonly handler: LambdaHandler;
  /** Credentials whose signatures are accepted: a fixed list, or the stack's store (which grows as Cognito issues guests). */
  readonly credentials: readonly LocalCredential[] | CredentialLookup;
  /** @default "us-east-1" */
  readonly region?: string;
  /** @default "localhttp" */
  readonly apiId?: string;
  /** HTTP API's integration timeout. @default 30000 */
  readonly timeoutMs?: number;
  /** @default 0 (the OS picks) */
  readonly port?: number;
}

export interface LocalHttpApi {
  /** `http://127.0.0.1:{port}/ask` */
  readonly askUrl: string;
  /** `http://127.0.0.1:{port}/feedback` */
  readonly feedbackUrl: string;
  /** Resolves when no `POST /ask` handler is running (one whose caller hung up runs on, as on Lambda). */
  idle(): Promise<void>;
  /** Stops listening and drops open requests; handlers still running finish in the background (see `idle`). */
  close(): Promise<void>;
}

/** HTTP API's payload quota (10 MB, "Quotas for configuring and running an HTTP API"); more is refused before it is buffered. */
export const MAX_HTTP_API_BODY_BYTES = 10 * 1024 * 1024;

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    "apigw-requestid": randomUUID(),
    ...headers,
  });
  res.end(body);
}

/** The routes the deployed HTTP API has (components/qna.ts), by path. */
const ROUTE_KEYS: ReadonlyMap<string, string> = new Map([
  ["/ask", "POST /ask"],
  ["/feedback", "POST /feedback"],
]);

export function headerMap(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  return headers;
}

export function iamAuthorizer(credential: LocalCredential): APIGatewayProxyEventV2WithIAMAuthorizer["requestContext"]["authorizer"]["iam"] {
  const identity = credential.identity;
  return {
    accessKey: credential.accessKeyId,
    accountId: identity.accountId,
    callerId: identity.caller ?? "",
    // @types/aws-lambda types this field as always null; for Cognito callers it is not.
    cognitoIdentity: (identity.cognitoIdentityId
      ? {
          amr: [identity.cognitoAuthenticationType ?? "unauthenticated"],
          identityId: identity.cognitoIdentityId,
          identityPoolId: identity.cognitoIdentityPoolId ?? "",
        }
      : null) as never,
    principalOrgId: (identity.principalOrgId ?? null) as never,
    userArn: identity.userArn,
    userId: identity.user ?? identity.caller ?? "",
  };
}

/** Shapes a Lambda result as HTTP API does for payload format 2.0. */
function toHttpResponse(result: unknown): { status: number; body: string; headers: Record<string, string> } {
  if (typeof result === "object" && result !== null && "statusCode" in result) {
    const r = result as { statusCode: number; body?: string; headers?: Record<string, string>; isBase64Encoded?: boolean };
    const body = r.isBase64Encoded && r.body ? Buffer.from(r.body, "base64").toString() : (r.body ?? "");
    return { status: r.statusCode, body, headers: r.headers ?? {} };
  }
  return { status: 200, body: typeof result === "string" ? result : JSON.stringify(result ?? null), headers: {} };
}

export async function startLocalHttpApi(options: LocalHttpApiOptions): Promise<LocalHttpApi> {
  const region = options.region ?? "us-east-1";
  const apiId = options.apiId ?? "localhttp";
  const verifier = new SigV4Verifier({ credentials: options.credentials, region, service: "execute-api" });
  const tracker = new InvocationTracker();

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const queryAt = url.indexOf("?");
    const rawPath = queryAt < 0 ? url : url.slice(0, queryAt);
    const rawQueryString = queryAt < 0 ? "" : url.slice(queryAt + 1);
    const routeKey = ROUTE_KEYS.get(rawPath);
    if (routeKey === undefined || req.method !== "POST") return send(res, 404, JSON.stringify({ message: "Not Found" }), { connection: "close" });
    let credential: LocalCredential;
    let body: Buffer;
    try {
      ({ credential, body } = await verifySignedRequest(verifier, req, MAX_HTTP_API_BODY_BYTES));
    } catch (error) {
      // The body may be left unread: the connection cannot carry another request.
      if (error instanceof SignatureError) return send(res, 403, JSON.stringify({ message: "Forbidden" }), { connection: "close" });
      if (error instanceof BodyTooLargeError) return send(res, 413, JSON.stringify({ message: "Request Entity Too Large" }), { connection: "close" });
      throw error;
    }
    const now = Date.now();
    const requestId = randomUUID();
    const event: APIGatewayProxyEventV2WithIAMAuthorizer = {
      version: "2.0",
      routeKey,
      rawPath,
      rawQueryString,
      headers: headerMap(req),
      requestContext: {
        accountId: credential.identity.accountId,
        apiId,
        authorizer: { iam: iamAuthorizer(credential) },
        domainName: req.headers.host ?? "127.0.0.1",
        domainPrefix: apiId,
        http: {
          method: "POST",
          path: rawPath,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
          userAgent: req.headers["user-agent"] ?? "",
        },
        requestId,
        routeKey,
        stage: "$default",
        time: new Date(now).toUTCString(),
        timeEpoch: now,
      },
      body: body.toString("utf8"),
      isBase64Encoded: false,
    };
    const context = createLambdaContext({ functionName: "fulfillment", timeoutMs: options.timeoutMs ?? 30_000, region });
    const invocation = Promise.resolve().then(() => options.handler(event, context));
    tracker.track(invocation);
    let result: unknown;
    try {
      result = await invocation;
    } catch {
      return send(res, 500, JSON.stringify({ message: "Internal Server Error" }));
    }
    const response = toHttpResponse(result);
    send(res, response.status, response.body, response.headers);
  }

  const server: Server = createServer((req, res) => {
    serve(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ message: "Internal Server Error" }));
      else res.destroy();
    });
  });
  const port = await listenOnLoopback(server, options.port);
  return {
    askUrl: `http://127.0.0.1:${port}/ask`,
    feedbackUrl: `http://127.0.0.1:${port}/feedback`,
    idle: () => tracker.idle(),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
