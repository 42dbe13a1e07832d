/**
 * SigV4 verification as API Gateway's AWS_IAM authorization does it: recompute the
 * signature for the credential the request names (canonicalisation and signing-key
 * derivation from @smithy/signature-v4, so a request is judged by the same code that
 * signs it) and compare in constant time. Two carriers: the query string of a presigned
 * `$connect` URL, and the `Authorization` header of an @connections call.
 *
 * The `host` a signature covers may be the Host header as sent (`127.0.0.1:8081`) or that
 * header without its port (`127.0.0.1`): browser clients such as Lex Web UI sign the URL's
 * hostname only, which on AWS (port 443, never written) is exactly what API Gateway
 * receives. No other host form is accepted.
 */
import { timingSafeEqual } from "node:crypto";
import { Hash } from "@smithy/hash-node";
import {
  ALGORITHM_IDENTIFIER,
  ALGORITHM_QUERY_PARAM,
  AMZ_DATE_HEADER,
  AMZ_DATE_QUERY_PARAM,
  CREDENTIAL_QUERY_PARAM,
  EXPIRES_QUERY_PARAM,
  KEY_TYPE_IDENTIFIER,
  MAX_PRESIGNED_TTL,
  SHA256_HEADER,
  SIGNATURE_QUERY_PARAM,
  SIGNED_HEADERS_QUERY_PARAM,
  SignatureV4Base,
  TOKEN_HEADER,
  TOKEN_QUERY_PARAM,
  createScope,
  getCanonicalHeaders,
  getSigningKey,
} from "@smithy/signature-v4";
import type { HttpRequest } from "@smithy/types";
import type { CredentialLookup, LocalCredential } from "./credentials";
import type { QueryParameters } from "./query";

const Sha256 = Hash.bind(null, "sha256");

/** SHA-256 of the empty payload: what a presigned GET signs. */
const EMPTY_PAYLOAD_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** How far a signing time may be from the verifier's clock (AWS allows 5 minutes). */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** A refused signature. API Gateway answers every one with 403; `errorType` says why. */
export class SignatureError extends Error {
  readonly status = 403;
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
    this.name = "SignatureError";
  }
}

const MISMATCH =
  "The request signature we calculated does not match the signature you provided. " +
  "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const INVALID_TOKEN = "The security token included in the request is invalid.";
const EXPIRED_TOKEN = "The security token included in the request is expired";

/** `host:port` → `host` (IPv6 literals keep their brackets); undefined when there is no port. */
export function hostWithoutPort(host: string): string | undefined {
  const m = /^(.+):(\d+)$/.exec(host);
  return m && (m[1].startsWith("[") ? m[1].endsWith("]") : !m[1].includes(":")) ? m[1] : undefined;
}

/** The parts of a request a signature covers. Header names are lower case (node's `IncomingMessage.headers`). */
export interface SignedRequest {
  readonly method: string;
  /** The path exactly as on the wire (still percent-encoded), without the query. */
  readonly rawPath: string;
  readonly query: QueryParameters;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

interface SignatureClaims {
  accessKeyId: string;
  shortDate: string;
  region: string;
  service: string;
  longDate: string;
  signedHeaders: string[];
  signature: string;
  sessionToken?: string;
}

/** `yyyymmddThhmmssZ` → epoch ms, or NaN. */
export function parseAmzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(",") : value;
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  // timingSafeEqual needs equal lengths; comparing against itself keeps the time independent of where they differ.
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

/** Exposes the canonical-request and string-to-sign builders that SignatureV4 uses internally. */
class CanonicalSigner extends SignatureV4Base {
  constructor(service: string, uriEscapePath: boolean) {
    // The base class wants a credential and region; verification passes its own per request.
    super({ service, region: "unused", credentials: { accessKeyId: "unused", secretAccessKey: "unused" }, sha256: Sha256, uriEscapePath });
  }

