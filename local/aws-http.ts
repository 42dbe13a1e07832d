/**
 * HTTP plumbing of the local Cognito Identity and Lex Runtime V2 endpoints: bounded body
 * reading (hashed while read, for SigV4), JSON answers with a request id, AWS errors in
 * either protocol's shape, and the CORS answers that let a browser client (Lex Web UI)
 * call them cross-origin, as the real services allow. Requests and responses may be
 * HTTP/1.1 or HTTP/2 (node's compatibility API).
 */
import { createHash, randomUUID } from "node:crypto";
import type { CompatRequest as IncomingMessage, CompatResponse as ServerResponse } from "./bedrock/dual-protocol";

/** An error answered in the service's protocol; the SDK maps `type` to its exception class. */
export class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

export interface ReadBody {
  readonly bytes: Buffer;
  /** Hex SHA-256 of the body as received. */
  readonly sha256: string;
}

/** Reads the body up to `limit` bytes; a larger one is an AwsError of `tooLarge`. */
export async function readBody(req: IncomingMessage, limit: number, tooLarge: AwsError): Promise<ReadBody> {
  const hash = createHash("sha256");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge;
    hash.update(chunk);
    chunks.push(chunk);
  }
  return { bytes: Buffer.concat(chunks), sha256: hash.digest("hex") };
}

/** The body as a JSON object; anything else is an AwsError of `invalid`. */
export function jsonObject(bytes: Buffer, invalid: AwsError): Record<string, unknown> {
  if (bytes.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw invalid;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw invalid;
  return parsed as Record<string, unknown>;
}

const EXPOSED_HEADERS = "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date";

/** Answers a CORS preflight; true when `req` was one. */
export function answerPreflight(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== "OPTIONS") return false;
  res.writeHead(200, {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET,POST,PUT,DELETE,OPTIONS",
    "access-control-allow-headers": String(req.headers["access-control-request-headers"] ?? "*"),
    "access-control-max-age": "86400",
    "content-length": "0",
  });
  res.end();
  return true;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, contentType: string, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(JSON.stringify(body), "utf8");
  res.writeHead(status, {
    "x-amzn-requestid": randomUUID(),
    "access-control-allow-origin": "*",
    "access-control-expose-headers": EXPOSED_HEADERS,
    ...headers,
    "content-type": contentType,
    "content-length": String(payload.length),
  });
  res.end(payload);
}

/** awsJson1.1: the error's type in the body's `__type` (and the header), its text in `message`. */
export function sendAwsJsonError(res: ServerResponse, error: AwsError): void {
  sendJson(res, error.status, { __type: error.type, message: error.message }, "application/x-amz-json-1.1", { "x-amzn-errortype": error.type });
}

/** REST-JSON: the error's type in `x-amzn-errortype`, its text in the body's `message`. */
export function sendRestJsonError(res: ServerResponse, error: AwsError): void {
  sendJson(res, error.status, { message: error.message }, "application/json", { "x-amzn-errortype": error.type });
}
