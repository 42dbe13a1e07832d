/**
 * The stack's configuration (Pulumi.yaml declares the same keys, types and defaults): parsed
 * and checked in one place, so a bad value fails `pulumi preview` with a message naming the
 * key, the rule and the value, before anything is deployed.
 */
import { parseTokenPrices, type TokenPrices } from "../functions/fulfillment/token-budget";
import { DEFAULT_REASONING_BUDGET_TOKENS, MAX_REASONING_BUDGET_TOKENS, MIN_REASONING_BUDGET_TOKENS } from "../functions/fulfillment/reasoning";
import { DEFAULT_SOURCE_LINK_EXPIRY_SECONDS, MAX_SOURCE_LINK_EXPIRY_SECONDS, parseSourceLinkBuckets } from "../functions/fulfillment/source-links";
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
import {
  DEFAULT_GUARDRAIL_STREAM_PROCESSING_MODE,
  GUARDRAIL_ID_PATTERN,
  GUARDRAIL_STREAM_PROCESSING_MODES,
  GUARDRAIL_VERSION_PATTERN,
  LEX_ANSWER_BUDGET_RANGE_MS,
  type GuardrailStreamProcessingMode,
} from "../functions/fulfillment/config";
import { DEFAULT_LINK_SCHEMES, parseImageHosts, parseLinkSchemes } from "../functions/fulfillment/output-safety";
import { parseRouteThrottling, type RouteThrottle, type ThrottledRouteKey } from "../functions/shared/routes";
import { API_GATEWAY_CLOUDWATCH_ROLE_MODES, type ApiGatewayCloudWatchRole } from "./cloudwatch-role";
import { BOT_LOCALE_PATTERN, DEFAULT_BOT_LOCALES } from "./bot-definition";
import { BASE_PATH_PATTERN, BASE_PATH_RULE, DOMAIN_NAME_PATTERN } from "./domain";
import {
  CORS_ORIGIN_PATTERN,
  MAX_CORS_ORIGINS,
  MAX_LAMBDA_TIMEOUT_SECONDS,
  MAX_PROMPT_ENVIRONMENT_BYTES,
  MAX_RESERVED_CONCURRENCY,
  promptEnvironmentBytes,
  QNA_DEFAULTS,
  STREAMING_HTTP_DEFAULTS,
  UNRESERVED,
} from "./qna";
import {
  EXECUTION_LOGGING_LEVELS,
  STAGE_NAME_PATTERN,
  STREAMING_DEFAULTS,
  STREAMING_LIMITS,
  type ExecutionLogging,
} from "./streaming";