  async signature(
    request: HttpRequest,
    canonicalHeaders: Record<string, string>,
    payloadHash: string,
    claims: SignatureClaims,
    secretAccessKey: string,
  ): Promise<string> {
    const scope = createScope(claims.shortDate, claims.region, claims.service);
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    const stringToSign = await this.createStringToSign(claims.longDate, scope, canonicalRequest, ALGORITHM_IDENTIFIER);
    // getSigningKey caches the derived key per date, region, service and credential.
    const key = await getSigningKey(
      Sha256,
      { accessKeyId: claims.accessKeyId, secretAccessKey, sessionToken: claims.sessionToken },
      claims.shortDate,
      claims.region,
      claims.service,
    );
    const hmac = new Sha256(key);
    hmac.update(stringToSign);
    return Buffer.from(await hmac.digest()).toString("hex");
  }
}

export interface SigV4VerifierOptions {
  /** The accepted credentials: a fixed list, or a store that grows while the verifier runs. */
  readonly credentials: readonly LocalCredential[] | CredentialLookup;
  /** Region a credential scope must name; undefined accepts any (one emulator standing in for every Region). */
  readonly region: string | undefined;
  /** @default "execute-api" */
  readonly service?: string;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
  /** S3 signs the path as sent (escaped once); every other service escapes it again. @default true */
  readonly uriEscapePath?: boolean;
  /**
   * The payload hash a presigned URL signs: S3 signs the constant `UNSIGNED-PAYLOAD`, and
   * requires X-Amz-Expires. @default the empty payload's hash, X-Amz-Expires optional
   */
  readonly presigned?: { readonly payloadHash: string; readonly requireExpires: boolean };
}

export class SigV4Verifier {
  private readonly credentials: CredentialLookup;
  private readonly signer: CanonicalSigner;
  private readonly region: string | undefined;
  private readonly service: string;
  private readonly now: () => number;
  private readonly presigned: NonNullable<SigV4VerifierOptions["presigned"]>;

  constructor(options: SigV4VerifierOptions) {
    const given = options.credentials;
    if (isLookup(given)) this.credentials = given;
    else {
      const byAccessKey = new Map(given.map((credential) => [credential.accessKeyId, credential]));
      this.credentials = { get: (accessKeyId) => byAccessKey.get(accessKeyId) };
    }
    this.region = options.region;
    this.service = options.service ?? "execute-api";
    this.now = options.now ?? Date.now;
    this.presigned = options.presigned ?? { payloadHash: EMPTY_PAYLOAD_HASH, requireExpires: false };
    this.signer = new CanonicalSigner(this.service, options.uriEscapePath ?? true);
  }

  /** Verifies a presigned URL (`X-Amz-*` query parameters); returns the signer's credential. */
  async verifyQuery(request: SignedRequest): Promise<LocalCredential> {
    // SigV4 sorts a repeated parameter's values before signing, so their order (which decides
    // the value a handler reads: the last) is not signed; a second X-Amz-Signature is not
    // signed at all. A repeat is refused rather than read either way (issue 21, finding 7).
    for (const [name, value] of Object.entries(request.query)) {
      if (Array.isArray(value)) {
        throw new SignatureError("InvalidSignatureException", `Query parameter ${name} appears ${value.length} times; a signed URL names each parameter once.`);
      }
    }
    const q = (name: string): string | undefined => single(request.query[name]);
    const present = [ALGORITHM_QUERY_PARAM, CREDENTIAL_QUERY_PARAM, AMZ_DATE_QUERY_PARAM, SIGNED_HEADERS_QUERY_PARAM, SIGNATURE_QUERY_PARAM].filter(
      (name) => q(name) !== undefined,
    );
    if (present.length === 0) throw new SignatureError("MissingAuthenticationTokenException", "Missing Authentication Token");
    if (present.length < 5) {
      throw new SignatureError(
        "IncompleteSignatureException",
        `Authorization query parameters require ${ALGORITHM_QUERY_PARAM}, ${CREDENTIAL_QUERY_PARAM}, ${AMZ_DATE_QUERY_PARAM}, ${SIGNED_HEADERS_QUERY_PARAM} and ${SIGNATURE_QUERY_PARAM}`,
      );
    }
    if (q(ALGORITHM_QUERY_PARAM) !== ALGORITHM_IDENTIFIER) {
      throw new SignatureError("IncompleteSignatureException", `Unsupported ${ALGORITHM_QUERY_PARAM}: only ${ALGORITHM_IDENTIFIER} is accepted`);
    }
    const claims = this.claims(q(CREDENTIAL_QUERY_PARAM)!, q(AMZ_DATE_QUERY_PARAM)!, q(SIGNED_HEADERS_QUERY_PARAM)!, q(SIGNATURE_QUERY_PARAM)!);
    claims.sessionToken = q(TOKEN_QUERY_PARAM);

    const expires = q(EXPIRES_QUERY_PARAM);
    if (expires === undefined && this.presigned.requireExpires) {
      throw new SignatureError("AuthorizationQueryParametersError", `Query-string authentication version 4 requires the ${EXPIRES_QUERY_PARAM} parameter.`);
    }
    if (expires !== undefined && !(/^\d+$/.test(expires) && Number(expires) >= 1 && Number(expires) <= MAX_PRESIGNED_TTL)) {
      throw new SignatureError("InvalidSignatureException", `${EXPIRES_QUERY_PARAM} must be an integer from 1 to ${MAX_PRESIGNED_TTL}`);
    }
    // Without X-Amz-Expires (signers such as Amplify's make it optional) the usual clock-skew window applies.
    this.checkTime(claims.longDate, expires === undefined ? MAX_CLOCK_SKEW_MS : Number(expires) * 1000);
    return this.check(request, claims, this.presigned.payloadHash);
  }

