/**
 * The qnabot-streaming stack: the QnA bot always (its fulfillment function, and by default its
 * Lex V2 bot and the web clients' Cognito identity pool), and the streaming WebSocket API wired
 * to it when `enableStreaming` is on. index.ts runs it with the stack's configuration; tests run it
 * with their own.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as awsnative from "@pulumi/aws-native";
import { FULFILLMENT_ROUTE_KEYS } from "../functions/shared/routes";
import type { RegionCloudWatchRole } from "./cloudwatch-role";
import type { StackConfig } from "./config";
import { LexBot } from "./lex-bot";
import { QnaBot } from "./qna";
import { StreamingComponent } from "./streaming";
import { WebClientIdentity } from "./web-identity";

/** Stack outputs, named as QnABot names them. The streaming ones exist only with streaming on. */
/** Lambda keeps this much of an account's concurrency unreserved (PutFunctionConcurrency). */
export const LAMBDA_UNRESERVED_MINIMUM = 100;

/**
 * What `pulumi preview` says before reserving concurrency: the quota the reservations need, and
 * how to read it. Undefined when nothing is reserved (the default).
 */
export function reservationNotice(config: StackConfig): string | undefined {
  const door = config.enableStreaming && config.streamingHttpEndpoint ? config.streamingHttpReservedConcurrency : 0;
  const reserved = [config.fulfillmentReservedConcurrency, door].filter((n) => n > 0).reduce((a, b) => a + b, 0);
  if (reserved === 0) return undefined;
  return `reserving ${reserved} Lambda executions needs an account concurrency quota of at least ${LAMBDA_UNRESERVED_MINIMUM + reserved} plus every other reservation in the Region (Lambda keeps ${LAMBDA_UNRESERVED_MINIMUM} unreserved: PutFunctionConcurrency); the quota: aws lambda get-account-settings --query AccountLimit.ConcurrentExecutions`;
}

/** Whether building this configuration needs the Region's CloudWatch role setting read first. */
export function needsRegionCloudWatchRole(config: StackConfig): boolean {
  const logs = config.streamingAccessLogs || config.executionLogging !== "OFF";
  return config.enableStreaming && config.apiGatewayCloudWatchRole === "auto" && logs;
}

export interface StackOutputs {
  /** `https://…/ask` of the HTTP API (IAM-signed POST). */
  readonly QnaAskEndpoint: pulumi.Output<string>;
  readonly FulfillmentFunctionArn: pulumi.Output<string>;
  /** What chat clients (Lex Web UI) connect to. */
  readonly StreamingWebSocketEndpoint?: pulumi.Output<string>;
  readonly StreamingWebSocketApiId?: pulumi.Output<string>;
  readonly StreamingDynamoDbTable?: pulumi.Output<string>;
  readonly StreamingDynamoDbTableArn?: pulumi.Output<string>;
  /** The connection function. */
  readonly StreamingLambdaArn?: pulumi.Output<string>;
  /** The streaming HTTP door's function URL (AWS_IAM, RESPONSE_STREAM): POST asks, SSE or JSON answers. */
  readonly StreamingHttpEndpoint?: pulumi.Output<string>;
  // Named as Lex Web UI's CloudFormation parameters take them (templates/master.yaml).
  /** The Lex V2 bot's id (lexBot create or existing). */
  readonly LexV2BotId?: pulumi.Output<string>;
  /** The bot alias clients talk to. */
  readonly LexV2BotAliasId?: pulumi.Output<string>;
  /** The bot's locale ids, comma-separated, the default first. */
  readonly LexV2BotLocaleId?: pulumi.Output<string>;
  /** The alias's ARN, what the fulfillment function lets invoke it. */
  readonly LexV2BotAliasArn?: pulumi.Output<string>;
  /** The web clients' Cognito identity pool. */
  readonly CognitoIdentityPoolId?: pulumi.Output<string>;
  /** With cognitoUserPool: the user pool and its app client. */
  readonly CognitoUserPoolId?: pulumi.Output<string>;
  readonly CognitoAppUserPoolClientId?: pulumi.Output<string>;
  /** The stack's Region (Lex Web UI deploys in the same one: `--region`). */
  readonly Region: pulumi.Output<string>;
}

