/**
 * QnaBot: the fulfillment function that answers questions with Amazon Bedrock (an LLM, or a
 * knowledge base through RetrieveAndGenerate), its conversation memory table, an HTTP API
 * `POST /ask` and `POST /feedback` behind IAM auth, and (optionally) Lex V2's permission to call
 * it as a code hook.
 * Given a StreamingComponent, it also streams answers over that component's WebSocket API.
 */
import { parseTokenPrices } from "../functions/fulfillment/token-budget";
import { checkReasoningBudget, DEFAULT_REASONING_BUDGET_TOKENS } from "../functions/fulfillment/reasoning";
import { MAX_SOURCE_LINK_EXPIRY_SECONDS, parseSourceLinkBuckets } from "../functions/fulfillment/source-links";
import {
  BEDROCK_LATENCIES,
  BEDROCK_SERVICE_TIERS,
  DEFAULT_PROMPT_CACHING,
  PROMPT_CACHING_MODES,
  type BedrockLatency,
  type BedrockServiceTier,
  type PromptCachingMode,
} from "../functions/fulfillment/prompt-caching";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { ENV } from "../functions/shared/env";
import { MEMORY_TABLE } from "../functions/shared/table";
import { parseImageHosts, parseLinkSchemes } from "../functions/fulfillment/output-safety";
import { askEndpoint, bedrockModel, checkBedrockModel, isInferenceProfile, knowledgeBaseArn, type AwsTarget } from "./arns";
import { withDefaults } from "./defaults";
import { functionEntry } from "./bundle";
import { nodeFunction, type NodeFunction } from "./function";
import { logWriteStatement, policyDocument, tableKeyStatement, type PolicyStatement } from "./iam";
import { METRICS_NAMESPACE, POWERTOOLS_ENV } from "./monitoring";
import type { StreamingComponent } from "./streaming";
import {
  GUARDRAIL_ENV,
  GUARDRAIL_ID_PATTERN,
  GUARDRAIL_STREAM_PROCESSING_MODES,
  GUARDRAIL_VERSION_PATTERN,
  guardrailIdOf,
  DEFAULT_LEX_ANSWER_BUDGET_MS,
  LEX_ANSWER_BUDGET_RANGE_MS,
  type GuardrailStreamProcessingMode,
} from "../functions/fulfillment/config";

export const QNA_DEFAULTS: Required<
  Pick<
    QnaBotArgs,
    | "llmModelId"
    | "memoryTurns"
    | "memoryTtlSeconds"
    | "lexAnswerBudgetMs"
    | "logRetentionInDays"
    | "throttlingBurstLimit"
    | "throttlingRateLimit"
    | "tracing"
    | "memorySize"
    | "timeout"
    | "reservedConcurrency"
  >
> = {
  llmModelId: "anthropic.claude-3-haiku-20240307-v1:0",
  memoryTurns: 5,
  memoryTtlSeconds: 86400,
  lexAnswerBudgetMs: DEFAULT_LEX_ANSWER_BUDGET_MS,
  logRetentionInDays: 30,
  throttlingBurstLimit: 100,
  throttlingRateLimit: 50,
  tracing: false,
  memorySize: 512,
  // Long enough for a whole streamed answer: WebSocket asks run in an asynchronous
  // self-invocation, free of API Gateway's 29 s integration timeout.
  timeout: 120,
  // Opt-in: Lambda keeps 100 of an account's concurrency unreserved, so on an account whose
  // quota is 10 or 50 (common on new accounts) any reservation fails the deploy.
  reservedConcurrency: -1,
};

export const STREAMING_HTTP_DEFAULTS = {
  // Past API Gateway's 30 s (the point of this door), yet bounded: a stuck answer ends, and
  // one reader cannot hold an execution for Lambda's whole 15 minutes.
  timeout: 300,
  // Opt-in, as the fulfillment function's (QNA_DEFAULTS.reservedConcurrency).
  reservedConcurrency: -1,
} as const;

/** Lambda's longest timeout, seconds. */
export const MAX_LAMBDA_TIMEOUT_SECONDS = 900;
/** Largest reserved concurrency the components accept (far above any account's default quota of 1,000). */
export const MAX_RESERVED_CONCURRENCY = 100_000;
/** What `reservedConcurrency: -1` means, as in the AWS provider: no reservation, the account's unreserved pool. */
export const UNRESERVED = -1;

/**
 * Lambda allows 4 KB of environment per function in all; the free-text settings (system
 * prompt, QnABot prompt template, model parameters) together must leave about 1 KB for the
 * names, ARNs and endpoints the stack sets.
 */
export const MAX_PROMPT_ENVIRONMENT_BYTES = 3000;

/** A browser origin: scheme, host and optional port; no path, no wildcard. */
export const CORS_ORIGIN_PATTERN = /^https?:\/\/(localhost|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+)(:\d{1,5})?$/;
/** Lambda accepts up to 100 origins in a function URL's CORS configuration. */
export const MAX_CORS_ORIGINS = 100;

/**
 * Request headers a browser sends to the function URL: SigV4's (the signature, its date, a
 * temporary credential's token, the payload hash) and the body's and answer's types.
 */
export const STREAMING_HTTP_CORS_HEADERS = [
  "authorization",
  "content-type",
  "accept",
  "x-amz-date",
  "x-amz-security-token",
  "x-amz-content-sha256",
] as const;
/** Seconds a browser may cache the preflight answer. */
export const STREAMING_HTTP_CORS_MAX_AGE = 300;

/** Seconds a handed-off WebSocket ask may wait in Lambda's async queue before it is dropped. */
export const ASYNC_ASK_MAX_AGE_SECONDS = 120;

