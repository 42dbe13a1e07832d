/**
 * StreamingComponent: the API Gateway V2 WebSocket API that streams answers to chat clients,
 * its connections table, the connection function behind `$connect` / `$disconnect` /
 * `$default`, a free `ping` keep-alive, and any extra routes an importing program adds.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { DEFAULT_ASKS_PER_CONNECTION, DEFAULT_ASKS_PER_SESSION } from "../functions/shared/ask-ledger";
import { MAX_TOKEN_BUDGET_PER_DAY } from "../functions/fulfillment/token-budget";
import { MAX_FEEDBACK_TTL_DAYS } from "../functions/shared/feedback";
import { CONNECTION_FUNCTION_TABLE_ACTIONS, STREAMING_FUNCTION_TABLE_ACTIONS } from "../functions/shared/connections";
import { ENV } from "../functions/shared/env";
import { CONNECTION_ROUTE_KEYS, DEFAULT_ROUTE_THROTTLES, ROUTES, ROUTE_SELECTION_EXPRESSION, TWO_WAY_ROUTE_KEYS, type RouteThrottle, type ThrottledRouteKey } from "../functions/shared/routes";
import { CONNECTIONS_TABLE } from "../functions/shared/table";
import { DEFAULT_FLUSH_INTERVAL_MS } from "../functions/stream/writer";
import { lambdaInvokeUri, managementEndpoint, webSocketEndpoint } from "./arns";
import { functionEntry } from "./bundle";
import {
  API_GATEWAY_CLOUDWATCH_ROLE_MODES,
  apiGatewayCloudWatchRole,
  cloudWatchRoleNamePrefix,
  resolveCloudWatchRole,
  type ApiGatewayCloudWatchRole,
  type RegionCloudWatchRole,
} from "./cloudwatch-role";
import { withDefaults } from "./defaults";
import { checkDomain, customDomainEndpoint, streamingDomain, type StreamingDomain } from "./domain";
import { nodeFunction, type NodeFunction } from "./function";
import { logWriteStatement, policyDocument, tableKeyStatement, tableStatement, type PolicyStatement } from "./iam";
import { functionNameOfArn, METRICS_NAMESPACE, POWERTOOLS_ENV, streamingMonitoring, type MonitoredFunction } from "./monitoring";

/** API Gateway closes a WebSocket connection after 2 hours ("API Gateway quotas for WebSocket APIs"). */
export const API_GATEWAY_MAX_CONNECTION_SECONDS = 7200;
/**
 * Milliseconds between checkpoints of a resumable answer: the stream writer's own default
 * (functions/stream/writer.ts, functions/stream/aws.ts). The component always sets
 * STREAM_CHECKPOINT_MS, so a deployed function never relies on the code's default.
 */
export const DEFAULT_CHECKPOINT_MS = 1000;

/** Stage execution logging level. Anything but OFF needs the Region's API Gateway CloudWatch role. */
export type ExecutionLogging = "OFF" | "ERROR" | "INFO";
export const EXECUTION_LOGGING_LEVELS: readonly ExecutionLogging[] = ["OFF", "ERROR", "INFO"];

export const STREAMING_DEFAULTS: Required<
  Pick<
    StreamingComponentArgs,
    | "stageName"
    | "logRetentionInDays"
    | "throttlingBurstLimit"
    | "throttlingRateLimit"
    | "connectionTtlSeconds"
    | "accessLogging"
    | "executionLogging"
    | "tracing"
    | "memorySize"
    | "timeout"
    | "monitoring"
    | "asksPerConnection"
    | "asksPerSession"
    | "tokenBudgetPerDay"
    | "feedbackTtlDays"
    | "textFlushMs"
    | "jsonFlushMs"
    | "checkpointMs"
    | "unboundSessionStreaming"
  >
> = {
  stageName: "Prod",
  logRetentionInDays: 30,
  throttlingBurstLimit: 100,
  throttlingRateLimit: 50,
  connectionTtlSeconds: 7200,
  accessLogging: true,
  executionLogging: "OFF",
  tracing: false,
  memorySize: 128,
  timeout: 10,
  monitoring: false,
  asksPerConnection: DEFAULT_ASKS_PER_CONNECTION,
  asksPerSession: DEFAULT_ASKS_PER_SESSION,
  tokenBudgetPerDay: 0,
  feedbackTtlDays: 0,
  textFlushMs: DEFAULT_FLUSH_INTERVAL_MS.text,
  jsonFlushMs: DEFAULT_FLUSH_INTERVAL_MS.json,
  checkpointMs: DEFAULT_CHECKPOINT_MS,
  unboundSessionStreaming: false,
};

/**
 * Bounds of the settings the functions read from their environment (functions/shared/aws.ts
 * optionalIntEnv ranges in functions/stream/aws.ts and functions/fulfillment/wiring.ts): a value
 * outside them would fail every answer at run time, so the component refuses it at deploy time.
 * A connection row must outlive API Gateway's 2-hour connection limit, or an open socket loses
 * its row (and its session) while it may still be asked on.
 */
export const STREAMING_LIMITS = {
  connectionTtlSeconds: { min: API_GATEWAY_MAX_CONNECTION_SECONDS, max: 86_400 },
  asksPerConnection: { min: 1, max: 100 },
  asksPerSession: { min: 1, max: 1000 },
  tokenBudgetPerDay: { min: 0, max: MAX_TOKEN_BUDGET_PER_DAY },
  feedbackTtlDays: { min: 0, max: MAX_FEEDBACK_TTL_DAYS },
  textFlushMs: { min: 0, max: 60_000 },
  jsonFlushMs: { min: 0, max: 60_000 },
  checkpointMs: { min: 50, max: 60_000 },
} as const satisfies Partial<Record<keyof StreamingComponentArgs, { min: number; max: number }>>;

