/**
 * QnaBot: the fulfillment function that answers questions with Amazon Bedrock (an LLM, or a
 * knowledge base through RetrieveAndGenerate), its conversation memory table, an HTTP API
 * `POST /ask` behind IAM auth, and (optionally) Lex V2's permission to call it as a code hook.
 * Given a StreamingComponent, it also streams answers over that component's WebSocket API.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { ENV } from "../functions/shared/env";
import { MEMORY_TABLE } from "../functions/shared/table";
import { askEndpoint, bedrockModel, checkBedrockModel, isInferenceProfile, knowledgeBaseArn, type AwsTarget } from "./arns";
import { withDefaults } from "./defaults";
import { functionEntry } from "./bundle";
import { nodeFunction } from "./function";
import { logWriteStatement, policyDocument, tableKeyStatement, type PolicyStatement } from "./iam";
import { METRICS_NAMESPACE, POWERTOOLS_ENV } from "./monitoring";
import type { StreamingComponent } from "./streaming";
import {
  GUARDRAIL_ENV,
  GUARDRAIL_ID_PATTERN,
  GUARDRAIL_STREAM_PROCESSING_MODES,
  GUARDRAIL_VERSION_PATTERN,
  guardrailIdOf,
  type GuardrailStreamProcessingMode,
} from "../functions/fulfillment/config";

export const QNA_DEFAULTS: Required<
  Pick<
    QnaBotArgs,
    | "llmModelId"
    | "memoryTurns"
    | "memoryTtlSeconds"
    | "logRetentionInDays"
    | "throttlingBurstLimit"
    | "throttlingRateLimit"
    | "tracing"
    | "memorySize"
    | "timeout"
  >
> = {
  llmModelId: "anthropic.claude-3-haiku-20240307-v1:0",
  memoryTurns: 5,
  memoryTtlSeconds: 86400,
  logRetentionInDays: 30,
  throttlingBurstLimit: 100,
  throttlingRateLimit: 50,
  tracing: false,
  memorySize: 512,
  // Long enough for a whole streamed answer: WebSocket asks run in an asynchronous
  // self-invocation, free of API Gateway's 29 s integration timeout.
  timeout: 120,
};

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
  /** Bedrock Guardrail applied to LLM and knowledge-base answers. @default none */
  readonly guardrail?: QnaGuardrail;
  /** Tags for every taggable resource. @default none */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
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

  constructor(name: string, args: QnaBotArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const settings = withDefaults(QNA_DEFAULTS, args);
    const kbModelId = args.knowledgeBaseModelId ?? settings.llmModelId;
    // Bad args fail before anything is registered.
    checkBedrockModel(settings.llmModelId);
    checkBedrockModel(kbModelId);
    if (args.guardrail) checkGuardrail(args.guardrail);
    super(QnaBot.TYPE, name, {}, opts);
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
    if (args.maxTokens !== undefined) environment[ENV.maxTokens] = String(args.maxTokens);
    if (args.temperature !== undefined) environment[ENV.temperature] = String(args.temperature);
    if (args.topP !== undefined) environment[ENV.topP] = String(args.topP);
    if (args.llmLambdaArn) environment[ENV.llmLambdaArn] = args.llmLambdaArn;
    if (args.streaming) {
      environment[ENV.streamingEndpoint] = args.streaming.managementEndpoint;
      environment[ENV.connectionsTable] = args.streaming.tableName;
      environment[ENV.connectionTtlSeconds] = String(args.streaming.connectionTtlSeconds);
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
        partition: partition.partition,
        tags: args.tags,
      },
      this,
    );
    const fn = fulfillment.function;

    const statements: PolicyStatement[] = [logWriteStatement(fulfillment.logGroup)];
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
    if (args.kmsKeyArn) statements.push(tableKeyStatement(args.kmsKeyArn, region));
    if (args.streaming) {
      // A retried hand-off would answer, and stream, the same question twice; a stale one
      // answers a user who has long moved on.
      new aws.lambda.FunctionEventInvokeConfig(
        `${name}-fulfillment-async`,
        { functionName: fn.name, maximumRetryAttempts: 0, maximumEventAgeInSeconds: ASYNC_ASK_MAX_AGE_SECONDS },
        parent,
      );
      statements.push({
        Sid: "HandOffWebSocketAsks",
        Effect: "Allow",
        // The `ask` route answers at once and streams from an asynchronous self-invocation.
        Action: ["lambda:InvokeFunction"],
        Resource: [fn.arn],
      });
    }
    if (args.llmLambdaArn) {
      statements.push({
        Sid: "InvokeCustomLlm",
        Effect: "Allow",
        Action: ["lambda:InvokeFunction"],
        Resource: [args.llmLambdaArn],
      });
    }
    new aws.iam.RolePolicy(
      `${name}-fulfillment-policy`,
      { role: fulfillment.role.name, policy: policyDocument(statements) },
      parent,
    );
    args.streaming?.grantStreaming(fulfillment.role);

    const api = new aws.apigatewayv2.Api(
      `${name}-http-api`,
      { protocolType: "HTTP", description: "QnA bot: POST /ask (IAM auth)", tags: args.tags },
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
    });
  }
}

