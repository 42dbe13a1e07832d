/**
 * What every SigV4-checked local endpoint does before it runs anything: judge the
 * `Authorization` header (form, time, a credential the stack issued) before a byte of the
 * body is read, refuse a body over the service's limit by its Content-Length without
 * reading it, read a body within the limit while hashing it, then check the signature,
 * which covers that hash. An unsigned or foreign caller never gets a body buffered.
 *
 * A caller that names a credential the stack issued (its access key id is no secret) but signs
 * badly still has its body read before the signature can be checked, since the signature
 * covers the body's hash. So every such read first reserves its size from one budget of
 * UNVERIFIED_BODY_BUDGET_BYTES shared by all endpoints, and waits while it is spent (the
 * request's socket is simply not read meanwhile): concurrent bad-signature uploads hold at
 * most that much memory (issue 21: 1,038 MB RSS at peak before).
 */
import { createHash } from "node:crypto";
import type { CompatRequest as IncomingMessage } from "./bedrock/dual-protocol";
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

/** Bytes of not-yet-verified bodies all endpoints may hold at once: twice the largest body limit (DynamoDB's 16 MB). */
export const UNVERIFIED_BODY_BUDGET_BYTES = 32 * 1024 * 1024;

/**
 * A byte budget taken whole per body (the declared length, or the endpoint's limit when none
 * is declared), so readers never hold part of it while waiting for more: no deadlock as long
 * as every body fits the budget. Waiters are served in arrival order.
 */
export class ByteBudget {
  private used = 0;
  /** Most bytes ever held at once. */
  peak = 0;
  private readonly waiters: { bytes: number; grant: () => void }[] = [];

  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Resolves once `bytes` are held; give them back with the function it returns. */
  async take(bytes: number): Promise<() => void> {
    if (bytes > this.limit) throw new RangeError(`a body of ${bytes} bytes cannot fit a budget of ${this.limit}`);
    if (this.waiters.length > 0 || this.used + bytes > this.limit) {
      await new Promise<void>((grant) => this.waiters.push({ bytes, grant }));
    } else {
      this.hold(bytes);
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used -= bytes;
      this.serve();
    };
  }

  private hold(bytes: number): void {
    this.used += bytes;
    this.peak = Math.max(this.peak, this.used);
  }

  private serve(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0].bytes <= this.limit) {
      const next = this.waiters.shift()!;
      this.hold(next.bytes);
      next.grant();
    }
  }
}

/** The budget every SigV4-checked local endpoint reads unverified bodies from. */
export const UNVERIFIED_BODIES = new ByteBudget(UNVERIFIED_BODY_BUDGET_BYTES);

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
  const giveBack = await UNVERIFIED_BODIES.take(declared ?? limit);
  try {
    const { body, sha256 } = await readHashed(req, limit);
    const credential = await verifier.verifyHeader(request, sha256);
    return { credential, body };
  } finally {
    // Once verified the body is the caller's; refused, it is garbage.
    giveBack();
  }
}