/** `bot-alias/{botId}/{aliasId}` of a Lex V2 alias ARN. */
export function botAliasIds(aliasArn: string): { botId: string; aliasId: string } {
  const match = /:bot-alias\/([0-9A-Z]+)\/([0-9A-Z]+)$/.exec(aliasArn);
  if (!match) throw new Error(`not a Lex V2 bot alias ARN: ${JSON.stringify(aliasArn)}`);
  return { botId: match[1], aliasId: match[2] };
}

/**
 * The bot (created, or the existing one configured) and the web clients' identity pool, with
 * the outputs Lex Web UI's template takes.
 */
function botAndClients(config: StackConfig, qna: QnaBot, streaming?: StreamingComponent): Omit<StackOutputs, "QnaAskEndpoint" | "FulfillmentFunctionArn"> {
  const region = pulumi.output(aws.getRegionOutput({}, { parent: qna }).region);
  if (config.lexBot === "none") return { Region: region };
  let bot: { botId: pulumi.Output<string>; aliasId: pulumi.Output<string>; aliasArn: pulumi.Output<string> };
  if (config.lexBot === "create") {
    // The bot's provider deploys where the AWS provider does (aws:region, or AWS_REGION …): no
    // second Region setting (aws-native:region) to keep in step.
    const native = new awsnative.Provider("aws-native", {
      region: region as pulumi.Output<awsnative.Region>,
      profile: aws.config.profile,
    });
    const lex = new LexBot("lex", { fulfillmentFunctionArn: qna.functionArn, locales: config.lexBotLocales }, { providers: [native] });
    bot = { botId: lex.botId, aliasId: lex.aliasId, aliasArn: lex.aliasArn };
  } else {
    const ids = botAliasIds(config.lexBotAliasArn as string);
    bot = { botId: pulumi.output(ids.botId), aliasId: pulumi.output(ids.aliasId), aliasArn: pulumi.output(config.lexBotAliasArn as string) };
  }
  const outputs = {
    Region: region,
    LexV2BotId: bot.botId,
    LexV2BotAliasId: bot.aliasId,
    LexV2BotLocaleId: pulumi.output(config.lexBotLocales.join(",")),
    LexV2BotAliasArn: bot.aliasArn,
  };
  if (!config.cognitoIdentityPool) return outputs;
  const identity = new WebClientIdentity("web", {
    botAliasArn: bot.aliasArn,
    streaming,
    guests: config.cognitoGuestAccess,
    userPool: config.cognitoUserPool,
  });
  return {
    ...outputs,
    CognitoIdentityPoolId: identity.identityPoolId,
    ...(identity.userPoolId && identity.userPoolClientId
      ? { CognitoUserPoolId: identity.userPoolId, CognitoAppUserPoolClientId: identity.userPoolClientId }
      : {}),
  };
}

/**
 * `regionCloudWatchRole` is the Region's API Gateway CloudWatch role setting, read before
 * building (index.ts): what `apiGatewayCloudWatchRole: auto` decides on.
 */
