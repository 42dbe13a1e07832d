/**
 * What every SigV4-checked local endpoint does before it runs anything: judge the
 * `Authorization` header (form, time, a credential the stack issued) before a byte of the
 * body is read, refuse a body over the service's limit by its Content-Length without
 * reading it, read a body within the limit while hashing it, then check the signature,
 * which covers that hash. An unsigned or foreign caller never gets a body buffered.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { parseQuery } from "./gateway/query";
import type { LocalCredential } from "./gateway/credentials";
import type { SigV4Verifier, SignedRequest } from "./gateway/sigv4";

/** A body over the endpoint's limit: refused, never buffered. */
export class BodyTooLargeError extends Error {
  constructor(
    readonly limit: number,
    readonly declared: number | undefined,
  ) {
    super(declared === undefined ? `body is larger than ${limit} bytes` : `body of ${declared} bytes is larger than ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

export interface VerifiedRequest {
  readonly credential: LocalCredential;
  readonly body: Buffer;
}

/** The request as the verifier sees it (path still percent-encoded, query parsed). */
export function signedRequestOf(req: IncomingMessage): SignedRequest {
  const url = req.url ?? "/";
  const queryAt = url.indexOf("?");
  return {
    method: req.method ?? "GET",
    rawPath: queryAt < 0 ? url : url.slice(0, queryAt),
    query: parseQuery(queryAt < 0 ? "" : url.slice(queryAt + 1)).params,
    headers: req.headers,
  };
}

/** The declared Content-Length, when there is a valid one. */
function declaredLength(req: IncomingMessage): number | undefined {
  const value = req.headers["content-length"];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Reads at most `limit` bytes, hashing as it goes; past the limit it stops reading and throws. */
async function readHashed(req: IncomingMessage, limit: number): Promise<{ body: Buffer; sha256: string }> {
  const hash = createHash("sha256");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(limit, undefined);
    hash.update(chunk);
    chunks.push(chunk);
  }
  return { body: Buffer.concat(chunks, size), sha256: hash.digest("hex") };
}

/**
 * Verifies a header-signed request in the order above; throws SignatureError or
 * BodyTooLargeError. The caller answers either and should close the connection when the
 * body was left unread (`Connection: close`).
 */
export async function verifySignedRequest(verifier: SigV4Verifier, req: IncomingMessage, limit: number): Promise<VerifiedRequest> {
  const request = signedRequestOf(req);
  verifier.precheckHeader(request);
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) throw new BodyTooLargeError(limit, declared);
  const { body, sha256 } = await readHashed(req, limit);
  const credential = await verifier.verifyHeader(request, sha256);
  return { credential, body };
}