/** A stage name API Gateway accepts (and that reads well in a URL). */
export const STAGE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Keys of extra routes: they also name resources, so they stay URL- and URN-safe. */
export const EXTRA_ROUTE_KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Routes the component always creates; `routes` may not redefine them. */
export const BUILT_IN_ROUTE_KEYS: readonly string[] = [...CONNECTION_ROUTE_KEYS, ROUTES.ping];

/**
 * One row per request, as JSON, in the stage's access log group. Variable names from "Configure
 * logging for WebSocket APIs in API Gateway":
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html
 */
export const WEBSOCKET_ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  requestTime: "$context.requestTime",
  apiId: "$context.apiId",
  stage: "$context.stage",
  eventType: "$context.eventType",
  routeKey: "$context.routeKey",
  messageDirection: "$context.messageDirection",
  status: "$context.status",
  connectionId: "$context.connectionId",
  connectedAt: "$context.connectedAt",
  sourceIp: "$context.identity.sourceIp",
  caller: "$context.identity.caller",
  userArn: "$context.identity.userArn",
  cognitoIdentityId: "$context.identity.cognitoIdentityId",
  integrationStatus: "$context.integrationStatus",
  integrationLatency: "$context.integrationLatency",
  integrationError: "$context.integrationErrorMessage",
  error: "$context.error.message",
  validationError: "$context.error.validationErrorString",
  // IAM authorization of $connect (no Lambda authorizer here): `authorize`, not `authorizer`.
  authorizeStatus: "$context.authorize.status",
  authorizeError: "$context.authorize.error",
});

/** An extra route served by a Lambda function built elsewhere. */
export interface FunctionArnRoute {
  /**
   * ARN of the Lambda function API Gateway invokes for the route (one-way: it answers through
   * @connections). A function that needs this component's endpoint or table cannot exist
   * before the component: pass a `pulumi.deferredOutput` and resolve it with the function's
   * ARN, or use a handler route instead.
   */
  readonly functionArn: pulumi.Input<string>;
  /**
   * Names the function on the dashboard and in its alarms (`{component}-alarm-{label}-errors`)
   * when it does more than serve this route (QnaBot's fulfillment function also answers Lex
   * and POST /ask): 1-64 of `A-Z a-z 0-9 _ -`, not `connection` nor `route-…`.
   * @default `route-{routeKey}`
   */
  readonly label?: string;
}

/** An extra route whose function the component builds from a handler file, SST-style. */
export interface HandlerRoute {
  /**
   * The handler's entry file (TypeScript or JavaScript exporting `handler`), relative to the
   * program's working directory (the Pulumi project) or absolute. Bundled inline with esbuild;
   * its packages resolve from the nearest package.json above it.
   */
  readonly handler: string;
  /** MB. @default 512 */
  readonly memorySize?: number;
  /** Seconds. @default 30 */
  readonly timeout?: number;
  /**
   * Extra environment. The component sets STREAMING_ENDPOINT, CONNECTIONS_TABLE and
   * CONNECTION_TTL_SECONDS (what `qnabot-streaming/stream` reads) and the Powertools service
   * and namespace; these names cannot be overridden. @default none
   */
  readonly environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Extra IAM statements for the function's role (it can already stream and write its logs). @default none */
  readonly policyStatements?: readonly PolicyStatement[];
}

/** An extra WebSocket route: a handler file the component builds, or a function ARN. */
export type StreamingRoute = HandlerRoute | FunctionArnRoute;

export const HANDLER_ROUTE_DEFAULTS = { memorySize: 512, timeout: 30 } as const;

