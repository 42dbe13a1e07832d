/**
 * ARN and endpoint formulas, pure so the tests can pin them down. The components feed them
 * the partition, region and account of the deploying provider.
 */

/** Where the stack is deployed, as the provider reports it. */
export interface AwsTarget {
  /** `aws`, `aws-cn`, `aws-us-gov`. */
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  /** `amazonaws.com`, `amazonaws.com.cn`. */
  readonly dnsSuffix: string;
}

/**
 * Geography prefixes of Bedrock's system-defined (cross-Region) inference profile ids, e.g.
 * `us.anthropic.claude-3-5-haiku-20241022-v1:0`. `us-gov` is listed before `us` because the
 * pattern below tries them in order.
 */
export const INFERENCE_PROFILE_PREFIXES = ["us-gov", "us", "eu", "apac", "jp", "au", "ca", "global"] as const;

const PROFILE_ID = new RegExp(`^(?:${INFERENCE_PROFILE_PREFIXES.join("|")})\\.(.+)$`);
const BEDROCK_ARN = /^arn:[a-z-]+:bedrock:[a-z0-9-]*:\d{0,12}:([a-z-]+)\/(.+)$/;

/** A Bedrock model setting resolved to what the APIs and IAM need. */
export interface BedrockModel {
  /** Full ARN of the model or inference profile (RetrieveAndGenerate's `modelArn`). */
  readonly arn: string;
  /** Resources `bedrock:InvokeModel*` must allow for requests naming this model. */
  readonly invokeResources: readonly string[];
  /** Set when the model is an inference profile (RetrieveAndGenerate looks it up first). */
  readonly inferenceProfileArn?: string;
}

/** Throws when a model setting is neither a Bedrock ARN nor an id (a typo'd ARN of another service). */
export function checkBedrockModel(model: string): void {
  if (model.trim() === "" || (model.startsWith("arn:") && !BEDROCK_ARN.test(model))) {
    throw new Error(`not a Bedrock model id, inference profile id or ARN: ${JSON.stringify(model)}`);
  }
}

/** Whether a model setting names a system-defined inference profile (as id or ARN). */
export function isInferenceProfile(model: string): boolean {
  const arnMatch = BEDROCK_ARN.exec(model);
  if (arnMatch) return arnMatch[1] === "inference-profile" && PROFILE_ID.test(arnMatch[2]);
  return !model.startsWith("arn:") && PROFILE_ID.test(model);
}

function foundationModelInAnyRegion(partition: string, modelId: string): string {
  // A cross-Region profile routes to the model in any of its destination Regions (for
  // `global.` profiles the request carries no Region at all), so the Region is a wildcard.
  return `arn:${partition}:bedrock:*::foundation-model/${modelId}`;
}

/**
 * Resolves a model id, inference profile id or ARN. An ARN is used as is; a system-defined
 * inference profile (as id or ARN) also allows its underlying foundation model, because
 * Bedrock authorizes the request against both.
 */
export function bedrockModel(model: string, target: AwsTarget): BedrockModel {
  const { partition, region, accountId } = target;
  const arnMatch = BEDROCK_ARN.exec(model);
  if (arnMatch) {
    const [, resourceType, resourceId] = arnMatch;
    const profileMatch = resourceType === "inference-profile" ? PROFILE_ID.exec(resourceId) : null;
    if (profileMatch) {
      return {
        arn: model,
        invokeResources: [model, foundationModelInAnyRegion(partition, profileMatch[1])],
        inferenceProfileArn: model,
      };
    }
    return { arn: model, invokeResources: [model] };
  }
  checkBedrockModel(model);
  const profileMatch = PROFILE_ID.exec(model);
  if (profileMatch) {
    const arn = `arn:${partition}:bedrock:${region}:${accountId}:inference-profile/${model}`;
    return {
      arn,
      invokeResources: [arn, foundationModelInAnyRegion(partition, profileMatch[1])],
      inferenceProfileArn: arn,
    };
  }
  const arn = `arn:${partition}:bedrock:${region}::foundation-model/${model}`;
  return { arn, invokeResources: [arn] };
}

export function knowledgeBaseArn(knowledgeBaseId: string, target: AwsTarget): string {
  return `arn:${target.partition}:bedrock:${target.region}:${target.accountId}:knowledge-base/${knowledgeBaseId}`;
}

/** The integration URI API Gateway uses to invoke a Lambda function (the function's `invokeArn`). */
export function lambdaInvokeUri(partition: string, region: string, functionArn: string): string {
  return `arn:${partition}:apigateway:${region}:lambda:path/2015-03-31/functions/${functionArn}/invocations`;
}

/** `wss://{apiId}.execute-api.{region}.amazonaws.com/{stage}`: what clients connect to. */
export function webSocketEndpoint(apiId: string, region: string, dnsSuffix: string, stage: string): string {
  return `wss://${apiId}.execute-api.${region}.${dnsSuffix}/${stage}`;
}

/** `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`: the @connections API's base. */
export function managementEndpoint(apiId: string, region: string, dnsSuffix: string, stage: string): string {
  return `https://${apiId}.execute-api.${region}.${dnsSuffix}/${stage}`;
}

/** The HTTP API's `POST /ask` URL on its `$default` stage (which has no path segment). */
export function askEndpoint(apiId: string, region: string, dnsSuffix: string): string {
  return `https://${apiId}.execute-api.${region}.${dnsSuffix}/ask`;
}