export function createStack(config: StackConfig, regionCloudWatchRole?: RegionCloudWatchRole): StackOutputs {
  const notice = reservationNotice(config);
  if (notice) pulumi.log.info(notice);
  const qnaArgs = {
    llmModelId: config.llmModelId,
    knowledgeBaseId: config.knowledgeBaseId,
    knowledgeBaseModelId: config.knowledgeBaseModelId,
    systemPrompt: config.systemPrompt,
    maxTokens: config.llmMaxTokens,
    memoryTurns: config.memoryTurns,
    memoryTtlSeconds: config.memoryTtlSeconds,
    lexAnswerBudgetMs: config.lexAnswerBudgetMs,
    llmLambdaArn: config.llmLambdaArn,
    lexBotAliasArn: config.lexBotAliasArn,
    kmsKeyArn: config.kmsKeyArn,
    logRetentionInDays: config.logRetentionInDays,
    throttlingBurstLimit: config.throttlingBurstLimit,
    throttlingRateLimit: config.throttlingRateLimit,
    tracing: config.tracing,
    reservedConcurrency: config.fulfillmentReservedConcurrency,
    llmQaPromptTemplate: config.llmQaPromptTemplate,
    llmQaModelParams: config.llmQaModelParams,
    outputLinkSchemes: config.outputLinkSchemes,
    outputImageHosts: config.outputImageHosts,
    tokenPricesUsdPerMillion: config.tokenPricesUsdPerMillion,
    ...(config.reasoning ? { reasoning: true, reasoningBudgetTokens: config.reasoningBudgetTokens } : {}),
    sourceLinkBuckets: config.sourceLinkBuckets,
    sourceLinkExpirySeconds: config.sourceLinkExpirySeconds,
    promptCaching: config.promptCaching,
    bedrockLatency: config.bedrockLatency,
    bedrockServiceTier: config.bedrockServiceTier,
    guardrail:
      config.guardrailId && config.guardrailVersion
        ? {
            id: config.guardrailId,
            version: config.guardrailVersion,
            streamProcessingMode: config.guardrailStreamProcessingMode,
          }
        : undefined,
  };

  if (!config.enableStreaming) {
    const qna = new QnaBot("qnabot", qnaArgs);
    return { QnaAskEndpoint: qna.askEndpoint, FulfillmentFunctionArn: qna.functionArn, ...botAndClients(config, qna) };
  }

  // The fulfillment function also answers Lex and POST /ask, so QnaBot builds it and its
  // WebSocket routes (ask, resume, cancel) take its ARN (the functionArn form). It needs the
  // streaming endpoint, so the ARN is deferred and resolved once the function exists: the
  // documented pattern for that form.
  const [fulfillmentArn, resolveFulfillmentArn] = pulumi.deferredOutput<string>();
  // The streaming HTTP door's function belongs to QnaBot too: monitored under its deferred name.
  const [doorName, resolveDoorName] = pulumi.deferredOutput<string>();
  const monitorDoor = config.monitoring && config.streamingHttpEndpoint;
  const streaming = new StreamingComponent("streaming", {
    // One function serves every fulfillment route (and Lex, and POST /ask): its alarms say so.
    routes: Object.fromEntries(
      FULFILLMENT_ROUTE_KEYS.map((routeKey) => [routeKey, { functionArn: fulfillmentArn, label: "fulfillment" }]),
    ),
    stageName: config.streamingStageName,
    logRetentionInDays: config.logRetentionInDays,
    throttlingBurstLimit: config.throttlingBurstLimit,
    throttlingRateLimit: config.throttlingRateLimit,
    routeThrottling: config.routeThrottling,
    connectionTtlSeconds: config.connectionTtlSeconds,
    asksPerConnection: config.asksPerConnection,
    asksPerSession: config.asksPerSession,
    unboundSessionStreaming: config.unboundSessionStreaming,
    tokenBudgetPerDay: config.tokenBudgetPerDay,
    feedbackTtlDays: config.feedbackTtlDays,
    textFlushMs: config.streamTextFlushMs,
    jsonFlushMs: config.streamJsonFlushMs,
    checkpointMs: config.streamCheckpointMs,
    kmsKeyArn: config.kmsKeyArn,
    accessLogging: config.streamingAccessLogs,
    executionLogging: config.executionLogging,
    apiGatewayCloudWatchRole: config.apiGatewayCloudWatchRole,
    regionCloudWatchRole,
    tracing: config.tracing,
    domain: config.streamingDomainName
      ? {
          name: config.streamingDomainName,
          certificateArn: config.streamingCertificateArn as string,
          hostedZoneId: config.streamingHostedZoneId,
          basePath: config.streamingBasePath,
        }
      : undefined,
    monitoring: config.monitoring,
    alarmTopicArn: config.alarmTopicArn,
    monitoredFunctions: monitorDoor ? { "streaming-http": doorName } : undefined,
  });
  const qna = new QnaBot("qnabot", {
    ...qnaArgs,
    streaming,
    streamingHttp: config.streamingHttpEndpoint
      ? {
          timeout: config.streamingHttpTimeout,
          reservedConcurrency: config.streamingHttpReservedConcurrency,
          corsOrigins: config.streamingHttpCorsOrigins,
        }
      : false,
  });
  resolveFulfillmentArn(qna.functionArn);
  if (monitorDoor && qna.streamingHttpFunction) resolveDoorName(qna.streamingHttpFunction.function.name);

  return {
    QnaAskEndpoint: qna.askEndpoint,
    FulfillmentFunctionArn: qna.functionArn,
    StreamingWebSocketEndpoint: streaming.webSocketEndpoint,
    StreamingWebSocketApiId: streaming.apiId,
    StreamingDynamoDbTable: streaming.tableName,
    StreamingDynamoDbTableArn: streaming.tableArn,
    StreamingLambdaArn: streaming.functionArn,
    ...(qna.streamingHttpEndpoint ? { StreamingHttpEndpoint: qna.streamingHttpEndpoint } : {}),
    ...botAndClients(config, qna, streaming),
  };
}