export interface StackConfig {
  readonly enableStreaming: boolean;
  readonly llmModelId: string;
  readonly knowledgeBaseId?: string;
  /** Model of RetrieveAndGenerate; set only with knowledgeBaseId (defaults to llmModelId). */
  readonly knowledgeBaseModelId?: string;
  readonly systemPrompt?: string;
  readonly llmMaxTokens: number;
  readonly memoryTurns: number;
  readonly memoryTtlSeconds: number;
  readonly lexAnswerBudgetMs: number;
  readonly streamingStageName: string;
  readonly logRetentionInDays: number;
  readonly throttlingBurstLimit: number;
  readonly throttlingRateLimit: number;
  /** Route-level throttles replacing the component's defaults (StreamingComponentArgs.routeThrottling); empty: the defaults. */
  readonly routeThrottling: Readonly<Partial<Record<ThrottledRouteKey, RouteThrottle>>>;
  readonly connectionTtlSeconds: number;
  readonly streamingAccessLogs: boolean;
  readonly executionLogging: ExecutionLogging;
  readonly tracing: boolean;
  readonly kmsKeyArn?: string;
  /** Set with lexBot existing: the alias allowed to invoke the fulfillment function. */
  readonly lexBotAliasArn?: string;
  /** The Lex V2 bot: created by the stack, an existing one (lexBotAliasArn), or none. */
  readonly lexBot: LexBotMode;
  /** Lex V2 locale ids of the bot, the first the default. */
  readonly lexBotLocales: readonly string[];
  /** A Cognito identity pool for web clients (needs a bot). */
  readonly cognitoIdentityPool: boolean;
  /** The identity pool gives visitors who have not signed in credentials. */
  readonly cognitoGuestAccess: boolean;
  /** A Cognito user pool whose users sign in to the identity pool. */
  readonly cognitoUserPool: boolean;
  readonly llmLambdaArn?: string;
  readonly apiGatewayCloudWatchRole: ApiGatewayCloudWatchRole;
  readonly monitoring: boolean;
  readonly alarmTopicArn?: string;
  /** Custom domain of the WebSocket API; the certificate is set with it. */
  readonly streamingDomainName?: string;
  readonly streamingCertificateArn?: string;
  readonly streamingHostedZoneId?: string;
  readonly streamingBasePath?: string;
  /** Bedrock Guardrail; the version is set with it. */
  readonly guardrailId?: string;
  readonly guardrailVersion?: string;
  readonly guardrailStreamProcessingMode: GuardrailStreamProcessingMode;
  /** The streaming HTTP door (function URL); only with enableStreaming. */
  readonly streamingHttpEndpoint: boolean;
  readonly streamingHttpTimeout: number;
  /** Browser origins allowed by the function URL's CORS; unset: no CORS configuration. */
  readonly streamingHttpCorsOrigins?: readonly string[];
  /** -1: no reservation. */
  readonly streamingHttpReservedConcurrency: number;
  /** -1: no reservation. */
  readonly fulfillmentReservedConcurrency: number;
  readonly asksPerConnection: number;
  readonly asksPerSession: number;
  /** Lex answers stream to, and are remembered for, session ids bound to no identity (StreamingComponentArgs.unboundSessionStreaming); only with enableStreaming. */
  readonly unboundSessionStreaming: boolean;
  /** Tokens one asker may spend per UTC day; 0: off. */
  readonly tokenBudgetPerDay: number;
  /** Days an answer's feedback record is kept; 0: no feedback kept. */
  readonly feedbackTtlDays: number;
  /** Token prices for the estimated cost of an answer; unset: no estimate. */
  readonly tokenPricesUsdPerMillion?: { readonly input: number; readonly output: number };
  /** Asks may stream the model's reasoning (QnaBotArgs.reasoning); only with enableStreaming and Bedrock answers. */
  readonly reasoning: boolean;
  /** Thinking budget of a reasoning answer, in tokens; only with reasoning. */
  readonly reasoningBudgetTokens: number;
  /** Bedrock prompt caching of LLM answers. */
  readonly promptCaching: PromptCachingMode;
  /** performanceConfig.latency of LLM and knowledge-base answers; unset: not sent. */
  readonly bedrockLatency?: BedrockLatency;
  /** ConverseStream serviceTier; unset: not sent. */
  readonly bedrockServiceTier?: BedrockServiceTier;
  /** QnABot's LLM_QA_PROMPT_TEMPLATE; only with llmLambdaArn. */
  readonly llmQaPromptTemplate?: string;
  /** QnABot's LLM_QA_MODEL_PARAMS, parsed; only with llmLambdaArn. */
  readonly llmQaModelParams?: Readonly<Record<string, unknown>>;
  readonly streamTextFlushMs: number;
  readonly streamJsonFlushMs: number;
  readonly streamCheckpointMs: number;
  /** Output safety: URL schemes a link in an answer may keep. */
  readonly outputLinkSchemes: readonly string[];
  /** Output safety: hosts an answer's image may load from (https only); empty: none. */
  readonly outputImageHosts: readonly string[];
  /** Sources people can click: buckets whose cited objects get presigned links; empty: none. */
  readonly sourceLinkBuckets: readonly string[];
  /** Seconds a presigned source link works. */
  readonly sourceLinkExpirySeconds: number;
}

/** `create` a bot, use an `existing` one (lexBotAliasArn), or `none`. */
export type LexBotMode = "create" | "existing" | "none";
export const LEX_BOT_MODES: readonly LexBotMode[] = ["create", "existing", "none"];