export interface StreamingComponentArgs {
  /**
   * Extra routes, route key → handler file or function, e.g. `{ ask: { handler: "src/ask.ts" } }`
   * or `{ ask: { functionArn } }`. Keys match `$request.body.action`; `$connect`,
   * `$disconnect`, `$default` and `ping` are built in. Removing or renaming one takes it off
   * the stage in the same `pulumi up` (the stage deploys automatically after every change).
   * @default {}
   */
  readonly routes?: Readonly<Record<string, StreamingRoute>>;
  /** Stage name: the last path segment of the execute-api endpoint. @default "Prod" */
  readonly stageName?: string;
  /** Retention of every log group the component creates, in days. @default 30 */
  readonly logRetentionInDays?: number;
  /** Stage default route burst limit (requests). @default 100 */
  readonly throttlingBurstLimit?: number;
  /** Stage default route steady-state rate limit (requests per second). @default 50 */
  readonly throttlingRateLimit?: number;
  /**
   * Route-level throttles (the stage's `routeSettings`): `ping` and `$default` each get a token
   * bucket of their own, so one socket's keep-alives or stray frames cannot spend the budget
   * `$connect` and `ask` draw on (`throttlingRateLimit` / `throttlingBurstLimit`). A route
   * given here replaces the default for that route; the other keeps its default.
   * @default { ping: { rateLimit: 10, burstLimit: 20 }, $default: { rateLimit: 5, burstLimit: 10 } }
   */
  readonly routeThrottling?: Readonly<Partial<Record<ThrottledRouteKey, RouteThrottle>>>;
  /**
   * Seconds a connection row lives (DynamoDB TTL), 7200 to 86400. API Gateway closes sockets
   * after 2 hours, so a row may never expire sooner: its socket could still be open, and would
   * lose its answers and its session. @default 7200
   */
  readonly connectionTtlSeconds?: number;
  /**
   * Fair use: asks one WebSocket connection may have in flight (1-100); more are answered at
   * once with a retryable `busy` error. QnaBot sets it as ASKS_PER_CONNECTION (`askLimits`).
   * @default 2
   */
  readonly asksPerConnection?: number;
  /**
   * Fair use: asks one session may have in flight over all its connections and doors
   * (1-1000). Set as ASKS_PER_SESSION. @default 4
   */
  readonly asksPerSession?: number;
  /**
   * Cost control: tokens (input, output, cache reads and writes, as Bedrock reports them) one
   * asker may spend per UTC day, 0 to 1,000,000,000; the asker is its principal, or its session
   * on the Lex door, which carries no identity. An asker over budget is refused before the
   * model is called, with a `budget` error (Lex: a polite answer). The daily tally lives in
   * this component's table (items `#tokens#{day}#{asker}`, a DynamoDB write per answer). QnaBot
   * sets it as TOKEN_BUDGET_PER_DAY (`tokenBudgetPerDay`). 0 turns budgets off: tokens are
   * still metered as metrics, nobody is refused. @default 0
   */
  readonly tokenBudgetPerDay?: number;
  /**
   * Feedback: days, 0 to 3650, an answer's feedback record lives in this component's table
   * (items `#feedback#{session}#{requestId}#{principal}`: question, answer, model, sources,
   * then the rating and comment), counted from the answer's end and again from each rating.
   * Each answer whose asker is known (not the Lex door's) costs one DynamoDB write at its end.
   * Only the asker can rate an answer (the WebSocket `feedback` action, HTTP `POST /feedback`).
   * QnaBot sets it as FEEDBACK_TTL_DAYS (`feedbackTtlDays`). 0 keeps no feedback: nothing is
   * recorded and every rating is refused. @default 0
   */
  readonly feedbackTtlDays?: number;
  /**
   * Frame budget of `format=text` connections (Lex Web UI): minimum milliseconds between two
   * posts to one connection, 0-60000 (0 = as fast as posts return). Set as STREAM_TEXT_FLUSH_MS.
   * @default 150
   */
  readonly textFlushMs?: number;
  /** Frame budget of `format=json` connections, 0-60000. Set as STREAM_JSON_FLUSH_MS. @default 120 (the writer's DEFAULT_FLUSH_INTERVAL_MS.json) */
  readonly jsonFlushMs?: number;
  /**
   * Milliseconds between checkpoints of a resumable answer (50-60000): how long a client that
   * resumed or cancelled waits at most for the writer to notice; each checkpoint is one
   * DynamoDB UpdateItem per answer. Set as STREAM_CHECKPOINT_MS. @default 1000
   */
  readonly checkpointMs?: number;
  /**
   * Stream Lex answers to, and keep Lex conversation memory for, session ids that are not bound
   * to an identity: stock Lex Web UI guests' `lex-web-ui-` + 4 random hex digits (65,536 values).
   * Lex passes the code hook no caller identity and lets any guest ask under any session id,
   * so with this on, whoever alone holds a connection on such an id receives the text of every
   * Lex answer asked under it, and anyone who asks Lex under the id is answered with its
   * holder's Lex memory (docs/reliability-and-security.md lists who can read what, and the
   * residual risks). Off, guests still get every final answer from Lex, unstreamed; users
   * whose session id is their Cognito identity id (Lex Web UI logged in through the user pool)
   * stream either way, as do the WebSocket `ask`, `POST /ask` and the HTTP door. Set as
   * UNBOUND_SESSION_STREAMING on the connection function and every streaming function.
   * @default false
   */
  readonly unboundSessionStreaming?: boolean;
  /** Customer managed KMS key for the connections table. @default the AWS managed key */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /**
   * The Region's API Gateway CloudWatch role, which WebSocket stage logging needs:
   * `auto` (`create` unless the Region already has another role; needs
   * `regionCloudWatchRole`), `create` (a role and the account setting, both kept on destroy:
   * this repoints a setting other stacks may rely on), `existing` (the Region already has
   * one) or `none` (access logs and execution logging off). Nothing is created when the stage
   * logs nothing. @default "create"
   */
  readonly apiGatewayCloudWatchRole?: ApiGatewayCloudWatchRole;
  /**
   * The Region's current setting, read before the program builds
   * (`await readRegionCloudWatchRole({ region })`): what `auto` decides on. @default none
   */
  readonly regionCloudWatchRole?: RegionCloudWatchRole;
  /** JSON access logs of the stage to `/aws/apigateway/{apiId}/{stage}`. @default true, false with apiGatewayCloudWatchRole "none" */
  readonly accessLogging?: boolean;
  /** Stage execution logging (to API Gateway's own `API-Gateway-Execution-Logs_{apiId}/{stage}`). @default "OFF" */
  readonly executionLogging?: ExecutionLogging;
  /** Active X-Ray tracing of the component's functions. @default false */
  readonly tracing?: boolean;
  /** Runs the connection function in a VPC (it needs a route to DynamoDB). @default none */
  readonly vpcConfig?: pulumi.Input<aws.types.input.lambda.FunctionVpcConfig>;
  /** Connection function memory, MB. @default 128 */
  readonly memorySize?: number;
  /** Connection function timeout, seconds. @default 10 */
  readonly timeout?: number;
  /**
   * A custom domain: `webSocketEndpoint` becomes `wss://{name}[/{basePath}]`; @connections
   * calls keep using the execute-api endpoint. @default the execute-api endpoint only
   */
  readonly domain?: StreamingDomain;
  /** A CloudWatch dashboard and alarms for the API and its functions. @default false */
  readonly monitoring?: boolean;
  /** SNS topic the alarms notify; needs `monitoring`. @default alarms notify nobody */
  readonly alarmTopicArn?: pulumi.Input<string>;
  /**
   * More functions to chart and alarm on with `monitoring`, key → function name: functions that
   * stream through this component without serving one of its routes (QnaBot's streaming HTTP
   * door). Keys: 1-64 of `A-Z a-z 0-9 _ -`, not `connection` nor `route-…`; alarms are named
   * `{component}-alarm-{key}-errors` / `-throttles`. A function created after the component
   * passes a `pulumi.deferredOutput`. Needs `monitoring`. @default none
   */
  readonly monitoredFunctions?: Readonly<Record<string, pulumi.Input<string>>>;
  /** Tags for every taggable resource. @default none */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Environment the component sets on a handler route's function; a route's own environment may not name these. */
export const RESERVED_ROUTE_ENVIRONMENT: readonly string[] = [
  ENV.streamingEndpoint,
  ENV.connectionsTable,
  ENV.connectionTtlSeconds,
  ENV.streamTextFlushMs,
  ENV.streamJsonFlushMs,
  ENV.streamCheckpointMs,
  ENV.unboundSessionStreaming,
  POWERTOOLS_ENV.namespace,
  POWERTOOLS_ENV.service,
];

export function isHandlerRoute(route: StreamingRoute): route is HandlerRoute {
  return typeof (route as HandlerRoute).handler === "string";
}

export class StreamingComponent extends pulumi.ComponentResource {
  static readonly TYPE = "qnabot-streaming:index:StreamingComponent";

