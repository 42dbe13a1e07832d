/**
 * Presigned GetObject URLs for sources in allowlisted buckets: SigV4 query authentication as
 * S3 defines it (UNSIGNED-PAYLOAD, `host` signed, X-Amz-Expires at most 604800), signed with
 * the answering function's own credentials, so a link opens only what its role may read and
 * only until it expires.
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Checksum, HttpRequest, SourceData } from "@smithy/types";
import { DEFAULT_OUTPUT_POLICY, type OutputPolicy } from "./output-safety";
import { MAX_SOURCE_LINK_EXPIRY_SECONDS, UNSIGNED_PAYLOAD, parseS3Uri, survivesSanitizer, webLink, type SourceLinks } from "./source-links";

/** RFC 3986 escaping of one path segment, as S3 expects an object key in a URL's path. */
function escapeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The key as a URL path; a key written already escaped in the URI (`a%20b`) is read as its characters first. */
function keyPath(key: string): string {
  return key
    .split("/")
    .map((segment) => {
      let decoded = segment;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        // A lone `%` is part of the key's name.
      }
      return escapeSegment(decoded);
    })
    .join("/");
}

export interface SourceLinkSettings {
  /** Buckets whose objects get presigned links; others stay text. */
  readonly buckets: readonly string[];
  /** Seconds a link works, 1 to MAX_SOURCE_LINK_EXPIRY_SECONDS. */
  readonly expirySeconds: number;
  readonly region: string;
  /** The answering function's credentials (its role's session). */
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /**
   * An S3 endpoint to address buckets on path-style (`{endpoint}/{bucket}/{key}`), as
   * AWS_ENDPOINT_URL_S3 names one (the local stack's S3). @default S3's own Regional endpoint
   */
  readonly endpoint?: string;
  /** Signing time, epoch ms. @default Date.now */
  readonly now?: () => number;
}

function bytes(data: SourceData): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** SHA-256 (and its HMAC, given a key) from node's crypto, in the shape SignatureV4 takes. */
class Sha256 implements Checksum {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(this.secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

export class SourceLinker implements SourceLinks {
  private readonly buckets: ReadonlySet<string>;
  private readonly signer: SignatureV4;

  constructor(private readonly settings: SourceLinkSettings) {
    const { expirySeconds } = settings;
    if (!Number.isInteger(expirySeconds) || expirySeconds < 1 || expirySeconds > MAX_SOURCE_LINK_EXPIRY_SECONDS) {
      throw new Error(`source link expiry must be an integer from 1 to ${MAX_SOURCE_LINK_EXPIRY_SECONDS} seconds; got ${expirySeconds}`);
    }
    if (settings.region === "") throw new Error("source links need a Region (AWS_REGION): S3 object URLs and their signatures name it");
    this.buckets = new Set(settings.buckets);
    // S3 signs the path as sent, escaped once (uriEscapePath: false), unlike other services.
    this.signer = new SignatureV4({
      service: "s3",
      region: settings.region,
      credentials: settings.credentials,
      sha256: Sha256,
      uriEscapePath: false,
    });
  }

  /** A presigned GetObject URL for an allowlisted `s3://` source; undefined for any other. */
  async presign(uri: string): Promise<string | undefined> {
    const object = parseS3Uri(uri);
    if (!object || !this.buckets.has(object.bucket)) return undefined;
    const { region, endpoint } = this.settings;
    let base: URL;
    let path: string;
    if (endpoint) {
      base = new URL(endpoint);
      path = `${base.pathname.replace(/\/+$/, "")}/${object.bucket}/${keyPath(object.key)}`;
    } else if (object.bucket.includes(".")) {
      // A dotted bucket name would not match S3's wildcard certificate as a virtual host.
      base = new URL(`https://s3.${region}.amazonaws.com`);
      path = `/${object.bucket}/${keyPath(object.key)}`;
    } else {
      base = new URL(`https://${object.bucket}.s3.${region}.amazonaws.com`);
      path = `/${keyPath(object.key)}`;
    }
    const request: HttpRequest = {
      method: "GET",
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port ? Number(base.port) : undefined,
      path,
      query: {},
      // Hoisted into the query as the SDK's S3 presigner spells it (X-Amz-Content-Sha256=UNSIGNED-PAYLOAD).
      headers: { host: base.host, "X-Amz-Content-Sha256": UNSIGNED_PAYLOAD },
    };
    const signed = await this.signer.presign(request, {
      expiresIn: this.settings.expirySeconds,
      signingDate: new Date((this.settings.now ?? Date.now)()),
    });
    const query = Object.entries(signed.query ?? {})
      .map(([name, value]) => `${escapeSegment(name)}=${escapeSegment(String(value))}`)
      .join("&");
    return `${base.protocol}//${base.host}${path}?${query}`;
  }

  /** The URL people may click for a source: presigned for an allowlisted object, the web URL as is, else none. */
  async link(uri: string, policy: OutputPolicy = DEFAULT_OUTPUT_POLICY): Promise<string | undefined> {
    const presigned = await this.presign(uri);
    if (presigned !== undefined) return survivesSanitizer(presigned, policy) ? presigned : undefined;
    return webLink(uri, policy);
  }
}