/** One row per request, as JSON, in the HTTP API's access log group. */
export const HTTP_ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  requestTime: "$context.requestTime",
  httpMethod: "$context.httpMethod",
  routeKey: "$context.routeKey",
  status: "$context.status",
  protocol: "$context.protocol",
  responseLength: "$context.responseLength",
  sourceIp: "$context.identity.sourceIp",
  userArn: "$context.identity.userArn",
  integrationStatus: "$context.integrationStatus",
  integrationLatency: "$context.integrationLatency",
  integrationError: "$context.integrationErrorMessage",
});

export interface QnaBotArgs {
  /**
   * Bedrock model for LLM answers: a model id, an inference profile id (`us.`, `eu.`,
   * `apac.`, `global.` …) or an ARN. @default "anthropic.claude-3-haiku-20240307-v1:0"
   */
  readonly llmModelId?: string;
  /** Knowledge base for `kb` answers (RetrieveAndGenerate); `kb` mode is off without one. @default none */
  readonly knowledgeBaseId?: pulumi.Input<string>;
  /** Model RetrieveAndGenerate generates with: id, inference profile id or ARN. @default llmModelId */
  readonly knowledgeBaseModelId?: string;
  /** System prompt of LLM answers. @default the function's own */
  readonly systemPrompt?: string;
  /** Maximum tokens of an answer. @default the function's own */
  readonly maxTokens?: number;
  /** Sampling temperature. @default the model's */
  readonly temperature?: number;
  /** Nucleus sampling. @default the model's */
  readonly topP?: number;
  /** Conversation turns remembered per session. @default 5 */
  readonly memoryTurns?: number;
  /** Seconds a session's memory lives after its last turn. @default 86400 */
  readonly memoryTtlSeconds?: number;
  /**
   * Milliseconds within which the Lex door answers a Lex code hook: Lex V2 gives the hook 30 s,
   * so a longer answer ends cut short (a "continue" resumes it). 6000–29000. @default 25000
   */
  readonly lexAnswerBudgetMs?: number;
  /** ARN of a custom LLM Lambda (QnABot's LLM_API=LAMBDA) that generates instead of Bedrock. @default none */
  readonly llmLambdaArn?: pulumi.Input<string>;
  /** Lex V2 bot alias allowed to invoke the function as its code hook. @default none */
  readonly lexBotAliasArn?: pulumi.Input<string>;
  /** Streams answers over this component's WebSocket API. @default no streaming */
  readonly streaming?: StreamingComponent;
  /** Customer managed KMS key for the memory table. @default the AWS managed key */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /** Retention of every log group, in days. @default 30 */
  readonly logRetentionInDays?: number;
  /** HTTP API default route burst limit. @default 100 */
  readonly throttlingBurstLimit?: number;
  /** HTTP API default route rate limit (requests per second). @default 50 */
  readonly throttlingRateLimit?: number;
  /** Active X-Ray tracing of the fulfillment function. @default false */
  readonly tracing?: boolean;
  /** Fulfillment function memory, MB. @default 512 */
  readonly memorySize?: number;
  /** Fulfillment function timeout, seconds. @default 120 */
  readonly timeout?: number;
  /**
   * Reserved concurrency of the fulfillment function: the executions set aside for it, which
   * is also the most it may run at once, so a burst of asks cannot take the account's whole
   * Lambda pool. `-1` reserves nothing (no cap; the account's unreserved pool). `0` is refused:
   * it would throttle every invocation. Lambda keeps 100 of the account's concurrency
   * unreserved (PutFunctionConcurrency), so an account whose quota is 1,000 can reserve at most
   * 900 in all, and one whose quota is 100 or less (new accounts often have 10 or 50) none.
   * @default -1 (no reservation)
   */
  readonly reservedConcurrency?: number;
  /**
   * QnABot's QA prompt template (LLM_QA_PROMPT_TEMPLATE: `{context}`, `{history}`, `{input}`,
   * `{query}`, `<br>` for line breaks), sent to the custom LLM Lambda. Needs `llmLambdaArn`.
   * @default the system prompt, history and question
   */
  readonly llmQaPromptTemplate?: string;
  /**
   * QnABot's model parameters (LLM_QA_MODEL_PARAMS, a JSON object such as
   * `{ temperature: 0 }`), sent to the custom LLM Lambda as `parameters`. Needs `llmLambdaArn`.
   * @default the inference settings (maxTokens, temperature, topP)
   */
  readonly llmQaModelParams?: Readonly<Record<string, unknown>>;
  /**
   * The streaming HTTP door: a function of its own behind a Lambda function URL (AWS_IAM
   * auth, RESPONSE_STREAM) that answers `POST` asks as Server-Sent Events or as complete JSON,
   * with no 30 s cut. It shares the fulfillment function's settings and permissions, and
   * needs `streaming` (its fair-use ledger lives in the connections table). `false` creates
   * nothing. @default {} with `streaming`, else none
   */
  readonly streamingHttp?: StreamingHttpArgs | false;
  /** Bedrock Guardrail applied to LLM and knowledge-base answers. @default none */
  readonly guardrail?: QnaGuardrail;
  /**
   * Output safety: URL schemes (lower case, no colon) a link in an answer may keep; any other
   * link is shown as text. Schemes that run script or inline content (javascript, vbscript,
   * data, file, blob) are refused. `[]` keeps no link. @default ["http", "https", "mailto"]
   */
  readonly outputLinkSchemes?: readonly string[];
  /**
   * Output safety: host names an answer's markdown image may load from (https only); any other
   * image shows its alt text, so an answer cannot make a client fetch from an attacker's host.
   * @default [] (no image is loaded)
   */
  readonly outputImageHosts?: readonly string[];
  /**
   * Sources people can click: S3 buckets whose cited objects (`s3://bucket/key` sources of
   * knowledge-base answers) become short-lived presigned HTTPS GetObject links (`end.sources[].url`
   * and the `[n]` markers of the final answer). The links are signed with the answering
   * functions' role, which is granted s3:GetObject on exactly these buckets' objects
   * (`arn:{partition}:s3:::{bucket}/*`) and nothing else in S3. Set as SOURCE_LINK_BUCKETS.
   * @default [] (s3:// sources stay text)
   */
  readonly sourceLinkBuckets?: readonly string[];
  /**
   * Seconds a presigned source link works, 1-604800 (SigV4's one-week limit). Set as
   * SOURCE_LINK_EXPIRY_SECONDS; only with sourceLinkBuckets. @default 900
   */
  readonly sourceLinkExpirySeconds?: number;
  /**
   * Cost control: token prices in US dollars per million tokens, for the estimated cost shown
   * with each answer (`usage.estimatedCostUsd`, the page's and CLI's footer). Cache reads and
   * writes are priced as input. Set as TOKEN_PRICES_USD_PER_MILLION. @default none (no estimate)
   */
  readonly tokenPricesUsdPerMillion?: { readonly input: number; readonly output: number };
  /**
   * Model reasoning: an ask on a `format=json` connection that sets `"reasoning": true` gets
   * the model's reasoning as `reasoning` envelopes (Claude's extended thinking through
   * ConverseStream; the model must support it, e.g. Claude Sonnet 4). Never sent to text
   * connections (Lex Web UI), never remembered, journaled or logged. Needs `streaming` and
   * Bedrock answers (not `llmLambdaArn`). Set as REASONING_BUDGET_TOKENS. @default false
   */
  readonly reasoning?: boolean;
  /**
   * Most tokens the model may think with before it answers, 1024-24000; added to the
   * answer's `maxTokens`, and billed as output tokens. Only with `reasoning`. @default 2048
   */
  readonly reasoningBudgetTokens?: number;
  /**
   * Bedrock prompt caching of LLM answers (ConverseStream cache checkpoints after the system
   * prompt and after the conversation so far). `auto`: only for models Bedrock documents
   * caching for (Claude 3.5 Haiku, 3.7 Sonnet, 4.x, Nova; not the default Claude 3 Haiku);
   * `on`: always (Bedrock refuses them on other models); `off`: never. Cache reads and writes
   * show in each answer's usage. Set as PROMPT_CACHING. @default "auto"
   */
  readonly promptCaching?: PromptCachingMode;
  /**
   * `performanceConfig.latency` of LLM answers (ConverseStream) and knowledge-base answers
   * (RetrieveAndGenerate's generation configuration): `optimized` asks for the
   * latency-optimized version of the model where Bedrock offers one. Set as BEDROCK_LATENCY.
   * @default none sent (Bedrock's `standard`)
   */
  readonly bedrockLatency?: BedrockLatency;
  /**
   * ConverseStream `serviceTier` of LLM answers: `default`, `flex` (cheaper, slower),
   * `priority` (faster, dearer) or `reserved`. Set as BEDROCK_SERVICE_TIER.
   * @default none sent (Bedrock's standard tier)
   */
  readonly bedrockServiceTier?: BedrockServiceTier;
  /** Tags for every taggable resource. @default none */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The streaming HTTP door's function and URL. */
export interface StreamingHttpArgs {
  /** Seconds one answer may stream, 1-900. @default 300 */
  readonly timeout?: number;
  /** MB. @default the fulfillment function's memorySize */
  readonly memorySize?: number;
  /**
   * Reserved concurrency of the door's function: set aside for it, and the most streams it
   * serves at once. `-1` reserves nothing; `0` is refused. Lambda keeps 100 of the account's
   * concurrency unreserved. @default -1 (no reservation)
   */
  readonly reservedConcurrency?: number;
  /**
   * Browser origins allowed to call the URL (CORS), e.g. `["https://chat.example.com"]`: scheme,
   * host and port, no path, no `*`; at most 100. @default none: no CORS configuration, so
   * browsers on other origins cannot read answers (curl and backends are unaffected)
   */
  readonly corsOrigins?: readonly string[];
}

/** Throws unless `value` is -1 (no reservation) or 1 to MAX_RESERVED_CONCURRENCY. */
export function checkReservedConcurrency(name: string, value: number): void {
  if (value === 0) {
    throw new Error(`${name} must not be 0: a reserved concurrency of 0 throttles every invocation (use -1 to reserve nothing)`);
  }
  if (!Number.isSafeInteger(value) || (value !== UNRESERVED && (value < 1 || value > MAX_RESERVED_CONCURRENCY))) {
    throw new Error(`${name} must be -1 (no reservation) or an integer from 1 to ${MAX_RESERVED_CONCURRENCY}; got ${JSON.stringify(value)}`);
  }
}

/** Throws on an origin list a function URL would refuse, or one that is not explicit. */
export function checkCorsOrigins(name: string, origins: readonly string[]): void {
  if (origins.length === 0 || origins.length > MAX_CORS_ORIGINS) {
    throw new Error(`${name} must list 1 to ${MAX_CORS_ORIGINS} origins (leave it unset for no CORS); got ${origins.length}`);
  }
  const bad = origins.filter((origin) => !CORS_ORIGIN_PATTERN.test(origin));
  if (bad.length > 0) {
    throw new Error(
      `${name} must be explicit origins such as https://chat.example.com (lower-case scheme and host, optional port, no path, no *); got ${bad.map((o) => JSON.stringify(o)).join(", ")}`,
    );
  }
}

/** Throws unless `params` is a plain JSON object, as QnABot's LLM_QA_MODEL_PARAMS is. */
export function checkModelParams(params: unknown): void {
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new Error('llmQaModelParams must be a JSON object, e.g. {"temperature":0}');
  }
}

