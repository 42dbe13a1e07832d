/**
 * Where the CLI gets a signed URL: the user's AWS credentials for a deployed endpoint, or
 * the local stack's (or `npm run chat`'s) `/api/signed-url`. Failures become exit codes.
 */
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { awsUrlSigner } from "./aws-signer";
import type { UrlSigner } from "./chat-server";
import type { HttpTarget, Target } from "./cli-args";
import { CliError, EXIT, networkErrorCode } from "./exit-codes";
import { fetchSignedUrl, SignedUrlError } from "./web/signed-url";

export interface TargetDeps {
  /** @default the default credential chain */
  readonly credentials?: AwsCredentialIdentityProvider;
  /** @default global fetch */
  readonly fetch?: typeof fetch;
  /** Told once what answers, when the local page server says (its label, e.g. the offline model and what it knows). */
  readonly onLabel?: (label: string) => void;
}

export function signerFor(target: Exclude<Target, HttpTarget>, deps: TargetDeps = {}): UrlSigner {
  if (target.kind === "aws") {
    const sign = awsUrlSigner({ endpoint: target.endpoint, region: target.region, credentials: deps.credentials });
    return async (sessionId) => {
      try {
        return await sign(sessionId);
      } catch (error) {
        throw new CliError(
          EXIT.auth,
          `no usable AWS credentials (${(error as Error).message}); configure the default chain, e.g. aws configure, AWS_PROFILE or aws sso login`,
        );
      }
    };
  }
  let labelled = false;
  return async (sessionId) => {
    try {
      const signed = await fetchSignedUrl(target.baseUrl, sessionId, deps.fetch);
      if (signed.label !== undefined && !labelled) {
        labelled = true;
        deps.onLabel?.(signed.label);
      }
      return signed.url;
    } catch (error) {
      if (error instanceof SignedUrlError) {
        throw new CliError(error.status === 401 || error.status === 403 ? EXIT.auth : EXIT.protocol, error.message);
      }
      const code = networkErrorCode(error);
      if (code) throw new CliError(EXIT.network, `cannot reach ${target.baseUrl}: ${code}`);
      const cause = (error as { cause?: { message?: unknown } }).cause?.message;
      const detail = typeof cause === "string" ? `${(error as Error).message}: ${cause}` : (error as Error).message;
      throw new CliError(EXIT.protocol, `${target.baseUrl} gave no signed URL: ${detail}`);
    }
  };
}