  /** WebSocket API id. */
  readonly apiId: pulumi.Output<string>;
  readonly stageName: pulumi.Output<string>;
  /**
   * What clients connect to (and sign): `wss://{apiId}.execute-api.{region}.amazonaws.com/{stage}`,
   * or `wss://{domain}[/{basePath}]` with a custom domain.
   */
  readonly webSocketEndpoint: pulumi.Output<string>;
  /** `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`: the @connections API's base URL. */
  readonly managementEndpoint: pulumi.Output<string>;
  /** `arn:{partition}:execute-api:{region}:{account}:{apiId}`. */
  readonly executionArn: pulumi.Output<string>;
  readonly tableName: pulumi.Output<string>;
  readonly tableArn: pulumi.Output<string>;
  /** The connection function. */
  readonly functionName: pulumi.Output<string>;
  readonly functionArn: pulumi.Output<string>;
  readonly functionLogGroupName: pulumi.Output<string>;
  /** Set when access logging is on. */
  readonly accessLogGroupName?: pulumi.Output<string>;
  /** The functions of handler routes, by route key. */
  readonly routeFunctions: Readonly<Record<string, NodeFunction>>;
  /** What the connections table's TTL is set from; streaming functions get it too. */
  readonly connectionTtlSeconds: number;
  /**
   * What the stream library (`qnabot-streaming/stream`) reads in every function that streams
   * through this component: STREAMING_ENDPOINT, CONNECTIONS_TABLE, CONNECTION_TTL_SECONDS, the
   * frame budget, the checkpoint interval and UNBOUND_SESSION_STREAMING. Handler routes get it; give it to a function of
   * your own (QnaBot does) together with `grantStreaming`.
   */
  readonly streamingEnvironment: Readonly<Record<string, pulumi.Input<string>>>;
  /**
   * Fair use: the asks in flight a connection and a session may have. The ask ledger (in this
   * component's table) enforces them in the functions that admit asks: QnaBot sets them as
   * ASKS_PER_CONNECTION and ASKS_PER_SESSION on its functions.
   */
  readonly askLimits: { readonly perConnection: number; readonly perSession: number };
  /** Cost control: tokens one asker may spend per UTC day; 0: off. QnaBot sets it as TOKEN_BUDGET_PER_DAY. */
  readonly tokenBudgetPerDay: number;
  /** Feedback: days a feedback record lives; 0: no feedback kept. QnaBot sets it as FEEDBACK_TTL_DAYS. */
  readonly feedbackTtlDays: number;

  private readonly componentName: string;
  private readonly stage: string;
  private readonly region: pulumi.Output<string>;
  /** The partition's DNS suffix (`amazonaws.com`, `amazonaws.com.cn` …). */
  private readonly dnsSuffix: pulumi.Output<string>;
  private readonly kmsKeyArn?: pulumi.Input<string>;
  /** One policy per grant kind and role resource (a resource object is one URN). */
  private readonly grants = new Map<string, Map<aws.iam.Role, aws.iam.RolePolicy>>();

