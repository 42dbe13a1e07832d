/**
 * Sources people can click: an `s3://bucket/key` source in a bucket the operator allowlisted
 * becomes a short-lived presigned HTTPS GetObject URL (SigV4 query authentication, signed with
 * the answering function's own credentials, so it opens only what its role may read); a web
 * source keeps its URL when that is http(s); anything else stays text. Every URL must come
 * through the output sanitizer unchanged, or it is dropped: a link is never more live than the
 * same link in the model's text would be. The signer itself is source-presign.ts, loaded only
 * by a stack that allowlists buckets.
 */
import { DEFAULT_OUTPUT_POLICY, sanitizeOutput, type OutputPolicy } from "./output-safety";

/** How long a presigned source link works by default: long enough to read the answer, short enough not to be shared for good. */
export const DEFAULT_SOURCE_LINK_EXPIRY_SECONDS = 900;
/** SigV4 query authentication allows at most 7 days (S3 API reference, "Authenticating Requests: Using Query Parameters"). */
export const MAX_SOURCE_LINK_EXPIRY_SECONDS = 604_800;
/** Longest snippet a source carries (characters, whole words, an ellipsis when cut). */
export const SOURCE_SNIPPET_CHARS = 240;

/** S3 general purpose bucket names: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** S3 signs no payload of a presigned URL (the URL does not know the body): the constant below stands in. */
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

/** The allowlisted buckets from a comma-separated setting; throws on a name S3 would refuse. */
export function parseSourceLinkBuckets(raw: string | undefined): string[] {
  const buckets = (raw ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const bucket of buckets) {
    if (!BUCKET_NAME.test(bucket) || bucket.includes("..")) {
      throw new Error(`"${bucket}" is not an S3 bucket name (3-63 of a-z 0-9 . -, starting and ending with a letter or digit)`);
    }
  }
  return [...new Set(buckets)];
}

/** `s3://bucket/key` → its parts; undefined for anything else (no key, another scheme). */
export function parseS3Uri(uri: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/?#]+)\/(.+)$/.exec(uri);
  return m ? { bucket: m[1], key: m[2] } : undefined;
}

/** True when the sanitizer keeps `url` as a link, exactly as given. */
export function survivesSanitizer(url: string, policy: OutputPolicy = DEFAULT_OUTPUT_POLICY): boolean {
  const link = `[x](${url})`;
  return sanitizeOutput(link, policy) === link;
}

/**
 * A web source's own URL, when people may click it: http(s) only, with what would end a
 * markdown link destination or break out of an `href` percent-encoded, and then kept as is by
 * the sanitizer under the stack's link policy.
 */
export function webLink(uri: string, policy: OutputPolicy = DEFAULT_OUTPUT_POLICY): string | undefined {
  if (!/^https?:\/\/[^/?#\s]/i.test(uri)) return undefined;
  const url = uri.replace(/[\s()<>"'`\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
  return survivesSanitizer(url, policy) ? url : undefined;
}

/** A source's passage, as a short one-line excerpt; undefined when there is none. */
export function snippetOf(text: string | undefined, max = SOURCE_SNIPPET_CHARS): string | undefined {
  const flat = (text ?? "").replace(/\s+/g, " ").trim();
  if (flat === "") return undefined;
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** What the engine needs of a source linker (source-presign.ts). */
export interface SourceLinks {
  link(uri: string, policy?: OutputPolicy): Promise<string | undefined>;
}

/** The clickable URL of each of `uris` that has one; a signing failure leaves that source as text. */
export async function linksFor(uris: Iterable<string>, linker: SourceLinks, policy?: OutputPolicy): Promise<Map<string, string>> {
  const links = new Map<string, string>();
  for (const uri of new Set(uris)) {
    const url = await linker.link(uri, policy);
    if (url !== undefined) links.set(uri, url);
  }
  return links;
}