  /**
   * Verifies an `Authorization: AWS4-HMAC-SHA256 …` header; `payloadHash` is the hex SHA-256
   * of the body as received (the caller hashes while reading, however large the body).
   */
  async verifyHeader(request: SignedRequest, payloadHash: string): Promise<LocalCredential> {
    const claims = this.headerClaims(request);
    // The SDK signs x-amz-content-sha256; trusting it without checking would let a body be swapped under a valid signature.
    const declared = single(request.headers[SHA256_HEADER]);
    if (declared !== undefined && declared !== payloadHash) {
      throw new SignatureError("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
    return this.check(request, claims, payloadHash);
  }

  /**
   * Everything about an `Authorization` header that does not need the body: its form, its
   * time, a known credential with its own session token, not expired. A server calls this
   * before reading a body, so an unsigned or foreign request never gets one buffered; the
   * signature itself (which covers the body's hash) is checked by `verifyHeader` after.
   */
  precheckHeader(request: SignedRequest): LocalCredential {
    const claims = this.headerClaims(request);
    return this.knownCredential(claims);
  }

  private headerClaims(request: SignedRequest): SignatureClaims {
    const authorization = single(request.headers.authorization);
    if (!authorization) throw new SignatureError("MissingAuthenticationTokenException", "Missing Authentication Token");
    const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*$/.exec(authorization);
    if (!m) {
      throw new SignatureError("IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' (AWS4-HMAC-SHA256)");
    }
    const longDate = single(request.headers[AMZ_DATE_HEADER]);
    if (!longDate) throw new SignatureError("IncompleteSignatureException", "Authorization header requires the X-Amz-Date header");
    const claims = this.claims(m[1], longDate, m[2], m[3]);
    claims.sessionToken = single(request.headers[TOKEN_HEADER]);

    this.checkTime(claims.longDate, MAX_CLOCK_SKEW_MS);
    return claims;
  }

  /** A signature is current from 5 minutes before its date (clock skew) until `lifetimeMs` after it. */
  private checkTime(longDate: string, lifetimeMs: number): void {
    const signedAt = parseAmzDate(longDate);
    const now = this.now();
    if (signedAt - MAX_CLOCK_SKEW_MS > now) {
      throw new SignatureError("InvalidSignatureException", `Signature not yet current: ${longDate} is still later than ${formatAmzDate(now + MAX_CLOCK_SKEW_MS)}`);
    }
    if (now > signedAt + lifetimeMs) {
      throw new SignatureError("InvalidSignatureException", `Signature expired: ${longDate} is now earlier than ${formatAmzDate(now - lifetimeMs)}`);
    }
  }

  private claims(credential: string, longDate: string, signedHeaders: string, signature: string): SignatureClaims {
    const parts = credential.split("/");
    if (parts.length !== 5 || parts[4] !== KEY_TYPE_IDENTIFIER) {
      throw new SignatureError("IncompleteSignatureException", `Credential must have the form {accessKeyId}/{date}/{region}/{service}/${KEY_TYPE_IDENTIFIER}`);
    }
    const [accessKeyId, shortDate, region, service] = parts;
    if (Number.isNaN(parseAmzDate(longDate))) throw new SignatureError("IncompleteSignatureException", `Invalid X-Amz-Date: ${longDate}`);
    if (shortDate !== longDate.slice(0, 8)) {
      throw new SignatureError("InvalidSignatureException", `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${shortDate}' != '${longDate.slice(0, 8)}'`);
    }
    if (this.region !== undefined && region !== this.region) throw new SignatureError("InvalidSignatureException", `Credential should be scoped to a valid region, not '${region}'.`);
    if (service !== this.service) throw new SignatureError("InvalidSignatureException", `Credential should be scoped to correct service: '${this.service}'.`);
    return { accessKeyId, shortDate, region, service, longDate, signedHeaders: signedHeaders.split(";"), signature: signature.toLowerCase() };
  }

  /** The credential the claims name, when it is known, presented with its own session token and not expired. */
  private knownCredential(claims: SignatureClaims): LocalCredential {
    const credential = this.credentials.get(claims.accessKeyId);
    if (!credential) throw new SignatureError("UnrecognizedClientException", INVALID_TOKEN);
    // A token must be presented exactly when the credential is temporary, and must be its own.
    const expectedToken = credential.sessionToken;
    const tokenValid = expectedToken
      ? claims.sessionToken !== undefined && constantTimeEqual(claims.sessionToken, expectedToken)
      : claims.sessionToken === undefined;
    if (!tokenValid) throw new SignatureError("UnrecognizedClientException", INVALID_TOKEN);
    if (credential.expiration && this.now() >= credential.expiration.getTime()) throw new SignatureError("ExpiredTokenException", EXPIRED_TOKEN);
    return credential;
  }

  private async check(request: SignedRequest, claims: SignatureClaims, payloadHash: string): Promise<LocalCredential> {
    const credential = this.knownCredential(claims);
    // Over HTTP/2 the SDK signs the host as `:authority` (the pseudo-header that replaces Host).
    const hostHeader = claims.signedHeaders.includes("host") ? "host" : claims.signedHeaders.includes(":authority") ? ":authority" : undefined;
    if (!hostHeader) throw new SignatureError("InvalidSignatureException", "'Host' must be a signed header.");
    const picked: Record<string, string> = {};
    for (const name of claims.signedHeaders) {
      const value = headerValue(request.headers[name]);
      if (value === undefined) throw new SignatureError("InvalidSignatureException", `Signed header '${name}' is missing from the request.`);
      picked[name] = value;
    }
    const query: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.query)) if (name !== SIGNATURE_QUERY_PARAM) query[name] = value;
    const matches = async (headers: Record<string, string>): Promise<boolean> => {
      // Signable even where smithy would skip them (user-agent, …): the client chose to sign them.
      const canonicalHeaders = getCanonicalHeaders({ headers } as HttpRequest, undefined, new Set(claims.signedHeaders));
      const canonicalRequest = { method: request.method, path: request.rawPath, query, headers } as unknown as HttpRequest;
      const expected = await this.signer.signature(canonicalRequest, canonicalHeaders, payloadHash, claims, credential.secretAccessKey);
      return constantTimeEqual(expected, claims.signature);
    };
    if (await matches(picked)) return credential;
    const bareHost = hostWithoutPort(picked[hostHeader]);
    if (bareHost !== undefined && (await matches({ ...picked, [hostHeader]: bareHost }))) return credential;
    throw new SignatureError("InvalidSignatureException", MISMATCH);
  }
}

function isLookup(value: readonly LocalCredential[] | CredentialLookup): value is CredentialLookup {
  return !Array.isArray(value);
}

export function formatAmzDate(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
}