  constructor(name: string, args: StreamingComponentArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const cloudWatchRole = args.apiGatewayCloudWatchRole ?? "create";
    const settings = withDefaults({ ...STREAMING_DEFAULTS, accessLogging: cloudWatchRole !== "none" }, args);
    const routes = args.routes ?? {};
    const routeThrottling: Readonly<Record<string, RouteThrottle>> = { ...DEFAULT_ROUTE_THROTTLES, ...args.routeThrottling };
    // Bad args fail before anything is registered.
    validateArgs(args, settings, routes, cloudWatchRole);
    const roleNamePrefix = cloudWatchRoleNamePrefix(pulumi.getProject(), pulumi.getStack(), name);
    const roleAction = resolveCloudWatchRole(
      cloudWatchRole,
      settings.accessLogging || settings.executionLogging !== "OFF",
      args.regionCloudWatchRole,
      roleNamePrefix,
    );
    const handlerEntries = Object.fromEntries(
      Object.entries(routes)
        .filter((entry): entry is [string, HandlerRoute] => isHandlerRoute(entry[1]))
        .map(([routeKey, route]) => [routeKey, handlerEntry(routeKey, route.handler)]),
    );
    super(StreamingComponent.TYPE, name, {}, opts);
    const stageName = settings.stageName;
    const parent = { parent: this };

    const region = aws.getRegionOutput({}, parent).region;
    const partition = aws.getPartitionOutput({}, parent);

    // Named by Pulumi (random suffix): a key-schema change replaces the table create-before-delete
    // without a name clash.
    const table = new aws.dynamodb.Table(
      `${name}-connections`,
      {
        billingMode: "PAY_PER_REQUEST",
        hashKey: CONNECTIONS_TABLE.hashKey,
        attributes: CONNECTIONS_TABLE.attributes.map((a) => ({ name: a.name, type: a.type })),
        ttl: { attributeName: CONNECTIONS_TABLE.ttlAttribute, enabled: true },
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: { enabled: true, kmsKeyArn: args.kmsKeyArn },
        tags: args.tags,
      },
      parent,
    );

    const api = new aws.apigatewayv2.Api(
      `${name}-api`,
      {
        protocolType: "WEBSOCKET",
        routeSelectionExpression: ROUTE_SELECTION_EXPRESSION,
        description: "Streams QnA answers to chat clients",
        tags: args.tags,
      },
      parent,
    );
    const managementUrl = pulumi
      .all([api.id, region, partition.dnsSuffix])
      .apply(([id, r, suffix]) => managementEndpoint(id, r, suffix, stageName));
    const streamingEnvironment: Record<string, pulumi.Input<string>> = {
      [ENV.streamingEndpoint]: managementUrl,
      [ENV.connectionsTable]: table.name,
      [ENV.connectionTtlSeconds]: String(settings.connectionTtlSeconds),
      [ENV.streamTextFlushMs]: String(settings.textFlushMs),
      [ENV.streamJsonFlushMs]: String(settings.jsonFlushMs),
      [ENV.streamCheckpointMs]: String(settings.checkpointMs),
      [ENV.unboundSessionStreaming]: String(settings.unboundSessionStreaming),
    };

    const connection = nodeFunction(
      `${name}-connection`,
      {
        entry: functionEntry("connection"),
        description: "WebSocket $connect, $disconnect and $default",
        memorySize: settings.memorySize,
        timeout: settings.timeout,
        environment: {
          [ENV.connectionsTable]: table.name,
          [ENV.connectionTtlSeconds]: String(settings.connectionTtlSeconds),
          [ENV.unboundSessionStreaming]: String(settings.unboundSessionStreaming),
          [POWERTOOLS_ENV.service]: "qnabot-streaming-connection",
          [POWERTOOLS_ENV.namespace]: METRICS_NAMESPACE,
        },
        logRetentionInDays: settings.logRetentionInDays,
        tracing: settings.tracing,
        vpcConfig: args.vpcConfig,
        partition: partition.partition,
        tags: args.tags,
      },
      this,
    );
    const connectionStatements: PolicyStatement[] = [
      logWriteStatement(connection.logGroup),
      tableStatement("ConnectionsTable", CONNECTION_FUNCTION_TABLE_ACTIONS, table.arn),
    ];
    if (args.kmsKeyArn) connectionStatements.push(tableKeyStatement(args.kmsKeyArn, region, partition.dnsSuffix));
    new aws.iam.RolePolicy(
      `${name}-connection-policy`,
      { role: connection.role.name, policy: policyDocument(connectionStatements) },
      parent,
    );

    this.componentName = name;
    this.stage = stageName;
    this.region = region;
    this.dnsSuffix = partition.dnsSuffix;
    this.kmsKeyArn = args.kmsKeyArn;
    this.executionArn = api.executionArn;
    this.tableArn = table.arn;

    // Stage logging needs the Region's CloudWatch role; when this stack creates it, the stage waits for it.
    const account =
      roleAction === "create" ? apiGatewayCloudWatchRole(name, partition.partition, roleNamePrefix, this, args.tags) : undefined;
    const accessLogGroup = settings.accessLogging
      ? new aws.cloudwatch.LogGroup(
          `${name}-access-logs`,
          {
            name: pulumi.interpolate`/aws/apigateway/${api.id}/${stageName}`,
            retentionInDays: settings.logRetentionInDays,
            tags: args.tags,
          },
          parent,
        )
      : undefined;
    // API Gateway would create this group itself, without a retention.
    const executionLogGroup =
      settings.executionLogging !== "OFF"
        ? new aws.cloudwatch.LogGroup(
            `${name}-execution-logs`,
            {
              name: pulumi.interpolate`API-Gateway-Execution-Logs_${api.id}/${stageName}`,
              retentionInDays: settings.logRetentionInDays,
              tags: args.tags,
            },
            parent,
          )
        : undefined;
    // Every integration names the stage: renaming the stage replaces it (a new, empty stage on an
    // API whose routes already exist) and updates every integration, an update of the API that
    // auto-deploy deploys ("Whether updates to an API automatically trigger a new deployment",
    // AWS::ApiGatewayV2::Stage AutoDeploy). The integrations of `routes` are updated after the new
    // stage exists; the built-in ones before it, since its route settings need their routes.
    const integration = (resourceName: string, integrationArgs: aws.apigatewayv2.IntegrationArgs, options: pulumi.CustomResourceOptions) =>
      new aws.apigatewayv2.Integration(resourceName, { ...integrationArgs, description: `Deployed to stage ${stageName}` }, options);
    const route = (resourceName: string, routeKey: string, routeArgs: Omit<aws.apigatewayv2.RouteArgs, "routeKey">, options: pulumi.CustomResourceOptions) => {
      // A two-way route sends the integration's result back to the client as a message.
      const twoWay = (TWO_WAY_ROUTE_KEYS as readonly string[]).includes(routeKey);
      const resource = new aws.apigatewayv2.Route(
        resourceName,
        {
          ...routeArgs,
          routeKey,
          // Names the route in API Gateway's logs and console.
          operationName: operationName(routeKey),
          ...(twoWay ? { routeResponseSelectionExpression: "$default" } : {}),
        },
        options,
      );
      if (twoWay) {
        new aws.apigatewayv2.RouteResponse(
          `${resourceName}-response`,
          { apiId: api.id, routeId: resource.id, routeResponseKey: "$default" },
          options,
        );
      }
      return resource;
    };
    const invokePermission = (resourceName: string, functionArn: pulumi.Input<string>, routeKey: string) =>
      new aws.lambda.Permission(
        resourceName,
        {
          action: "lambda:InvokeFunction",
          function: functionArn,
          principal: "apigateway.amazonaws.com",
          sourceArn: pulumi.interpolate`${api.executionArn}/${stageName}/${routeKey}`,
        },
        parent,
      );

    // The built-in routes exist before the stage: its route settings name `ping` and
    // `$default`, and API Gateway refuses route settings for a route it cannot find
    // ("NotFoundException: Unable to find Route by key"); the stage's auto-deploy serves them.
    const connectionIntegration = integration(
      `${name}-connection-integration`,
      { apiId: api.id, integrationType: "AWS_PROXY", integrationMethod: "POST", integrationUri: connection.function.invokeArn },
      parent,
    );
    const builtInRoutes: aws.apigatewayv2.Route[] = [];
    for (const routeKey of CONNECTION_ROUTE_KEYS) {
      const slug = routeKey.slice(1);
      builtInRoutes.push(
        route(
          `${name}-${slug}-route`,
          routeKey,
          {
            apiId: api.id,
            target: pulumi.interpolate`integrations/${connectionIntegration.id}`,
            // Only $connect can be authorized; later frames ride the authorized connection.
            ...(routeKey === ROUTES.connect ? { authorizationType: "AWS_IAM" } : {}),
          },
          parent,
        ),
      );
      invokePermission(`${name}-${slug}-permission`, connection.function.arn, routeKey);
    }

    // `ping` keeps idle sockets open; answered by API Gateway itself, it costs no invocation.
    const pingIntegration = integration(
      `${name}-ping-integration`,
      { apiId: api.id, integrationType: "MOCK", templateSelectionExpression: "200", requestTemplates: { "200": '{"statusCode":200}' } },
      parent,
    );
    builtInRoutes.push(route(`${name}-ping-route`, ROUTES.ping, { apiId: api.id, target: pulumi.interpolate`integrations/${pingIntegration.id}` }, parent));

    // Deploys automatically after every change to the API's routes and integrations, removals
    // included: a removed or renamed route leaves the stage when Pulumi deletes it, whatever
    // the order of the update's steps (a Deployment resource would be created before Pulumi
    // deletes the removed route, and keep serving it).
    const stage = new aws.apigatewayv2.Stage(
      `${name}-stage`,
      {
        apiId: api.id,
        name: stageName,
        autoDeploy: true,
        accessLogSettings: accessLogGroup
          ? { destinationArn: accessLogGroup.arn, format: WEBSOCKET_ACCESS_LOG_FORMAT }
          : undefined,
        defaultRouteSettings: {
          throttlingBurstLimit: settings.throttlingBurstLimit,
          throttlingRateLimit: settings.throttlingRateLimit,
          loggingLevel: settings.executionLogging,
          // Full message bodies would put questions and answers in the logs.
          dataTraceEnabled: false,
        },
        // A route's settings replace the defaults whole, so logging is repeated here.
        routeSettings: Object.entries(routeThrottling).map(([routeKey, throttle]) => ({
          routeKey,
          throttlingBurstLimit: throttle.burstLimit,
          throttlingRateLimit: throttle.rateLimit,
          loggingLevel: settings.executionLogging,
          dataTraceEnabled: false,
        })),
        tags: args.tags,
      },
      { parent: this, dependsOn: [...(account ? [account] : []), ...(executionLogGroup ? [executionLogGroup] : []), ...builtInRoutes] },
    );
    // Routes and integrations added after the stage exists are each auto-deployed.
    const served = { parent: this, dependsOn: [stage] };

    const routeFunctions: Record<string, NodeFunction> = {};
    const monitored: MonitoredFunction[] = [{ key: "connection", functionName: connection.function.name }];
    const monitoredArns = new Set<pulumi.Input<string>>();
    for (const [routeKey, extra] of Object.entries(routes)) {
      let functionArn: pulumi.Input<string>;
      let functionName: () => pulumi.Input<string>;
      if (isHandlerRoute(extra)) {
        const fn = this.handlerFunction(`${name}-${routeKey}-handler`, routeKey, extra, handlerEntries[routeKey], {
          streamingEnvironment,
          settings,
          partition: partition.partition,
          tags: args.tags,
        });
        routeFunctions[routeKey] = fn;
        functionArn = fn.function.arn;
        functionName = () => fn.function.name;
      } else {
        const arn = extra.functionArn;
        functionArn = arn;
        functionName = () => pulumi.output(arn).apply(functionNameOfArn);
      }
      // Several routes may share one function (given the same ARN): it is monitored once. The
      // name is derived only then, so an ARN is parsed only when monitoring needs it.
      if (settings.monitoring && !monitoredArns.has(functionArn)) {
        const label = isHandlerRoute(extra) ? undefined : extra.label;
        monitored.push({ key: label ?? `route-${routeKey}`, functionName: functionName() });
      }
      monitoredArns.add(functionArn);
      const extraIntegration = integration(
        `${name}-route-${routeKey}-integration`,
        {
          apiId: api.id,
          integrationType: "AWS_PROXY",
          integrationMethod: "POST",
          integrationUri: pulumi.all([partition.partition, region, functionArn]).apply(([p, r, arn]) => lambdaInvokeUri(p, r, arn)),
        },
        served,
      );
      route(`${name}-route-${routeKey}`, routeKey, { apiId: api.id, target: pulumi.interpolate`integrations/${extraIntegration.id}` }, served);
      invokePermission(`${name}-route-${routeKey}-permission`, functionArn, routeKey);
    }

    for (const [key, functionName] of Object.entries(args.monitoredFunctions ?? {})) monitored.push({ key, functionName });

    const domain = args.domain ? streamingDomain(name, args.domain, { apiId: api.id, stage }, this, args.tags) : undefined;
    if (settings.monitoring) {
      streamingMonitoring(
        name,
        { apiId: api.id, stageName, region, functions: monitored, alarmTopicArn: args.alarmTopicArn, tags: args.tags },
        this,
      );
    }

    this.connectionTtlSeconds = settings.connectionTtlSeconds;
    this.streamingEnvironment = streamingEnvironment;
    this.askLimits = { perConnection: settings.asksPerConnection, perSession: settings.asksPerSession };
    this.tokenBudgetPerDay = settings.tokenBudgetPerDay;
    this.feedbackTtlDays = settings.feedbackTtlDays;
    this.apiId = api.id;
    this.stageName = stage.name;
    // From the configured stage name, not the Stage resource: a route function needs the
    // endpoint before the stage exists.
    const executeApiEndpoint = pulumi
      .all([api.id, region, partition.dnsSuffix])
      .apply(([id, r, suffix]) => webSocketEndpoint(id, r, suffix, stageName));
    this.webSocketEndpoint = args.domain && domain
      ? domain.domainName.apply(() => customDomainEndpoint(args.domain as StreamingDomain))
      : executeApiEndpoint;
    this.managementEndpoint = managementUrl;
    this.tableName = table.name;
    this.functionName = connection.function.name;
    this.functionArn = connection.function.arn;
    this.functionLogGroupName = connection.logGroup.name;
    this.accessLogGroupName = accessLogGroup?.name;
    this.routeFunctions = routeFunctions;

    this.registerOutputs({
      apiId: this.apiId,
      stageName: this.stageName,
      webSocketEndpoint: this.webSocketEndpoint,
      managementEndpoint: this.managementEndpoint,
      executionArn: this.executionArn,
      tableName: this.tableName,
      tableArn: this.tableArn,
      functionName: this.functionName,
      functionArn: this.functionArn,
      functionLogGroupName: this.functionLogGroupName,
      accessLogGroupName: this.accessLogGroupName,
    });
  }

