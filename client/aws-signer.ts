/**
 * Signs WebSocket URLs for a deployed stack with the user's default AWS credential chain,
 * server-side: the chat server and the CLI call it; credentials never leave the process.
 */
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import type { UrlSigner } from "./chat-server";
import { presignWebSocketUrl } from "./presign";

export interface AwsSignerOptions {
  /** `wss://{apiId}.execute-api.{region}.amazonaws.com/{stage}`. */
  readonly endpoint: string;
  readonly region: string;
  /** @default defaultProvider() from @aws-sdk/credential-provider-node (env, SSO, profiles, IMDS…) */
  readonly credentials?: AwsCredentialIdentityProvider;
  /** How long a URL may be used to open a connection; the page uses it at once. @default 120 */
  readonly expiresInSeconds?: number;
}

/** The provider `credentials` resolves to, so a caller can check credentials up front with the same one. */
export function credentialsOf(options: Pick<AwsSignerOptions, "credentials">): AwsCredentialIdentityProvider {
  return options.credentials ?? defaultProvider();
}

/** A signer for `format=json` connections (the envelopes the page and the CLI read). */
export function awsUrlSigner(options: AwsSignerOptions): UrlSigner {
  const credentials = credentialsOf(options);
  return (sessionId) =>
    presignWebSocketUrl({
      endpoint: options.endpoint,
      region: options.region,
      credentials,
      query: { sessionId, format: "json" },
      expiresInSeconds: options.expiresInSeconds ?? 120,
    });
}