/** Defaults of every key; Pulumi.yaml declares the same (a test keeps them equal). */
export const CONFIG_DEFAULTS = {
  enableStreaming: false,
  llmModelId: QNA_DEFAULTS.llmModelId,
  knowledgeBaseId: "",
  knowledgeBaseModelId: "",
  systemPrompt: "",
  llmMaxTokens: 1024,
  memoryTurns: QNA_DEFAULTS.memoryTurns,
  memoryTtlSeconds: QNA_DEFAULTS.memoryTtlSeconds,
  lexAnswerBudgetMs: QNA_DEFAULTS.lexAnswerBudgetMs,
  streamingStageName: STREAMING_DEFAULTS.stageName,
  logRetentionInDays: STREAMING_DEFAULTS.logRetentionInDays,
  throttlingBurstLimit: STREAMING_DEFAULTS.throttlingBurstLimit,
  throttlingRateLimit: STREAMING_DEFAULTS.throttlingRateLimit,
  routeThrottling: "",
  connectionTtlSeconds: STREAMING_DEFAULTS.connectionTtlSeconds,
  streamingAccessLogs: STREAMING_DEFAULTS.accessLogging,
  executionLogging: STREAMING_DEFAULTS.executionLogging,
  tracing: false,
  kmsKeyArn: "",
  lexBotAliasArn: "",
  lexBot: "create",
  lexBotLocales: DEFAULT_BOT_LOCALES.join(","),
  cognitoIdentityPool: true,
  cognitoGuestAccess: true,
  cognitoUserPool: false,
  llmLambdaArn: "",
  apiGatewayCloudWatchRole: "auto",
  monitoring: false,
  alarmTopicArn: "",
  streamingDomainName: "",
  streamingCertificateArn: "",
  streamingHostedZoneId: "",
  streamingBasePath: "",
  guardrailId: "",
  guardrailVersion: "",
  guardrailStreamProcessingMode: DEFAULT_GUARDRAIL_STREAM_PROCESSING_MODE,
  streamingHttpEndpoint: true,
  streamingHttpTimeout: STREAMING_HTTP_DEFAULTS.timeout,
  streamingHttpCorsOrigins: "",
  streamingHttpReservedConcurrency: STREAMING_HTTP_DEFAULTS.reservedConcurrency,
  fulfillmentReservedConcurrency: QNA_DEFAULTS.reservedConcurrency,
  asksPerConnection: STREAMING_DEFAULTS.asksPerConnection,
  asksPerSession: STREAMING_DEFAULTS.asksPerSession,
  unboundSessionStreaming: STREAMING_DEFAULTS.unboundSessionStreaming,
  tokenBudgetPerDay: STREAMING_DEFAULTS.tokenBudgetPerDay,
  feedbackTtlDays: STREAMING_DEFAULTS.feedbackTtlDays,
  tokenPricesUsdPerMillion: "",
  reasoning: false,
  reasoningBudgetTokens: DEFAULT_REASONING_BUDGET_TOKENS,
  promptCaching: DEFAULT_PROMPT_CACHING as string,
  bedrockLatency: "",
  bedrockServiceTier: "",
  llmQaPromptTemplate: "",
  llmQaModelParams: "",
  streamTextFlushMs: STREAMING_DEFAULTS.textFlushMs,
  streamJsonFlushMs: STREAMING_DEFAULTS.jsonFlushMs,
  streamCheckpointMs: STREAMING_DEFAULTS.checkpointMs,
  outputLinkSchemes: DEFAULT_LINK_SCHEMES.join(","),
  outputImageHosts: "",
  sourceLinkBuckets: "",
  sourceLinkExpirySeconds: DEFAULT_SOURCE_LINK_EXPIRY_SECONDS,
} as const satisfies Record<keyof StackConfig, string | number | boolean>;

export type ConfigKey = keyof typeof CONFIG_DEFAULTS;

/** Retention values CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Lambda allows 4 KB of environment in total; the prompt must leave room for the rest. */
export const MAX_SYSTEM_PROMPT_CHARS = 2000;

const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
const BEDROCK_MODEL_ARN = /^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d{0,12}:[a-z-]+\/[A-Za-z0-9._:/-]+$/;
const KNOWLEDGE_BASE_ID = /^[0-9A-Za-z]{10}$/;
const LEX_BOT_ALIAS_ARN = /^arn:aws[a-z-]*:lex:[a-z0-9-]+:\d{12}:bot-alias\/[0-9A-Z]{10}\/[0-9A-Z]{10}$/;
const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$/;
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
const ACM_CERTIFICATE_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]{1,128}$/;
const HOSTED_ZONE_ID = /^Z[A-Z0-9]{1,31}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/;

/** Reads a raw config value; undefined when the key is unset. */
export type ConfigSource = (key: ConfigKey) => string | undefined;