  /**
   * Lets `role` stream answers: post to any connection of this stage and close one it gives up
   * on (DeleteConnection), and read and update the connections table as the stream writer and
   * the ask ledger do. Idempotent per role.
   */
  grantStreaming(role: aws.iam.Role): aws.iam.RolePolicy {
    return this.grant("streaming", role, this.streamingStatements());
  }

  /** Lets `role` (a chat client's) open a connection: `execute-api:Invoke` on `$connect`. Idempotent per role. */
  grantConnect(role: aws.iam.Role): aws.iam.RolePolicy {
    return this.grant("connect", role, [
      {
        Sid: "Connect",
        Effect: "Allow",
        Action: ["execute-api:Invoke"],
        Resource: [pulumi.interpolate`${this.executionArn}/${this.stage}/${ROUTES.connect}`],
      },
    ]);
  }

  private streamingStatements(): PolicyStatement[] {
    const statements: PolicyStatement[] = [
      {
        Sid: "ManageConnections",
        Effect: "Allow",
        Action: ["execute-api:ManageConnections"],
        // POST sends a frame; DELETE closes a json connection the writer gave up on, so its
        // client reconnects and resumes instead of waiting forever. GET is never needed.
        Resource: [
          pulumi.interpolate`${this.executionArn}/${this.stage}/POST/@connections/*`,
          pulumi.interpolate`${this.executionArn}/${this.stage}/DELETE/@connections/*`,
        ],
      },
      tableStatement("ConnectionsTable", STREAMING_FUNCTION_TABLE_ACTIONS, this.tableArn),
    ];
    if (this.kmsKeyArn) statements.push(tableKeyStatement(this.kmsKeyArn, this.region, this.dnsSuffix));
    return statements;
  }

