/**
 * `npm start -- --bedrock aws` checks the model before it starts anything, so a wrong id says
 * so in one line at start instead of failing each answer later: a foundation model id with
 * Bedrock's GetFoundationModel, an inference profile id (`us.…`, `eu.…`, an ARN) with
 * GetInferenceProfile (API reference: GET /foundation-models/{modelIdentifier},
 * GET /inference-profiles/{inferenceProfileIdentifier}). The control-plane client honours
 * AWS_ENDPOINT_URL_BEDROCK, as every SDK v3 client does its service's variable.
 */
import { BedrockClient, GetFoundationModelCommand, GetInferenceProfileCommand } from "@aws-sdk/client-bedrock";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@aws-sdk/types";

/** An inference profile: a geography prefix (cross-Region) or a profile ARN. */
const PROFILE_ID = /^((us|eu|apac|us-gov|global|jp|au|ca)\.|arn:aws[a-z-]*:bedrock:[^:]*:\d*:(application-)?inference-profile\/)/;

export interface ModelCheckOptions {
  readonly region: string;
  readonly modelId: string;
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** @default the Region's Bedrock endpoint (or AWS_ENDPOINT_URL_BEDROCK) */
  readonly endpoint?: string;
}

/** The check's outcome: `problem` is one line naming the cause and the fix; `note` a caveat that does not stop the start. */
export type ModelCheck = { ok: true; note?: string } | { ok: false; problem: string };

function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e = error; typeof e === "object" && e !== null && codes.length < 5; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}

export async function checkBedrockModel(options: ModelCheckOptions): Promise<ModelCheck> {
  const { region, modelId } = options;
  const profile = PROFILE_ID.test(modelId);
  const client = new BedrockClient({ region, credentials: options.credentials, endpoint: options.endpoint, maxAttempts: 2 });
  const list = profile ? `aws bedrock list-inference-profiles --region ${region}` : `aws bedrock list-foundation-models --region ${region}`;
  try {
    if (profile) {
      await client.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: modelId }));
      return { ok: true };
    }
    const { modelDetails } = await client.send(new GetFoundationModelCommand({ modelIdentifier: modelId }));
    // AWS lists "INFERENCE_PROFILE" for models reachable only through a profile (the SDK's enum lags).
    const types: readonly string[] = modelDetails?.inferenceTypesSupported ?? [];
    if (!types.includes("ON_DEMAND")) {
      return { ok: false, problem: `--model ${modelId} cannot be invoked on demand in ${region}: use an inference profile that contains it, e.g. --model us.${modelId} (${list.replace("foundation-models", "inference-profiles")})` };
    }
    if (modelDetails?.responseStreamingSupported === false) {
      return { ok: false, problem: `--model ${modelId} does not stream responses (ConverseStream): choose a model that does (${list})` };
    }
    return { ok: true };
  } catch (error) {
    const name = (error as Error).name;
    if (causeCodes(error).some((code) => code === "ENOTFOUND" || code === "EAI_AGAIN")) {
      return { ok: false, problem: `cannot reach Amazon Bedrock in ${region} (the name of its endpoint did not resolve): check the network and --region` };
    }
    if (name === "ResourceNotFoundException" || name === "ValidationException") {
      return { ok: false, problem: `--model ${modelId} is not ${profile ? "an inference profile" : "a foundation model"} in ${region}: check the id and --region (${list})` };
    }
    // No credentials at all: the stack's own start says so, with the fix.
    if (name === "CredentialsProviderError") return { ok: true };
    if (name === "AccessDeniedException") {
      // Reading a model's details is a permission of its own: invoking it may still be allowed.
      return { ok: true, note: `could not check --model ${modelId} (no permission to read its details: ${profile ? "bedrock:GetInferenceProfile" : "bedrock:GetFoundationModel"}); answers will tell if it cannot be used` };
    }
    throw error;
  } finally {
    client.destroy();
  }
}
