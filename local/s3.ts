/**
 * A local S3 for source links: GetObject only, path-style (`/{bucket}/{key}`), each request
 * authenticated by a presigned URL as S3 does it (SigV4 query parameters, the payload signed
 * as `UNSIGNED-PAYLOAD`, X-Amz-Expires required and at most 604800 seconds, the signature
 * current from its X-Amz-Date until that many seconds after; S3 API reference,
 * "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)",
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html). The signer
 * must be a credential the stack issued to the functions, and may read only the buckets
 * allowlisted for links, as the deployed role may GetObject only there; without s3:ListBucket,
 * S3 answers a missing key as it answers a forbidden one (403 AccessDenied).
 *
 * It serves the knowledge base's documents: bucket `local-documents` is local/documents/.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { DEFAULT_DOCUMENTS_DIR, DOCUMENTS_URI_PREFIX } from "./bedrock/retrieval";
import type { CredentialLookup, LocalCredential } from "./gateway/credentials";
import { parseQuery } from "./gateway/query";
import { SigV4Verifier, SignatureError } from "./gateway/sigv4";
import { listenOnLoopback } from "./loopback";
import { UNSIGNED_PAYLOAD } from "../functions/fulfillment/source-links";

/** The bucket the local knowledge base's citations name (`s3://local-documents/{file}`). */
export const LOCAL_DOCUMENTS_BUCKET = DOCUMENTS_URI_PREFIX.slice("s3://".length, -1);

export interface LocalS3Options {
  /** Credentials whose presigned URLs are accepted (the functions' role). */
  readonly credentials: readonly LocalCredential[] | CredentialLookup;
  /** Buckets the signer may GetObject from (the allowlist its IAM policy names). */
  readonly readableBuckets: readonly string[];
  /** @default "us-east-1" */
  readonly region?: string;
  /** @default local/documents/ as bucket `local-documents` */
  readonly buckets?: Readonly<Record<string, string>>;
  /** @default 0 (the OS picks) */
  readonly port?: number;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
}

export interface LocalS3 {
  /** `http://127.0.0.1:{port}`: what AWS_ENDPOINT_URL_S3 names. */
  readonly endpoint: string;
  close(): Promise<void>;
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, resource: string): void {
  const requestId = randomBytes(8).toString("hex").toUpperCase();
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>` +
    `<Resource>${xmlEscape(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`;
  res.writeHead(status, { "content-type": "application/xml", "content-length": String(Buffer.byteLength(body)), "x-amz-request-id": requestId });
  res.end(body);
}

/** S3's answer to a refused signature (its codes, not API Gateway's). */
function refusal(error: SignatureError): { status: number; code: string; message: string } {
  if (error.message.startsWith("Signature expired")) return { status: 403, code: "AccessDenied", message: "Request has expired" };
  if (error.errorType === "AuthorizationQueryParametersError" || error.message.includes("X-Amz-Expires")) {
    return { status: 400, code: "AuthorizationQueryParametersError", message: "X-Amz-Expires must be less than a week (in seconds) that is 604800" };
  }
  if (error.errorType === "MissingAuthenticationTokenException") return { status: 403, code: "AccessDenied", message: "Access Denied" };
  if (error.errorType === "UnrecognizedClientException") {
    return { status: 403, code: "InvalidAccessKeyId", message: "The AWS Access Key Id you provided does not exist in our records." };
  }
  if (error.errorType === "IncompleteSignatureException") return { status: 400, code: "AuthorizationQueryParametersError", message: error.message };
  return {
    status: 403,
    code: "SignatureDoesNotMatch",
    message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
  };
}

/** The objects of each bucket: file name → path, so a key can name nothing outside its directory. */
function objectsOf(buckets: Readonly<Record<string, string>>): Map<string, Map<string, string>> {
  const result = new Map<string, Map<string, string>>();
  for (const [bucket, dir] of Object.entries(buckets)) {
    const files = readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isFile());
    result.set(bucket, new Map(files.map((file) => [file.name, join(dir, file.name)])));
  }
  return result;
}

export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const verifier = new SigV4Verifier({
    credentials: options.credentials,
    region: options.region ?? "us-east-1",
    service: "s3",
    now: options.now,
    uriEscapePath: false,
    presigned: { payloadHash: UNSIGNED_PAYLOAD, requireExpires: true },
  });
  const objects = objectsOf(options.buckets ?? { [LOCAL_DOCUMENTS_BUCKET]: DEFAULT_DOCUMENTS_DIR });
  const readable = new Set(options.readableBuckets);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    const resource = rawPath;
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendError(res, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.", resource);
      return;
    }
    try {
      await verifier.verifyQuery({ method: req.method, rawPath, query: parseQuery(q < 0 ? "" : url.slice(q + 1)).params, headers: req.headers });
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error;
      const { status, code, message } = refusal(error);
      sendError(res, status, code, message, resource);
      return;
    }
    const [, bucket = "", ...keyParts] = rawPath.split("/");
    let key: string;
    try {
      key = decodeURIComponent(keyParts.join("/"));
    } catch {
      key = "";
    }
    const path = readable.has(bucket) ? objects.get(bucket)?.get(key) : undefined;
    if (!path) {
      sendError(res, 403, "AccessDenied", "Access Denied", resource);
      return;
    }
    const body = readFileSync(path);
    res.writeHead(200, {
      "content-type": key.endsWith(".md") ? "text/markdown; charset=utf-8" : "application/octet-stream",
      "content-length": String(body.length),
    });
    res.end(req.method === "HEAD" ? undefined : body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, "InternalError", (error as Error).message, req.url ?? "/");
      else res.destroy();
    });
  });
  const port = await listenOnLoopback(server, options.port ?? 0);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
