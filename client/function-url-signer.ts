/**
 * SigV4 signing of a POST to a Lambda function URL with AuthType AWS_IAM (service `lambda`,
 * the body's hash covered), as AWS documents for function URLs. The CLI signs with the
 * user's credentials; the chat server signs for its page, so no credential leaves it.
 */
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";

export interface SignedPost {
  readonly url: string;
  /** Every header to send (`host` left out: the HTTP client sets it to the URL's host, as signed). */
  readonly headers: Record<string, string>;
}

export interface FunctionUrlSigningOptions {
  /** `https://{urlId}.lambda-url.{region}.on.aws/` (or the local stack's `http://127.0.0.1:{port}/`). */
  readonly url: string;
  readonly region: string;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** The exact body that will be sent. */
  readonly body: string;
  /** @default "text/event-stream" (Server-Sent Events); "application/json" for the whole answer at once */
  readonly accept?: string;
}

const FUNCTION_URL_HOST = /^[a-z0-9]+\.lambda-url\.([a-z]{2}(?:-[a-z]+)+-\d+)\.on\.aws$/;

/** `https://abc.lambda-url.eu-west-1.on.aws/` → `eu-west-1`; undefined for other hosts. */
export function regionFromFunctionUrl(url: string): string | undefined {
  try {
    return FUNCTION_URL_HOST.exec(new URL(url).hostname)?.[1];
  } catch {
    return undefined;
  }
}

export async function signFunctionUrlPost(options: FunctionUrlSigningOptions): Promise<SignedPost> {
  const url = new URL(options.url);
  const signer = new SignatureV4({ service: "lambda", region: options.region, credentials: options.credentials, sha256: Hash.bind(null, "sha256") });
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const signed = await signer.sign(
    new HttpRequest({
      method: "POST",
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === "" ? undefined : Number(url.port),
      path: url.pathname,
      query,
      headers: { host: url.host, "content-type": "application/json", accept: options.accept ?? "text/event-stream" },
      body: options.body,
    }),
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) if (name.toLowerCase() !== "host") headers[name] = String(value);
  return { url: url.href, headers };
}