  /**
   * Grants are keyed by the role resource itself, never by its logical name: two roles may
   * share a name under different parents. They are numbered per kind in the order of first
   * grant, so the names stay deterministic and never collide.
   */
  private grant(kind: string, role: aws.iam.Role, statements: PolicyStatement[]): aws.iam.RolePolicy {
    let byRole = this.grants.get(kind);
    if (!byRole) this.grants.set(kind, (byRole = new Map()));
    let policy = byRole.get(role);
    if (!policy) {
      policy = new aws.iam.RolePolicy(
        `${this.componentName}-${kind}-grant-${byRole.size + 1}`,
        { role: role.name, policy: policyDocument(statements) },
        { parent: this },
      );
      byRole.set(role, policy);
    }
    return policy;
  }

  private handlerFunction(
    resourceName: string,
    routeKey: string,
    route: HandlerRoute,
    entry: string,
    context: {
      streamingEnvironment: Readonly<Record<string, pulumi.Input<string>>>;
      settings: { logRetentionInDays: number; tracing: boolean };
      partition: pulumi.Input<string>;
      tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    },
  ): NodeFunction {
    const { streamingEnvironment, settings } = context;
    const fn = nodeFunction(
      resourceName,
      {
        entry,
        description: `WebSocket route ${routeKey}`,
        memorySize: route.memorySize ?? HANDLER_ROUTE_DEFAULTS.memorySize,
        timeout: route.timeout ?? HANDLER_ROUTE_DEFAULTS.timeout,
        environment: pulumi.all([route.environment ?? {}, streamingEnvironment]).apply(([own, streamingVariables]) => {
          // Checked again here: an environment given as an Output is known only now.
          checkRouteEnvironment(routeKey, Object.keys(own));
          return {
            ...own,
            ...streamingVariables,
            [POWERTOOLS_ENV.service]: `${this.componentName}-${routeKey}`,
            [POWERTOOLS_ENV.namespace]: METRICS_NAMESPACE,
          };
        }),
        logRetentionInDays: settings.logRetentionInDays,
        tracing: settings.tracing,
        partition: context.partition,
        tags: context.tags,
      },
      this,
    );
    new aws.iam.RolePolicy(
      `${resourceName}-policy`,
      {
        role: fn.role.name,
        policy: policyDocument([logWriteStatement(fn.logGroup), ...this.streamingStatements(), ...(route.policyStatements ?? [])]),
      },
      { parent: this },
    );
    return fn;
  }
}

function checkRouteEnvironment(routeKey: string, names: readonly string[]): void {
  const reserved = names.filter((key) => RESERVED_ROUTE_ENVIRONMENT.includes(key));
  if (reserved.length > 0) {
    throw new Error(`route ${routeKey}: environment may not set ${reserved.join(", ")} (the component sets them)`);
  }
}

/** API Gateway's operation name for a route key (`$connect` → `connect`). */
function operationName(routeKey: string): string {
  return routeKey.replace(/^\$/, "");
}

/** The absolute entry of a handler route; throws when the file does not exist. */
function handlerEntry(routeKey: string, handler: string): string {
  const entry = path.resolve(handler);
  if (!fs.existsSync(entry)) {
    throw new Error(`route ${routeKey}: handler file not found: ${entry} (paths are relative to ${process.cwd()})`);
  }
  return entry;
}

function validateArgs(
  args: StreamingComponentArgs,
  settings: typeof STREAMING_DEFAULTS,
  routes: Readonly<Record<string, StreamingRoute>>,
  cloudWatchRole: ApiGatewayCloudWatchRole,
): void {
  const stageName = settings.stageName;
  for (const [key, { min, max }] of Object.entries(STREAMING_LIMITS)) {
    const value = settings[key as keyof typeof STREAMING_LIMITS];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      const why =
        key === "connectionTtlSeconds"
          ? ` (API Gateway keeps a connection open up to ${API_GATEWAY_MAX_CONNECTION_SECONDS} s; a row must not expire before its socket closes)`
          : "";
      throw new Error(`${key} must be an integer from ${min} to ${max}${why}; got ${JSON.stringify(value)}`);
    }
  }
  if (!STAGE_NAME_PATTERN.test(stageName)) {
    throw new Error(`stageName must be 1-128 characters of A-Z a-z 0-9 _ -; got ${JSON.stringify(stageName)}`);
  }
  if (!API_GATEWAY_CLOUDWATCH_ROLE_MODES.includes(cloudWatchRole)) {
    throw new Error(`apiGatewayCloudWatchRole must be one of ${API_GATEWAY_CLOUDWATCH_ROLE_MODES.join(", ")}; got ${JSON.stringify(cloudWatchRole)}`);
  }
  if (cloudWatchRole === "none" && (args.accessLogging === true || (args.executionLogging ?? "OFF") !== "OFF")) {
    throw new Error(
      'apiGatewayCloudWatchRole "none" cannot log: API Gateway writes WebSocket access and execution logs with the Region\'s CloudWatch role (set accessLogging false and executionLogging "OFF", or use "create" or "existing")',
    );
  }
  for (const [routeKey, throttle] of Object.entries(args.routeThrottling ?? {})) {
    if (!(Object.keys(DEFAULT_ROUTE_THROTTLES) as string[]).includes(routeKey)) {
      throw new Error(`routeThrottling names ${JSON.stringify(routeKey)}; only ${Object.keys(DEFAULT_ROUTE_THROTTLES).join(" and ")} have a throttle of their own`);
    }
    const { rateLimit, burstLimit } = throttle ?? {};
    if (!(typeof rateLimit === "number" && Number.isFinite(rateLimit) && rateLimit > 0) || !(Number.isSafeInteger(burstLimit) && (burstLimit as number) >= 1)) {
      throw new Error(`routeThrottling.${routeKey} must be { rateLimit: a positive number, burstLimit: a whole number of at least 1 }; got ${JSON.stringify(throttle)}`);
    }
  }
  if (args.alarmTopicArn !== undefined && !args.monitoring) {
    throw new Error("alarmTopicArn needs monitoring: true");
  }
  if (args.monitoredFunctions !== undefined && !args.monitoring) {
    throw new Error("monitoredFunctions needs monitoring: true");
  }
  const labels = [
    ...Object.keys(args.monitoredFunctions ?? {}).map((key) => ["monitoredFunctions key", key]),
    ...Object.entries(routes).flatMap(([routeKey, route]) =>
      !isHandlerRoute(route) && route.label !== undefined ? [[`routes.${routeKey}.label`, route.label]] : [],
    ),
  ];
  for (const [what, key] of labels) {
    if (!EXTRA_ROUTE_KEY_PATTERN.test(key) || key === "connection" || key.startsWith("route-")) {
      throw new Error(`${what} must be 1-64 characters of A-Z a-z 0-9 _ -, not "connection" nor "route-…"; got ${JSON.stringify(key)}`);
    }
  }
  if (args.domain) checkDomain(args.domain);
  for (const [routeKey, route] of Object.entries(routes)) {
    if (BUILT_IN_ROUTE_KEYS.includes(routeKey)) {
      throw new Error(`route ${routeKey} is built into StreamingComponent and cannot be redefined`);
    }
    if (!EXTRA_ROUTE_KEY_PATTERN.test(routeKey)) {
      throw new Error(`route key must be 1-64 characters of A-Z a-z 0-9 _ -; got ${JSON.stringify(routeKey)}`);
    }
    const kinds = ["handler" in route, "functionArn" in route].filter(Boolean).length;
    if (kinds !== 1) throw new Error(`route ${routeKey} needs exactly one of handler or functionArn`);
    const environment = isHandlerRoute(route) ? route.environment : undefined;
    if (environment && !pulumi.Output.isInstance(environment)) checkRouteEnvironment(routeKey, Object.keys(environment));
  }
}
