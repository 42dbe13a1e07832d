/**
 * SigV4 query-string signing of an API Gateway WebSocket URL, as a browser client
 * (Lex Web UI) does it: the connect request is a GET whose only signed header is `host`,
 * service `execute-api`, and every `X-Amz-*` parameter travels in the query string
 * because a browser cannot set headers on a WebSocket handshake.
 */
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import type { StreamFormat } from "../functions/shared/table";

export interface PresignWebSocketUrlOptions {
  /** `wss://{apiId}.execute-api.{region}.amazonaws.com/{stage}` or a local `ws://127.0.0.1:{port}/{stage}`. */
  readonly endpoint: string;
  /** Region of the API (the signature's credential scope). */
  readonly region: string;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Connect parameters; they are covered by the signature, so none can be changed afterwards. */
  readonly query: { readonly sessionId: string; readonly format?: StreamFormat };
  /** How long the URL may be used to open a connection (an open connection is not cut at expiry). @default 300 */
  readonly expiresInSeconds?: number;
  /** Signing time. @default now */
  readonly now?: Date | number;
}

const Sha256 = Hash.bind(null, "sha256");

/** RFC 3986 encoding, the one SigV4 canonicalises with (encodeURIComponent leaves !'()* alone). */
function escape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export async function presignWebSocketUrl(options: PresignWebSocketUrlOptions): Promise<string> {
  const url = new URL(options.endpoint);
  if (url.protocol !== "wss:" && url.protocol !== "ws:") throw new Error(`endpoint must be a ws:// or wss:// URL, got ${options.endpoint}`);
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  query.sessionId = options.query.sessionId;
  if (options.query.format !== undefined) query.format = options.query.format;

  const signer = new SignatureV4({ service: "execute-api", region: options.region, credentials: options.credentials, sha256: Sha256 });
  const signed = await signer.presign(
    new HttpRequest({
      method: "GET",
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === "" ? undefined : Number(url.port),
      path: url.pathname,
      query,
      // URL.host omits a scheme's default port, exactly as the Host header a client sends does.
      headers: { host: url.host },
    }),
    {
      expiresIn: options.expiresInSeconds ?? 300,
      signingDate: typeof options.now === "number" ? new Date(options.now) : (options.now ?? new Date()),
    },
  );
  const search = Object.entries(signed.query ?? {})
    .map(([name, value]) => `${escape(name)}=${escape(String(value))}`)
    .join("&");
  return `${url.protocol}//${url.host}${url.pathname}?${search}`;
}
