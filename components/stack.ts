/**
 * The qnabot-streaming stack: the QnA bot always, and the streaming WebSocket API wired to it
 * when `enableStreaming` is on. index.ts runs it with the stack's configuration; tests run it
 * with their own.
 */
import * as pulumi from "@pulumi/pulumi";
import { FULFILLMENT_ROUTE_KEYS } from "../functions/shared/routes";
import type { StackConfig } from "./config";
import { QnaBot } from "./qna";
import { StreamingComponent } from "./streaming";

/** Stack outputs, named as QnABot names them. The streaming ones exist only with streaming on. */
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
}

export function createStack(config: StackConfig): StackOutputs {
  const qnaArgs = {
    llmModelId: config.llmModelId,
    knowledgeBaseId: config.knowledgeBaseId,
    knowledgeBaseModelId: config.knowledgeBaseModelId,
    systemPrompt: config.systemPrompt,
    maxTokens: config.llmMaxTokens,
    memoryTurns: config.memoryTurns,
    memoryTtlSeconds: config.memoryTtlSeconds,
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
    return { QnaAskEndpoint: qna.askEndpoint, FulfillmentFunctionArn: qna.functionArn };
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
    routes: Object.fromEntries(FULFILLMENT_ROUTE_KEYS.map((routeKey) => [routeKey, { functionArn: fulfillmentArn }])),
    stageName: config.streamingStageName,
    logRetentionInDays: config.logRetentionInDays,
    throttlingBurstLimit: config.throttlingBurstLimit,
    throttlingRateLimit: config.throttlingRateLimit,
    connectionTtlSeconds: config.connectionTtlSeconds,
    asksPerConnection: config.asksPerConnection,
    asksPerSession: config.asksPerSession,
    unboundSessionStreaming: config.unboundSessionStreaming,
    textFlushMs: config.streamTextFlushMs,
    jsonFlushMs: config.streamJsonFlushMs,
    checkpointMs: config.streamCheckpointMs,
    kmsKeyArn: config.kmsKeyArn,
    accessLogging: config.streamingAccessLogs,
    executionLogging: config.executionLogging,
    apiGatewayCloudWatchRole: config.apiGatewayCloudWatchRole,
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
  };
}