/**
 * Parses and checks every key. Unset or empty keys take CONFIG_DEFAULTS; every problem is
 * reported at once in a single error.
 */
export function parseStackConfig(source: ConfigSource, project = "qnabot-streaming"): StackConfig {
  const problems: string[] = [];
  const problem = (key: ConfigKey, rule: string, raw: string) =>
    problems.push(`${project}:${key} ${rule}; got ${JSON.stringify(raw)}`);
  const raw = (key: ConfigKey): string | undefined => {
    const value = source(key)?.trim();
    return value === "" ? undefined : value;
  };

  const boolean = (key: ConfigKey, fallback: boolean): boolean => {
    const value = raw(key);
    if (value === undefined) return fallback;
    if (value === "true") return true;
    if (value === "false") return false;
    problem(key, "must be true or false", value);
    return fallback;
  };
  const integer = (key: ConfigKey, fallback: number, min: number, max: number): number => {
    const value = raw(key);
    if (value === undefined) return fallback;
    const parsed = /^-?\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      problem(key, `must be an integer from ${min} to ${max}`, value);
      return fallback;
    }
    return parsed;
  };
  const matching = (key: ConfigKey, pattern: RegExp, rule: string): string | undefined => {
    const value = raw(key);
    if (value === undefined || pattern.test(value)) return value;
    problem(key, rule, value);
    return undefined;
  };
  const oneOf = <T extends string>(key: ConfigKey, allowed: readonly T[], fallback: T): T => {
    const value = raw(key);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    problem(key, `must be one of ${allowed.join(", ")}`, value);
    return fallback;
  };
  const model = (key: ConfigKey): string | undefined => {
    const value = raw(key);
    if (value === undefined) return undefined;
    if (value.startsWith("arn:") ? BEDROCK_MODEL_ARN.test(value) : MODEL_ID.test(value)) return value;
    problem(key, "must be a Bedrock model id, inference profile id or model ARN", value);
    return undefined;
  };

  const knowledgeBaseId = matching("knowledgeBaseId", KNOWLEDGE_BASE_ID, "must be a 10-character knowledge base id");
  const knowledgeBaseModelId = model("knowledgeBaseModelId");
  if (knowledgeBaseModelId !== undefined && raw("knowledgeBaseId") === undefined) {
    problem("knowledgeBaseModelId", "only applies with knowledgeBaseId, which is not set", knowledgeBaseModelId);
  }

  const logRetentionInDays = integer("logRetentionInDays", CONFIG_DEFAULTS.logRetentionInDays, 1, 3653);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionInDays)) {
    problem("logRetentionInDays", `must be one of ${LOG_RETENTION_DAYS.join(", ")}`, String(logRetentionInDays));
  }

  const systemPrompt = raw("systemPrompt");
  if (systemPrompt !== undefined && systemPrompt.length > MAX_SYSTEM_PROMPT_CHARS) {
    problem("systemPrompt", `must be at most ${MAX_SYSTEM_PROMPT_CHARS} characters (Lambda environment limit)`, `${systemPrompt.slice(0, 40)}…`);
  }

  const executionLogging = raw("executionLogging") ?? CONFIG_DEFAULTS.executionLogging;
  if (!(EXECUTION_LOGGING_LEVELS as readonly string[]).includes(executionLogging)) {
    problem("executionLogging", `must be one of ${EXECUTION_LOGGING_LEVELS.join(", ")}`, executionLogging);
  }
  const cloudWatchRole = oneOf("apiGatewayCloudWatchRole", API_GATEWAY_CLOUDWATCH_ROLE_MODES, CONFIG_DEFAULTS.apiGatewayCloudWatchRole);
  if (cloudWatchRole === "none" && executionLogging !== "OFF") {
    problem("executionLogging", 'must be OFF with apiGatewayCloudWatchRole "none" (execution logs need the Region\'s CloudWatch role)', executionLogging);
  }

  const monitoring = boolean("monitoring", CONFIG_DEFAULTS.monitoring);
  const alarmTopicArn = matching("alarmTopicArn", SNS_TOPIC_ARN, "must be an SNS topic ARN");
  if (alarmTopicArn !== undefined && !monitoring) problem("alarmTopicArn", "only applies with monitoring true", alarmTopicArn);

  const streamingDomainName = matching("streamingDomainName", DOMAIN_NAME_PATTERN, "must be a lower-case fully qualified domain name");
  const streamingCertificateArn = matching("streamingCertificateArn", ACM_CERTIFICATE_ARN, "must be an ACM certificate ARN");
  const streamingHostedZoneId = matching("streamingHostedZoneId", HOSTED_ZONE_ID, "must be a Route 53 hosted zone id (Z…)");
  const streamingBasePath = matching("streamingBasePath", BASE_PATH_PATTERN, BASE_PATH_RULE);
  if (raw("streamingDomainName") !== undefined) {
    if (raw("streamingCertificateArn") === undefined) problem("streamingCertificateArn", "is required with streamingDomainName", "");
  } else {
    for (const key of ["streamingCertificateArn", "streamingHostedZoneId", "streamingBasePath"] as const) {
      const value = raw(key);
      if (value !== undefined) problem(key, "only applies with streamingDomainName, which is not set", value);
    }
  }

  const guardrailId = matching("guardrailId", GUARDRAIL_ID_PATTERN, "must be a Bedrock guardrail id or ARN");
  const guardrailVersion = matching("guardrailVersion", GUARDRAIL_VERSION_PATTERN, "must be a guardrail version number or DRAFT");
  if (raw("guardrailId") !== undefined && raw("guardrailVersion") === undefined) {
    problem("guardrailVersion", "is required with guardrailId", "");
  }
  if (raw("guardrailId") === undefined && raw("guardrailVersion") !== undefined) {
    problem("guardrailVersion", "only applies with guardrailId, which is not set", raw("guardrailVersion") ?? "");
  }
  const guardrailStreamProcessingMode = oneOf(
    "guardrailStreamProcessingMode",
    GUARDRAIL_STREAM_PROCESSING_MODES,
    CONFIG_DEFAULTS.guardrailStreamProcessingMode,
  );

  const limit = (key: ConfigKey, fallback: number, range: { min: number; max: number }) => integer(key, fallback, range.min, range.max);
  const reservedConcurrency = (key: ConfigKey, fallback: number): number => {
    const value = raw(key);
    if (value === "0") {
      problem(key, "must not be 0: a reserved concurrency of 0 throttles every invocation (-1 reserves nothing)", value);
      return fallback;
    }
    return integer(key, fallback, UNRESERVED, MAX_RESERVED_CONCURRENCY);
  };

  const corsOriginsRaw = raw("streamingHttpCorsOrigins");
  const streamingHttpCorsOrigins = corsOriginsRaw?.split(",").map((origin) => origin.trim()).filter((origin) => origin !== "");
  if (corsOriginsRaw !== undefined && streamingHttpCorsOrigins) {
    const bad = streamingHttpCorsOrigins.filter((origin) => !CORS_ORIGIN_PATTERN.test(origin));
    if (bad.length > 0 || streamingHttpCorsOrigins.length === 0) {
      problem(
        "streamingHttpCorsOrigins",
        "must be explicit browser origins separated by commas, such as https://chat.example.com (lower-case scheme and host, optional port, no path, no *)",
        corsOriginsRaw,
      );
    } else if (streamingHttpCorsOrigins.length > MAX_CORS_ORIGINS) {
      problem("streamingHttpCorsOrigins", `must list at most ${MAX_CORS_ORIGINS} origins`, `${streamingHttpCorsOrigins.length} origins`);
    }
  }

  const lexBotAliasArn = matching(
    "lexBotAliasArn",
    LEX_BOT_ALIAS_ARN,
    "must be a Lex V2 bot alias ARN (arn:aws:lex:{region}:{account}:bot-alias/{botId}/{aliasId})",
  );
  // An alias ARN alone (the setting before lexBot existed) means that existing bot.
  const lexBot =
    raw("lexBot") === undefined && raw("lexBotAliasArn") !== undefined ? "existing" : oneOf("lexBot", LEX_BOT_MODES, CONFIG_DEFAULTS.lexBot);
  if (lexBot === "existing" && raw("lexBotAliasArn") === undefined) problem("lexBotAliasArn", "is required with lexBot existing", "");
  if (lexBot !== "existing" && raw("lexBotAliasArn") !== undefined) {
    problem("lexBotAliasArn", `only applies with lexBot existing (lexBot is ${lexBot})`, raw("lexBotAliasArn") ?? "");
  }
  const localesRaw = raw("lexBotLocales") ?? CONFIG_DEFAULTS.lexBotLocales;
  const lexBotLocales = localesRaw.split(",").map((locale) => locale.trim());
  if (lexBotLocales.some((locale) => !BOT_LOCALE_PATTERN.test(locale)) || new Set(lexBotLocales).size !== lexBotLocales.length) {
    problem("lexBotLocales", "must be distinct Lex V2 locale ids separated by commas, such as en_US,es_US", localesRaw);
  }
  const cognitoIdentityPool = boolean("cognitoIdentityPool", CONFIG_DEFAULTS.cognitoIdentityPool) && lexBot !== "none";
  const cognitoGuestAccess = boolean("cognitoGuestAccess", CONFIG_DEFAULTS.cognitoGuestAccess);
  const cognitoUserPool = boolean("cognitoUserPool", CONFIG_DEFAULTS.cognitoUserPool);
  if (cognitoIdentityPool && !cognitoGuestAccess && !cognitoUserPool) {
    problem("cognitoGuestAccess", "must be true unless cognitoUserPool is: with neither, nobody could get credentials", "false");
  }

  const allowlist = (key: "outputLinkSchemes" | "outputImageHosts" | "sourceLinkBuckets", parse: (raw: string) => string[]): string[] => {
    const value = raw(key) ?? CONFIG_DEFAULTS[key];
    try {
      return parse(value);
    } catch (error) {
      problem(key, `must be a comma-separated list: ${(error as Error).message}`, value);
      return [];
    }
  };

  const routeThrottlingRaw = raw("routeThrottling");
  let routeThrottling: StackConfig["routeThrottling"] = {};
  try {
    routeThrottling = parseRouteThrottling(routeThrottlingRaw ?? CONFIG_DEFAULTS.routeThrottling);
  } catch (error) {
    problem("routeThrottling", `is wrong: ${(error as Error).message}`, routeThrottlingRaw ?? "");
  }

  const tokenPricesRaw = raw("tokenPricesUsdPerMillion");
  let tokenPricesUsdPerMillion: TokenPrices | undefined;
  try {
    tokenPricesUsdPerMillion = parseTokenPrices(tokenPricesRaw);
  } catch (error) {
    problem("tokenPricesUsdPerMillion", (error as Error).message, tokenPricesRaw ?? "");
  }

  const llmLambdaArn = matching("llmLambdaArn", LAMBDA_ARN, "must be a Lambda function ARN");
  const llmQaPromptTemplate = raw("llmQaPromptTemplate");
  const llmQaModelParamsRaw = raw("llmQaModelParams");
  let llmQaModelParams: Record<string, unknown> | undefined;
  if (llmQaModelParamsRaw !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(llmQaModelParamsRaw);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      llmQaModelParams = parsed as Record<string, unknown>;
    } else {
      problem("llmQaModelParams", 'must be a JSON object, e.g. {"temperature":0}', llmQaModelParamsRaw);
    }
  }
  for (const key of ["llmQaPromptTemplate", "llmQaModelParams"] as const) {
    const value = raw(key);
    if (value !== undefined && raw("llmLambdaArn") === undefined) {
      problem(key, "only applies with llmLambdaArn (a custom LLM Lambda), which is not set", value.length > 40 ? `${value.slice(0, 40)}…` : value);
    }
  }
  const promptBytes = promptEnvironmentBytes([systemPrompt, llmQaPromptTemplate, llmQaModelParamsRaw]);
  if (promptBytes > MAX_PROMPT_ENVIRONMENT_BYTES) {
    problem(
      "llmQaPromptTemplate",
      `with systemPrompt and llmQaModelParams must take at most ${MAX_PROMPT_ENVIRONMENT_BYTES} bytes (Lambda's 4 KB environment)`,
      `${promptBytes} bytes`,
    );
  }

  const ttlRange = STREAMING_LIMITS.connectionTtlSeconds;
  const ttlRaw = raw("connectionTtlSeconds");
  const ttlBelowSocket = ttlRaw !== undefined && /^-?\d+$/.test(ttlRaw) && Number(ttlRaw) < ttlRange.min;
  if (ttlBelowSocket) {
    problem(
      "connectionTtlSeconds",
      `must be at least ${ttlRange.min}: API Gateway keeps a WebSocket connection open up to 2 hours, and a row that expires sooner leaves an open socket without its answers and its session free for anyone to take (at most ${ttlRange.max})`,
      ttlRaw,
    );
  }
  const connectionTtlSeconds = ttlBelowSocket
    ? CONFIG_DEFAULTS.connectionTtlSeconds
    : limit("connectionTtlSeconds", CONFIG_DEFAULTS.connectionTtlSeconds, ttlRange);

  const enableStreaming = boolean("enableStreaming", CONFIG_DEFAULTS.enableStreaming);
  const tokenBudgetPerDay = limit("tokenBudgetPerDay", CONFIG_DEFAULTS.tokenBudgetPerDay, STREAMING_LIMITS.tokenBudgetPerDay);
  if (routeThrottlingRaw !== undefined && !enableStreaming) {
    problem("routeThrottling", "only applies with enableStreaming: it throttles routes of the streaming WebSocket stage", routeThrottlingRaw);
  }
  if (tokenBudgetPerDay > 0 && !enableStreaming) {
    problem("tokenBudgetPerDay", "needs enableStreaming: the daily tally is kept in the streaming connections table", String(tokenBudgetPerDay));
  }
  const feedbackTtlDays = limit("feedbackTtlDays", CONFIG_DEFAULTS.feedbackTtlDays, STREAMING_LIMITS.feedbackTtlDays);
  if (feedbackTtlDays > 0 && !enableStreaming) {
    problem("feedbackTtlDays", "needs enableStreaming: feedback is kept in the streaming connections table", String(feedbackTtlDays));
  }

  const reasoning = boolean("reasoning", CONFIG_DEFAULTS.reasoning);
  const reasoningBudgetTokens = integer("reasoningBudgetTokens", CONFIG_DEFAULTS.reasoningBudgetTokens, MIN_REASONING_BUDGET_TOKENS, MAX_REASONING_BUDGET_TOKENS);
  if (reasoning && !enableStreaming) problem("reasoning", "needs enableStreaming: reasoning is only ever streamed, to format=json connections", "true");
  if (reasoning && llmLambdaArn) problem("reasoning", "applies to Bedrock answers only: a custom LLM Lambda (llmLambdaArn) streams by itself", "true");
  if (!reasoning && raw("reasoningBudgetTokens") !== undefined) {
    problem("reasoningBudgetTokens", "only applies with reasoning, which is not true", raw("reasoningBudgetTokens") ?? "");
  }

  const config: StackConfig = {
    enableStreaming,
    llmModelId: model("llmModelId") ?? CONFIG_DEFAULTS.llmModelId,
    knowledgeBaseId,
    knowledgeBaseModelId: knowledgeBaseId ? knowledgeBaseModelId : undefined,
    systemPrompt,
    llmMaxTokens: integer("llmMaxTokens", CONFIG_DEFAULTS.llmMaxTokens, 1, 200000),
    memoryTurns: integer("memoryTurns", CONFIG_DEFAULTS.memoryTurns, 0, 50),
    memoryTtlSeconds: integer("memoryTtlSeconds", CONFIG_DEFAULTS.memoryTtlSeconds, 60, 30 * 86400),
    lexAnswerBudgetMs: integer("lexAnswerBudgetMs", CONFIG_DEFAULTS.lexAnswerBudgetMs, LEX_ANSWER_BUDGET_RANGE_MS.min, LEX_ANSWER_BUDGET_RANGE_MS.max),
    streamingStageName: matching(
      "streamingStageName",
      STAGE_NAME_PATTERN,
      "must be 1-128 characters of A-Z a-z 0-9 _ -",
    ) ?? CONFIG_DEFAULTS.streamingStageName,
    logRetentionInDays,
    throttlingBurstLimit: integer("throttlingBurstLimit", CONFIG_DEFAULTS.throttlingBurstLimit, 1, 5000),
    throttlingRateLimit: integer("throttlingRateLimit", CONFIG_DEFAULTS.throttlingRateLimit, 1, 10000),
    routeThrottling,
    // API Gateway closes a connection after 2 hours at the latest: a row that expired sooner
    // would leave an open socket without its answers, and its session free to be taken.
    connectionTtlSeconds,
    // Without the Region's CloudWatch role, API Gateway cannot write access logs.
    streamingAccessLogs: boolean("streamingAccessLogs", CONFIG_DEFAULTS.streamingAccessLogs) && cloudWatchRole !== "none",
    executionLogging: executionLogging as ExecutionLogging,
    tracing: boolean("tracing", CONFIG_DEFAULTS.tracing),
    kmsKeyArn: matching("kmsKeyArn", KMS_KEY_ARN, "must be a KMS key ARN"),
    lexBotAliasArn,
    lexBot,
    lexBotLocales,
    cognitoIdentityPool,
    cognitoGuestAccess,
    cognitoUserPool,
    llmLambdaArn,
    apiGatewayCloudWatchRole: cloudWatchRole,
    monitoring,
    alarmTopicArn,
    streamingDomainName,
    streamingCertificateArn,
    streamingHostedZoneId,
    streamingBasePath,
    guardrailId,
    guardrailVersion,
    guardrailStreamProcessingMode,
    streamingHttpEndpoint: boolean("streamingHttpEndpoint", CONFIG_DEFAULTS.streamingHttpEndpoint),
    streamingHttpTimeout: integer("streamingHttpTimeout", CONFIG_DEFAULTS.streamingHttpTimeout, 1, MAX_LAMBDA_TIMEOUT_SECONDS),
    streamingHttpCorsOrigins: streamingHttpCorsOrigins?.length ? streamingHttpCorsOrigins : undefined,
    streamingHttpReservedConcurrency: reservedConcurrency("streamingHttpReservedConcurrency", CONFIG_DEFAULTS.streamingHttpReservedConcurrency),
    fulfillmentReservedConcurrency: reservedConcurrency("fulfillmentReservedConcurrency", CONFIG_DEFAULTS.fulfillmentReservedConcurrency),
    asksPerConnection: limit("asksPerConnection", CONFIG_DEFAULTS.asksPerConnection, STREAMING_LIMITS.asksPerConnection),
    asksPerSession: limit("asksPerSession", CONFIG_DEFAULTS.asksPerSession, STREAMING_LIMITS.asksPerSession),
    unboundSessionStreaming: boolean("unboundSessionStreaming", CONFIG_DEFAULTS.unboundSessionStreaming),
    tokenBudgetPerDay,
    feedbackTtlDays,
    tokenPricesUsdPerMillion,
    reasoning,
    reasoningBudgetTokens,
    promptCaching: oneOf("promptCaching", PROMPT_CACHING_MODES, DEFAULT_PROMPT_CACHING),
    bedrockLatency: raw("bedrockLatency") === undefined ? undefined : oneOf<BedrockLatency>("bedrockLatency", BEDROCK_LATENCIES, "standard"),
    bedrockServiceTier: raw("bedrockServiceTier") === undefined ? undefined : oneOf<BedrockServiceTier>("bedrockServiceTier", BEDROCK_SERVICE_TIERS, "default"),
    llmQaPromptTemplate: llmLambdaArn ? llmQaPromptTemplate : undefined,
    llmQaModelParams: llmLambdaArn ? llmQaModelParams : undefined,
    streamTextFlushMs: limit("streamTextFlushMs", CONFIG_DEFAULTS.streamTextFlushMs, STREAMING_LIMITS.textFlushMs),
    streamJsonFlushMs: limit("streamJsonFlushMs", CONFIG_DEFAULTS.streamJsonFlushMs, STREAMING_LIMITS.jsonFlushMs),
    streamCheckpointMs: limit("streamCheckpointMs", CONFIG_DEFAULTS.streamCheckpointMs, STREAMING_LIMITS.checkpointMs),
    outputLinkSchemes: allowlist("outputLinkSchemes", parseLinkSchemes),
    outputImageHosts: allowlist("outputImageHosts", parseImageHosts),
    sourceLinkBuckets: allowlist("sourceLinkBuckets", parseSourceLinkBuckets),
    sourceLinkExpirySeconds: integer("sourceLinkExpirySeconds", CONFIG_DEFAULTS.sourceLinkExpirySeconds, 1, MAX_SOURCE_LINK_EXPIRY_SECONDS),
  };
  if (problems.length > 0) {
    throw new pulumi.RunError(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
  return config;
}

/** The stack's configuration from Pulumi config (`pulumi config set …`). */
export function readStackConfig(config: pulumi.Config = new pulumi.Config()): StackConfig {
  return parseStackConfig((key) => config.get(key), config.name);
}