/** Bytes of the free-text environment: what MAX_PROMPT_ENVIRONMENT_BYTES bounds. */
export function promptEnvironmentBytes(values: readonly (string | undefined)[]): number {
  return values.reduce((total, value) => total + Buffer.byteLength(value ?? "", "utf8"), 0);
}

export interface QnaGuardrail {
  /** Guardrail id (or ARN) in the stack's Region and account. */
  readonly id: string;
  /** Guardrail version: a number, or `DRAFT` (the working draft, for testing). */
  readonly version: string;
  /**
   * ConverseStream's processing mode: `async` streams chunks as generated while the guardrail
   * checks them (masking sensitive information is not supported), `sync` holds each chunk until
   * checked. @default "async"
   */
  readonly streamProcessingMode?: GuardrailStreamProcessingMode;
}

/** An output-safety allowlist as the function will read it; throws naming the arg. */
function checkedAllowlist(name: string, list: readonly string[] | undefined, parse: (raw: string) => string[]): string[] | undefined {
  if (list === undefined) return undefined;
  try {
    return parse(list.join(","));
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`);
  }
}

/** The prices as TOKEN_PRICES_USD_PER_MILLION holds them, checked as the function parses them. */
function checkedTokenPrices(prices: { readonly input: number; readonly output: number }): string {
  const raw = `${prices.input},${prices.output}`;
  try {
    parseTokenPrices(raw);
  } catch (error) {
    throw new Error(`tokenPricesUsdPerMillion: ${(error as Error).message}`);
  }
  return raw;
}

/** The thinking budget REASONING_BUDGET_TOKENS holds, undefined with reasoning off; throws on a setting that cannot work. */
function reasoningBudgetOf(args: QnaBotArgs): number | undefined {
  if (!args.reasoning) {
    if (args.reasoningBudgetTokens !== undefined) throw new Error("reasoningBudgetTokens only applies with reasoning: true");
    return undefined;
  }
  if (!args.streaming) throw new Error("reasoning needs streaming: reasoning is only ever streamed, to format=json connections");
  if (args.llmLambdaArn) throw new Error("reasoning applies to Bedrock answers only: a custom LLM Lambda (llmLambdaArn) streams by itself");
  try {
    return checkReasoningBudget(args.reasoningBudgetTokens ?? DEFAULT_REASONING_BUDGET_TOKENS);
  } catch (error) {
    throw new Error(`reasoningBudgetTokens: ${(error as Error).message}`);
  }
}

/** Throws on a value outside `allowed`, as the function would at cold start. */
function checkChoice(name: string, value: string | undefined, allowed: readonly string[]): void {
  if (value !== undefined && !allowed.includes(value)) throw new Error(`${name} must be one of ${allowed.join(", ")}; got ${JSON.stringify(value)}`);
}

/** Throws on a guardrail setting Bedrock would refuse. */
export function checkGuardrail(guardrail: QnaGuardrail): void {
  if (!GUARDRAIL_ID_PATTERN.test(guardrail.id)) {
    throw new Error(`guardrail.id must be a Bedrock guardrail id or ARN; got ${JSON.stringify(guardrail.id)}`);
  }
  if (!GUARDRAIL_VERSION_PATTERN.test(guardrail.version)) {
    throw new Error(`guardrail.version must be a version number or DRAFT; got ${JSON.stringify(guardrail.version)}`);
  }
  const mode = guardrail.streamProcessingMode;
  if (mode !== undefined && !GUARDRAIL_STREAM_PROCESSING_MODES.includes(mode)) {
    throw new Error(`guardrail.streamProcessingMode must be async or sync; got ${JSON.stringify(mode)}`);
  }
}

/** `arn:{partition}:bedrock:{region}:{account}:guardrail/{id}`: what bedrock:ApplyGuardrail is allowed on. */
export function guardrailArn(idOrArn: string, target: AwsTarget): string {
  if (idOrArn.startsWith("arn:")) return idOrArn;
  return `arn:${target.partition}:bedrock:${target.region}:${target.accountId}:guardrail/${guardrailIdOf(idOrArn)}`;
}

export class QnaBot extends pulumi.ComponentResource {
  static readonly TYPE = "qnabot-streaming:index:QnaBot";

  /** `https://{apiId}.execute-api.{region}.amazonaws.com/ask` (IAM-signed POST). */
  readonly askEndpoint: pulumi.Output<string>;
  readonly apiId: pulumi.Output<string>;
  readonly functionName: pulumi.Output<string>;
  readonly functionArn: pulumi.Output<string>;
  readonly functionLogGroupName: pulumi.Output<string>;
  /** The fulfillment function's execution role. */
  readonly role: aws.iam.Role;
  readonly roleArn: pulumi.Output<string>;
  readonly memoryTableName: pulumi.Output<string>;
  readonly memoryTableArn: pulumi.Output<string>;
  /** The streaming HTTP door's function URL, `https://{urlId}.lambda-url.{region}.on.aws/`, when the door exists. */
  readonly streamingHttpEndpoint?: pulumi.Output<string>;
  /** The streaming HTTP door's function, when it exists. */
  readonly streamingHttpFunctionArn?: pulumi.Output<string>;
  /** The streaming HTTP door's function, role and log group, when the door exists. */
  readonly streamingHttpFunction?: NodeFunction;

  /** One policy per role resource (a resource object is one URN), numbered in order of first grant. */
  private readonly askGrants = new Map<aws.iam.Role, aws.iam.RolePolicy>();
  private readonly componentName: string;

  constructor(name: string, args: QnaBotArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const settings = withDefaults(QNA_DEFAULTS, args);
    const kbModelId = args.knowledgeBaseModelId ?? settings.llmModelId;
    // Bad args fail before anything is registered.
    checkBedrockModel(settings.llmModelId);
    checkBedrockModel(kbModelId);
    if (args.guardrail) checkGuardrail(args.guardrail);
    checkReservedConcurrency("reservedConcurrency", settings.reservedConcurrency);
    const budget = settings.lexAnswerBudgetMs;
    if (!(Number.isInteger(budget) && budget >= LEX_ANSWER_BUDGET_RANGE_MS.min && budget <= LEX_ANSWER_BUDGET_RANGE_MS.max)) {
      throw new Error(`lexAnswerBudgetMs must be an integer from ${LEX_ANSWER_BUDGET_RANGE_MS.min} to ${LEX_ANSWER_BUDGET_RANGE_MS.max} (below Lex's 30 s code hook cut), got ${budget}`);
    }
    const streamingHttp = streamingHttpSettings(args, settings.memorySize);
    for (const key of ["llmQaPromptTemplate", "llmQaModelParams"] as const) {
      if (args[key] !== undefined && !args.llmLambdaArn) {
        throw new Error(`${key} applies to a custom LLM Lambda only: set llmLambdaArn too`);
      }
    }
    if (args.llmQaModelParams !== undefined) checkModelParams(args.llmQaModelParams);
    // Parsed as the function parses them, so a bad list fails here instead of at cold start.
    const tokenPrices = args.tokenPricesUsdPerMillion && checkedTokenPrices(args.tokenPricesUsdPerMillion);
    const reasoningBudget = reasoningBudgetOf(args);
    checkChoice("promptCaching", args.promptCaching, PROMPT_CACHING_MODES);
    checkChoice("bedrockLatency", args.bedrockLatency, BEDROCK_LATENCIES);
    checkChoice("bedrockServiceTier", args.bedrockServiceTier, BEDROCK_SERVICE_TIERS);
    const outputLinkSchemes = checkedAllowlist("outputLinkSchemes", args.outputLinkSchemes, parseLinkSchemes);
    const outputImageHosts = checkedAllowlist("outputImageHosts", args.outputImageHosts, parseImageHosts);
    const sourceLinkBuckets = checkedAllowlist("sourceLinkBuckets", args.sourceLinkBuckets, parseSourceLinkBuckets) ?? [];
    const sourceLinkExpiry = args.sourceLinkExpirySeconds;
    if (sourceLinkExpiry !== undefined && !(Number.isInteger(sourceLinkExpiry) && sourceLinkExpiry >= 1 && sourceLinkExpiry <= MAX_SOURCE_LINK_EXPIRY_SECONDS)) {
      throw new Error(`sourceLinkExpirySeconds must be an integer from 1 to ${MAX_SOURCE_LINK_EXPIRY_SECONDS}; got ${sourceLinkExpiry}`);
    }
    const modelParams = args.llmQaModelParams === undefined ? undefined : JSON.stringify(args.llmQaModelParams);
    const promptBytes = promptEnvironmentBytes([args.systemPrompt, args.llmQaPromptTemplate, modelParams]);
    if (promptBytes > MAX_PROMPT_ENVIRONMENT_BYTES) {
      throw new Error(
        `systemPrompt, llmQaPromptTemplate and llmQaModelParams take ${promptBytes} bytes together; at most ${MAX_PROMPT_ENVIRONMENT_BYTES} fit in Lambda's 4 KB environment`,
      );
    }
    super(QnaBot.TYPE, name, {}, opts);
    this.componentName = name;
    const parent = { parent: this };

    const partition = aws.getPartitionOutput({}, parent);
    const region = aws.getRegionOutput({}, parent).region;
    const accountId = aws.getCallerIdentityOutput({}, parent).accountId;
    const target: pulumi.Output<AwsTarget> = pulumi
      .all([partition.partition, partition.dnsSuffix, region, accountId])
      .apply(([p, dnsSuffix, r, account]) => ({ partition: p, dnsSuffix, region: r, accountId: account }));
    const llm = target.apply((t) => bedrockModel(settings.llmModelId, t));
    const kbModel = target.apply((t) => bedrockModel(kbModelId, t));

    const memoryTable = new aws.dynamodb.Table(
      `${name}-memory`,
      {
        billingMode: "PAY_PER_REQUEST",
        hashKey: MEMORY_TABLE.hashKey,
        attributes: MEMORY_TABLE.attributes.map((a) => ({ name: a.name, type: a.type })),
        ttl: { attributeName: MEMORY_TABLE.ttlAttribute, enabled: true },
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: { enabled: true, kmsKeyArn: args.kmsKeyArn },
        tags: args.tags,
      },
      parent,
    );

    const environment: Record<string, pulumi.Input<string>> = {
      [ENV.llmModelId]: settings.llmModelId,
      [ENV.memoryTable]: memoryTable.name,
      [ENV.memoryTurns]: String(settings.memoryTurns),
      [ENV.memoryTtlSeconds]: String(settings.memoryTtlSeconds),
      [ENV.lexAnswerBudgetMs]: String(settings.lexAnswerBudgetMs),
      [POWERTOOLS_ENV.service]: "qnabot-streaming-fulfillment",
      [POWERTOOLS_ENV.namespace]: METRICS_NAMESPACE,
    };
    if (args.guardrail) {
      environment[GUARDRAIL_ENV.id] = args.guardrail.id;
      environment[GUARDRAIL_ENV.version] = args.guardrail.version;
      if (args.guardrail.streamProcessingMode) {
        environment[GUARDRAIL_ENV.streamProcessingMode] = args.guardrail.streamProcessingMode;
      }
    }
    if (args.knowledgeBaseId) {
      environment[ENV.knowledgeBaseId] = args.knowledgeBaseId;
      environment[ENV.knowledgeBaseModelArn] = kbModel.arn;
    }
    if (args.systemPrompt !== undefined) environment[ENV.systemPrompt] = args.systemPrompt;
    if (tokenPrices !== undefined) environment[ENV.tokenPricesUsdPerMillion] = tokenPrices;
    if (reasoningBudget !== undefined) environment[ENV.reasoningBudgetTokens] = String(reasoningBudget);
    if (sourceLinkBuckets.length > 0) {
      environment[ENV.sourceLinkBuckets] = sourceLinkBuckets.join(",");
      if (sourceLinkExpiry !== undefined) environment[ENV.sourceLinkExpirySeconds] = String(sourceLinkExpiry);
    }
    // The function's own default needs no variable.
    if (args.promptCaching !== undefined && args.promptCaching !== DEFAULT_PROMPT_CACHING) environment[ENV.promptCaching] = args.promptCaching;
    if (args.bedrockLatency !== undefined) environment[ENV.bedrockLatency] = args.bedrockLatency;
    if (args.bedrockServiceTier !== undefined) environment[ENV.bedrockServiceTier] = args.bedrockServiceTier;
    if (outputLinkSchemes !== undefined) environment[ENV.outputLinkSchemes] = outputLinkSchemes.join(",");
    if (outputImageHosts !== undefined) environment[ENV.outputImageHosts] = outputImageHosts.join(",");
    if (args.maxTokens !== undefined) environment[ENV.maxTokens] = String(args.maxTokens);
    if (args.temperature !== undefined) environment[ENV.temperature] = String(args.temperature);
    if (args.topP !== undefined) environment[ENV.topP] = String(args.topP);
    if (args.llmLambdaArn) {
      environment[ENV.llmLambdaArn] = args.llmLambdaArn;
      if (args.llmQaPromptTemplate !== undefined) environment[ENV.llmQaPromptTemplate] = args.llmQaPromptTemplate;
      if (modelParams !== undefined) environment[ENV.llmQaModelParams] = modelParams;
    }
    // The endpoint, table, frame budget and checkpoint interval, as the component sets them on
    // every function that streams through it, and the fair-use limits of the ask ledger.
    if (args.streaming) {
      Object.assign(environment, args.streaming.streamingEnvironment);
      environment[ENV.asksPerConnection] = String(args.streaming.askLimits.perConnection);
      environment[ENV.asksPerSession] = String(args.streaming.askLimits.perSession);
      if (args.streaming.tokenBudgetPerDay > 0) environment[ENV.tokenBudgetPerDay] = String(args.streaming.tokenBudgetPerDay);
      if (args.streaming.feedbackTtlDays > 0) environment[ENV.feedbackTtlDays] = String(args.streaming.feedbackTtlDays);
    }

    const fulfillment = nodeFunction(
      `${name}-fulfillment`,
      {
        entry: functionEntry("fulfillment"),
        description: "Answers questions with Amazon Bedrock (Lex code hook, POST /ask, WebSocket ask)",
        memorySize: settings.memorySize,
        timeout: settings.timeout,
        environment,
        logRetentionInDays: settings.logRetentionInDays,
        tracing: settings.tracing,
        reservedConcurrency: settings.reservedConcurrency,
        partition: partition.partition,
        tags: args.tags,
      },
      this,
    );
    const fn = fulfillment.function;

    // What answering takes, whichever door: the fulfillment function and the streaming HTTP
    // door's function each get these, plus their own log group (and the hand-off for the former).
    const statements: PolicyStatement[] = [];
    if (!args.llmLambdaArn) {
      statements.push({
        Sid: "InvokeLlm",
        Effect: "Allow",
        // Converse and ConverseStream are authorized as these two actions.
        Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        Resource: llm.invokeResources,
      });
    }
    if (args.knowledgeBaseId) {
      const kbArn = pulumi.all([target, args.knowledgeBaseId]).apply(([t, id]) => knowledgeBaseArn(id, t));
      statements.push(
        { Sid: "RetrieveFromKnowledgeBase", Effect: "Allow", Action: ["bedrock:Retrieve"], Resource: [kbArn] },
        {
          Sid: "RetrieveAndGenerate",
          Effect: "Allow",
          // The one statement on "*": RetrieveAndGenerate (which also authorizes
          // RetrieveAndGenerateStream) has no resource type in IAM, so AWS accepts nothing
          // narrower. The knowledge base itself is still guarded by bedrock:Retrieve above.
          Action: ["bedrock:RetrieveAndGenerate"],
          Resource: ["*"],
        },
        {
          Sid: "InvokeKnowledgeBaseModel",
          Effect: "Allow",
          Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
          Resource: kbModel.invokeResources,
        },
      );
      if (isInferenceProfile(kbModelId)) {
        statements.push({
          Sid: "ResolveKnowledgeBaseInferenceProfile",
          Effect: "Allow",
          // RetrieveAndGenerate looks the profile up before generating with it.
          Action: ["bedrock:GetInferenceProfile"],
          Resource: [kbModel.apply((m) => m.inferenceProfileArn as string)],
        });
      }
    }
    if (args.guardrail) {
      const guardrail = args.guardrail;
      statements.push({
        Sid: "ApplyGuardrail",
        Effect: "Allow",
        // Converse and RetrieveAndGenerate with a guardrail are authorized on the guardrail too.
        Action: ["bedrock:ApplyGuardrail"],
        Resource: [target.apply((t) => guardrailArn(guardrail.id, t))],
      });
    }
    statements.push({
      Sid: "ConversationMemory",
      Effect: "Allow",
      Action: ["dynamodb:GetItem", "dynamodb:PutItem"],
      Resource: [memoryTable.arn],
    });
    if (args.kmsKeyArn) statements.push(tableKeyStatement(args.kmsKeyArn, region, partition.dnsSuffix));
    if (args.llmLambdaArn) {
      statements.push({
        Sid: "InvokeCustomLlm",
        Effect: "Allow",
        Action: ["lambda:InvokeFunction"],
        Resource: [args.llmLambdaArn],
      });
    }
    if (sourceLinkBuckets.length > 0) {
      statements.push({
        Sid: "ReadLinkedSources",
        Effect: "Allow",
        // A presigned link can do only what its signer may: read these buckets' objects.
        Action: ["s3:GetObject"],
        Resource: sourceLinkBuckets.map((bucket) => partition.partition.apply((p) => `arn:${p}:s3:::${bucket}/*`)),
      });
    }
    const fulfillmentStatements: PolicyStatement[] = [logWriteStatement(fulfillment.logGroup), ...statements];
    if (args.streaming) {
      // A retried hand-off would answer, and stream, the same question twice; a stale one
      // answers a user who has long moved on.
      new aws.lambda.FunctionEventInvokeConfig(
        `${name}-fulfillment-async`,
        { functionName: fn.name, maximumRetryAttempts: 0, maximumEventAgeInSeconds: ASYNC_ASK_MAX_AGE_SECONDS },
        parent,
      );
      fulfillmentStatements.push({
        Sid: "HandOffWebSocketAsks",
        Effect: "Allow",
        // The `ask` route answers at once and streams from an asynchronous self-invocation.
        Action: ["lambda:InvokeFunction"],
        Resource: [fn.arn],
      });
    }
    new aws.iam.RolePolicy(
      `${name}-fulfillment-policy`,
      { role: fulfillment.role.name, policy: policyDocument(fulfillmentStatements) },
      parent,
    );
    args.streaming?.grantStreaming(fulfillment.role);

    if (streamingHttp && args.streaming) {
      const door = nodeFunction(
        `${name}-streaming-http`,
        {
          entry: functionEntry("streamingHttp"),
          description: "Streams answers over HTTP: POST to its function URL (Server-Sent Events or JSON)",
          memorySize: streamingHttp.memorySize,
          timeout: streamingHttp.timeout,
          environment: { ...environment, [POWERTOOLS_ENV.service]: "qnabot-streaming-http" },
          logRetentionInDays: settings.logRetentionInDays,
          tracing: settings.tracing,
          reservedConcurrency: streamingHttp.reservedConcurrency,
          partition: partition.partition,
          tags: args.tags,
        },
        this,
      );
      // No hand-off: the door streams from the invocation that was asked.
      new aws.iam.RolePolicy(
        `${name}-streaming-http-policy`,
        { role: door.role.name, policy: policyDocument([logWriteStatement(door.logGroup), ...statements]) },
        parent,
      );
      // Its JSON answers stream to the asker's WebSocket connections too, as POST /ask's do,
      // and its fair-use slots live in the connections table.
      args.streaming.grantStreaming(door.role);
      const url = new aws.lambda.FunctionUrl(
        `${name}-streaming-http-url`,
        {
          functionName: door.function.name,
          authorizationType: "AWS_IAM",
          invokeMode: "RESPONSE_STREAM",
          cors: streamingHttp.corsOrigins
            ? {
                allowOrigins: [...streamingHttp.corsOrigins],
                allowMethods: ["POST"],
                allowHeaders: [...STREAMING_HTTP_CORS_HEADERS],
                // SigV4 travels in headers: no cookies, so no credentialed requests.
                allowCredentials: false,
                maxAge: STREAMING_HTTP_CORS_MAX_AGE,
              }
            : undefined,
        },
        parent,
      );
      this.streamingHttpFunction = door;
      this.streamingHttpEndpoint = url.functionUrl;
      this.streamingHttpFunctionArn = door.function.arn;
    }

    const api = new aws.apigatewayv2.Api(
      `${name}-http-api`,
      { protocolType: "HTTP", description: "QnA bot: POST /ask and POST /feedback (IAM auth)", tags: args.tags },
      parent,
    );
    const integration = new aws.apigatewayv2.Integration(
      `${name}-ask-integration`,
      {
        apiId: api.id,
        integrationType: "AWS_PROXY",
        integrationMethod: "POST",
        integrationUri: fn.invokeArn,
        payloadFormatVersion: "2.0",
      },
      parent,
    );
    new aws.apigatewayv2.Route(
      `${name}-ask-route`,
      {
        apiId: api.id,
        routeKey: "POST /ask",
        authorizationType: "AWS_IAM",
        target: pulumi.interpolate`integrations/${integration.id}`,
      },
      parent,
    );
    // Feedback on an answer (functions/fulfillment/feedback.ts), by the same function and auth.
    new aws.apigatewayv2.Route(
      `${name}-feedback-route`,
      {
        apiId: api.id,
        routeKey: "POST /feedback",
        authorizationType: "AWS_IAM",
        target: pulumi.interpolate`integrations/${integration.id}`,
      },
      parent,
    );
    const accessLogGroup = new aws.cloudwatch.LogGroup(
      `${name}-http-access-logs`,
      {
        // `$default`, the stage's name, is not allowed in a log group name.
        name: pulumi.interpolate`/aws/apigateway/${api.id}/default`,
        retentionInDays: settings.logRetentionInDays,
        tags: args.tags,
      },
      parent,
    );
    new aws.apigatewayv2.Stage(
      `${name}-http-stage`,
      {
        apiId: api.id,
        name: "$default",
        autoDeploy: true,
        accessLogSettings: { destinationArn: accessLogGroup.arn, format: HTTP_ACCESS_LOG_FORMAT },
        defaultRouteSettings: {
          throttlingBurstLimit: settings.throttlingBurstLimit,
          throttlingRateLimit: settings.throttlingRateLimit,
        },
        tags: args.tags,
      },
      parent,
    );
    new aws.lambda.Permission(
      `${name}-ask-permission`,
      {
        action: "lambda:InvokeFunction",
        function: fn.name,
        principal: "apigateway.amazonaws.com",
        sourceArn: pulumi.interpolate`${api.executionArn}/*/POST/ask`,
      },
      parent,
    );
    new aws.lambda.Permission(
      `${name}-feedback-permission`,
      {
        action: "lambda:InvokeFunction",
        function: fn.name,
        principal: "apigateway.amazonaws.com",
        sourceArn: pulumi.interpolate`${api.executionArn}/*/POST/feedback`,
      },
      parent,
    );
    if (args.lexBotAliasArn) {
      new aws.lambda.Permission(
        `${name}-lex-permission`,
        {
          action: "lambda:InvokeFunction",
          function: fn.name,
          principal: "lexv2.amazonaws.com",
          sourceArn: args.lexBotAliasArn,
        },
        parent,
      );
    }

    this.apiId = api.id;
    this.askEndpoint = pulumi
      .all([api.id, target])
      .apply(([id, t]) => askEndpoint(id, t.region, t.dnsSuffix));
    this.functionName = fn.name;
    this.functionArn = fn.arn;
    this.functionLogGroupName = fulfillment.logGroup.name;
    this.role = fulfillment.role;
    this.roleArn = fulfillment.role.arn;
    this.memoryTableName = memoryTable.name;
    this.memoryTableArn = memoryTable.arn;
    this.registerOutputs({
      askEndpoint: this.askEndpoint,
      apiId: this.apiId,
      functionName: this.functionName,
      functionArn: this.functionArn,
      functionLogGroupName: this.functionLogGroupName,
      roleArn: this.roleArn,
      memoryTableName: this.memoryTableName,
      memoryTableArn: this.memoryTableArn,
      streamingHttpEndpoint: this.streamingHttpEndpoint,
      streamingHttpFunctionArn: this.streamingHttpFunctionArn,
    });
  }

  /**
   * Lets `role` ask over the streaming HTTP door, and nothing else: `lambda:InvokeFunctionUrl`
   * on the door's function through its AWS_IAM URL, and `lambda:InvokeFunction` on it only as
   * part of a function URL call (function URLs created since October 2025 need both, "Control
   * access to Lambda function URLs"). A direct Invoke, which could carry a forged caller
   * identity in its event, stays denied. Granted twice over: in the role's identity policy and
   * in the function's resource policy (two `aws.lambda.Permission`s naming the role, with
   * `FunctionUrlAuthType` AWS_IAM and `InvokedViaFunctionUrl`). AWS documents
   * `lambda:InvokedViaFunctionUrl` for resource policies; in one account either policy allows
   * the call, so the grant holds whichever way IAM reads the key in an identity policy.
   * Idempotent per role; throws when there is no door.
   */
  grantAsk(role: aws.iam.Role): aws.iam.RolePolicy {
    const functionArn = this.streamingHttpFunctionArn;
    if (!functionArn) {
      throw new Error(`QnaBot ${this.componentName} has no streaming HTTP door to grant (it needs streaming, and streamingHttp not false)`);
    }
    let policy = this.askGrants.get(role);
    if (!policy) {
      const grantName = `${this.componentName}-ask-grant-${this.askGrants.size + 1}`;
      policy = new aws.iam.RolePolicy(
        grantName,
        { role: role.name, policy: policyDocument(askStatements(functionArn)) },
        { parent: this },
      );
      new aws.lambda.Permission(
        `${grantName}-url`,
        { action: "lambda:InvokeFunctionUrl", function: functionArn, principal: role.arn, functionUrlAuthType: "AWS_IAM" },
        { parent: this },
      );
      new aws.lambda.Permission(
        `${grantName}-invoke`,
        { action: "lambda:InvokeFunction", function: functionArn, principal: role.arn, invokedViaFunctionUrl: true },
        { parent: this },
      );
      this.askGrants.set(role, policy);
    }
    return policy;
  }
}

/** The statements of `grantAsk`. */
export function askStatements(functionArn: pulumi.Input<string>): PolicyStatement[] {
  return [
    {
      Sid: "InvokeStreamingHttpUrl",
      Effect: "Allow",
      Action: ["lambda:InvokeFunctionUrl"],
      Resource: [functionArn],
      Condition: { StringEquals: { "lambda:FunctionUrlAuthType": "AWS_IAM" } },
    },
    {
      Sid: "InvokeStreamingHttpThroughUrl",
      Effect: "Allow",
      Action: ["lambda:InvokeFunction"],
      Resource: [functionArn],
      Condition: { Bool: { "lambda:InvokedViaFunctionUrl": "true" } },
    },
  ];
}

/** The door's settings, or undefined when there is none; throws on bad ones. */
function streamingHttpSettings(
  args: QnaBotArgs,
  memorySize: number,
): { timeout: number; memorySize: number; reservedConcurrency: number; corsOrigins?: readonly string[] } | undefined {
  if (args.streamingHttp === false) return undefined;
  if (!args.streaming) {
    if (args.streamingHttp !== undefined) throw new Error("streamingHttp needs streaming (a StreamingComponent): its fair-use ledger lives in the connections table");
    return undefined;
  }
  const door = withDefaults({ ...STREAMING_HTTP_DEFAULTS, memorySize }, args.streamingHttp ?? {});
  if (!Number.isSafeInteger(door.timeout) || door.timeout < 1 || door.timeout > MAX_LAMBDA_TIMEOUT_SECONDS) {
    throw new Error(`streamingHttp.timeout must be an integer from 1 to ${MAX_LAMBDA_TIMEOUT_SECONDS} seconds; got ${JSON.stringify(door.timeout)}`);
  }
  checkReservedConcurrency("streamingHttp.reservedConcurrency", door.reservedConcurrency);
  if (door.corsOrigins !== undefined) checkCorsOrigins("streamingHttp.corsOrigins", door.corsOrigins);
  return door;
}

