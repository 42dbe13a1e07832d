/**
 * StreamingComponent: the API Gateway V2 WebSocket API that streams answers to chat clients,
 * its connections table, the connection function behind `$connect` / `$disconnect` /
 * `$default`, a free `ping` keep-alive, and any extra routes an importing program adds.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { CONNECTION_FUNCTION_TABLE_ACTIONS, STREAMING_FUNCTION_TABLE_ACTIONS } from "../functions/shared/connections";
import { ENV } from "../functions/shared/env";
import { CONNECTION_ROUTE_KEYS, ROUTES, ROUTE_SELECTION_EXPRESSION, TWO_WAY_ROUTE_KEYS } from "../functions/shared/routes";
import { CONNECTIONS_TABLE } from "../functions/shared/table";
import { lambdaInvokeUri, managementEndpoint, webSocketEndpoint } from "./arns";
import { functionEntry } from "./bundle";
import { withDefaults } from "./defaults";
import { nodeFunction } from "./function";
import { logicalName, logWriteStatement, policyDocument, tableKeyStatement, tableStatement, type PolicyStatement } from "./iam";

/** Stage execution logging level. Anything but OFF needs the account's API Gateway CloudWatch role. */
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
};

/** A stage name API Gateway accepts (and that reads well in a URL). */
export const STAGE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Keys of extra routes: they also name resources, so they stay URL- and URN-safe. */
export const EXTRA_ROUTE_KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Routes the component always creates; `routes` may not redefine them. */
export const BUILT_IN_ROUTE_KEYS: readonly string[] = [...CONNECTION_ROUTE_KEYS, ROUTES.ping];

/** One row per request, as JSON, in the stage's access log group. */
export const WEBSOCKET_ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  requestTime: "$context.requestTime",
  eventType: "$context.eventType",
  routeKey: "$context.routeKey",
  status: "$context.status",
  connectionId: "$context.connectionId",
  sourceIp: "$context.identity.sourceIp",
  caller: "$context.identity.caller",
  userArn: "$context.identity.userArn",
  cognitoIdentityId: "$context.identity.cognitoIdentityId",
  integrationStatus: "$context.integrationStatus",
  integrationLatency: "$context.integrationLatency",
  integrationError: "$context.integrationErrorMessage",
  error: "$context.error.message",
});

/** An extra WebSocket route served by a Lambda function. */
export interface StreamingRoute {
  /** ARN of the Lambda function API Gateway invokes for the route (one-way: it answers through @connections). */
  readonly functionArn: pulumi.Input<string>;
}

export interface StreamingComponentArgs {
  /**
   * Extra routes, route key → function, e.g. `{ ask: { functionArn } }`. Keys match
   * `$request.body.action`; `$connect`, `$disconnect`, `$default` and `ping` are built in.
   * @default {}
   */
  readonly routes?: Readonly<Record<string, StreamingRoute>>;
  /** Stage name: the last path segment of the endpoint. @default "Prod" */
  readonly stageName?: string;
  /** Retention of every log group the component creates, in days. @default 30 */
  readonly logRetentionInDays?: number;
  /** Stage default route burst limit (requests). @default 100 */
  readonly throttlingBurstLimit?: number;
  /** Stage default route steady-state rate limit (requests per second). @default 50 */
  readonly throttlingRateLimit?: number;
  /** Seconds a connection row lives (DynamoDB TTL); API Gateway closes sockets after 2 hours. @default 7200 */
  readonly connectionTtlSeconds?: number;
  /** Customer managed KMS key for the connections table. @default the AWS managed key */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /**
   * JSON access logs of the stage to their own log group. On WebSocket APIs, API Gateway
   * writes them with the account's API Gateway CloudWatch role, which must be set in the
   * Region (`aws apigateway get-account`); the component never creates that role.
   * @default true
   */
  readonly accessLogging?: boolean;
  /** Stage execution logging; ERROR or INFO need the account's API Gateway CloudWatch role. @default "OFF" */
  readonly executionLogging?: ExecutionLogging;
  /** Active X-Ray tracing of the connection function. @default false */
  readonly tracing?: boolean;
  /** Runs the connection function in a VPC (it needs a route to DynamoDB). @default none */
  readonly vpcConfig?: pulumi.Input<aws.types.input.lambda.FunctionVpcConfig>;
  /** Connection function memory, MB. @default 128 */
  readonly memorySize?: number;
  /** Connection function timeout, seconds. @default 10 */
  readonly timeout?: number;
  /** Tags for every taggable resource. @default none */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

function sha256(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex");
}

export class StreamingComponent extends pulumi.ComponentResource {
  static readonly TYPE = "qnabot-streaming:index:StreamingComponent";

  /** WebSocket API id. */
  readonly apiId: pulumi.Output<string>;
  readonly stageName: pulumi.Output<string>;
  /** `wss://{apiId}.execute-api.{region}.amazonaws.com/{stage}`: what clients connect to. */
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
  /** What the connections table's TTL is set from; streaming functions get it too. */
  readonly connectionTtlSeconds: number;

  private readonly componentName: string;
  private readonly stage: string;
  private readonly region: pulumi.Output<string>;
  private readonly kmsKeyArn?: pulumi.Input<string>;
  private readonly grants = new Map<string, aws.iam.RolePolicy>();

  constructor(name: string, args: StreamingComponentArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const settings = withDefaults(STREAMING_DEFAULTS, args);
    const routes = args.routes ?? {};
    // Bad args fail before anything is registered.
    validateArgs(settings.stageName, routes);
    super(StreamingComponent.TYPE, name, {}, opts);
    const stageName = settings.stageName;
    const parent = { parent: this };

    const region = aws.getRegionOutput({}, parent).region;
    const partition = aws.getPartitionOutput({}, parent);

    const table = new aws.dynamodb.Table(
      `${name}-connections`,
      {
        billingMode: "PAY_PER_REQUEST",
        hashKey: CONNECTIONS_TABLE.hashKey,
        rangeKey: CONNECTIONS_TABLE.rangeKey,
        attributes: CONNECTIONS_TABLE.attributes.map((a) => ({ name: a.name, type: a.type })),
        globalSecondaryIndexes: [
          {
            name: CONNECTIONS_TABLE.connectionIndex.name,
            keySchemas: [{ attributeName: CONNECTIONS_TABLE.connectionIndex.hashKey, keyType: "HASH" }],
            projectionType: CONNECTIONS_TABLE.connectionIndex.projectionType,
          },
        ],
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
          POWERTOOLS_SERVICE_NAME: "qnabot-streaming-connection",
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
    if (args.kmsKeyArn) connectionStatements.push(tableKeyStatement(args.kmsKeyArn, region));
    new aws.iam.RolePolicy(
      `${name}-connection-policy`,
      { role: connection.role.name, policy: policyDocument(connectionStatements) },
      parent,
    );

    // Everything the deployment serves; its hash redeploys the stage whenever any of it changes.
    const definitions: pulumi.Input<unknown>[] = [];
    const served: pulumi.Resource[] = [];
    const integration = (resourceName: string, integrationArgs: aws.apigatewayv2.IntegrationArgs) => {
      definitions.push({ integration: resourceName, ...integrationArgs });
      const resource = new aws.apigatewayv2.Integration(resourceName, integrationArgs, parent);
      served.push(resource);
      return resource;
    };
    const route = (resourceName: string, routeKey: string, routeArgs: Omit<aws.apigatewayv2.RouteArgs, "routeKey">) => {
      // A two-way route sends the integration's result back to the client as a message.
      const twoWay = (TWO_WAY_ROUTE_KEYS as readonly string[]).includes(routeKey);
      const fullArgs: aws.apigatewayv2.RouteArgs = {
        ...routeArgs,
        routeKey,
        ...(twoWay ? { routeResponseSelectionExpression: "$default" } : {}),
      };
      definitions.push({ route: resourceName, ...fullArgs });
      const resource = new aws.apigatewayv2.Route(resourceName, fullArgs, parent);
      served.push(resource);
      if (twoWay) {
        const responseArgs: aws.apigatewayv2.RouteResponseArgs = {
          apiId: api.id,
          routeId: resource.id,
          routeResponseKey: "$default",
        };
        definitions.push({ routeResponse: `${resourceName}-response`, ...responseArgs });
        served.push(new aws.apigatewayv2.RouteResponse(`${resourceName}-response`, responseArgs, parent));
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

    const connectionIntegration = integration(`${name}-connection-integration`, {
      apiId: api.id,
      integrationType: "AWS_PROXY",
      integrationMethod: "POST",
      integrationUri: connection.function.invokeArn,
    });
    for (const routeKey of CONNECTION_ROUTE_KEYS) {
      const slug = routeKey.slice(1);
      route(`${name}-${slug}-route`, routeKey, {
        apiId: api.id,
        target: pulumi.interpolate`integrations/${connectionIntegration.id}`,
        // Only $connect can be authorized; later frames ride the authorized connection.
        ...(routeKey === ROUTES.connect ? { authorizationType: "AWS_IAM" } : {}),
      });
      invokePermission(`${name}-${slug}-permission`, connection.function.arn, routeKey);
    }

    // `ping` keeps idle sockets open; answered by API Gateway itself, it costs no invocation.
    const pingIntegration = integration(`${name}-ping-integration`, {
      apiId: api.id,
      integrationType: "MOCK",
      templateSelectionExpression: "200",
      requestTemplates: { "200": '{"statusCode":200}' },
    });
    route(`${name}-ping-route`, ROUTES.ping, {
      apiId: api.id,
      target: pulumi.interpolate`integrations/${pingIntegration.id}`,
    });

    for (const [routeKey, extra] of Object.entries(routes)) {
      const extraIntegration = integration(`${name}-route-${routeKey}-integration`, {
        apiId: api.id,
        integrationType: "AWS_PROXY",
        integrationMethod: "POST",
        integrationUri: pulumi
          .all([partition.partition, region, extra.functionArn])
          .apply(([p, r, arn]) => lambdaInvokeUri(p, r, arn)),
      });
      route(`${name}-route-${routeKey}`, routeKey, {
        apiId: api.id,
        target: pulumi.interpolate`integrations/${extraIntegration.id}`,
      });
      invokePermission(`${name}-route-${routeKey}-permission`, extra.functionArn, routeKey);
    }

    const deployment = new aws.apigatewayv2.Deployment(
      `${name}-deployment`,
      {
        apiId: api.id,
        description: "Routes and integrations of the streaming API",
        triggers: { definitions: pulumi.output(definitions).apply(sha256) },
      },
      { parent: this, dependsOn: served },
    );

    const accessLogGroup = settings.accessLogging
      ? new aws.cloudwatch.LogGroup(
          `${name}-access-logs`,
          { retentionInDays: settings.logRetentionInDays, tags: args.tags },
          parent,
        )
      : undefined;
    const stage = new aws.apigatewayv2.Stage(
      `${name}-stage`,
      {
        apiId: api.id,
        name: stageName,
        deploymentId: deployment.id,
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
        tags: args.tags,
      },
      parent,
    );

    this.componentName = name;
    this.stage = stageName;
    this.region = region;
    this.kmsKeyArn = args.kmsKeyArn;
    this.connectionTtlSeconds = settings.connectionTtlSeconds;
    this.apiId = api.id;
    this.stageName = stage.name;
    this.executionArn = api.executionArn;
    // Built from the configured stage name, not the Stage resource: the fulfillment function
    // needs the endpoint, and the stage's deployment needs that function's `ask` route.
    this.webSocketEndpoint = pulumi
      .all([api.id, region, partition.dnsSuffix])
      .apply(([id, r, suffix]) => webSocketEndpoint(id, r, suffix, stageName));
    this.managementEndpoint = pulumi
      .all([api.id, region, partition.dnsSuffix])
      .apply(([id, r, suffix]) => managementEndpoint(id, r, suffix, stageName));
    this.tableName = table.name;
    this.tableArn = table.arn;
    this.functionName = connection.function.name;
    this.functionArn = connection.function.arn;
    this.functionLogGroupName = connection.logGroup.name;
    this.accessLogGroupName = accessLogGroup?.name;

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
   * Lets `role` stream answers: post to any connection of this stage, and find, list and
   * remove connection rows (what the stream writer does). Idempotent per role.
   */
  grantStreaming(role: aws.iam.Role): aws.iam.RolePolicy {
    const statements: PolicyStatement[] = [
      {
        Sid: "PostToConnections",
        Effect: "Allow",
        Action: ["execute-api:ManageConnections"],
        Resource: [pulumi.interpolate`${this.executionArn}/${this.stage}/POST/@connections/*`],
      },
      tableStatement("ConnectionsTable", STREAMING_FUNCTION_TABLE_ACTIONS, this.tableArn),
    ];
    if (this.kmsKeyArn) statements.push(tableKeyStatement(this.kmsKeyArn, this.region));
    return this.grant("streaming", role, statements);
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

  private grant(kind: string, role: aws.iam.Role, statements: PolicyStatement[]): aws.iam.RolePolicy {
    const resourceName = `${this.componentName}-${kind}-${logicalName(role)}`;
    let policy = this.grants.get(resourceName);
    if (!policy) {
      policy = new aws.iam.RolePolicy(
        resourceName,
        { role: role.name, policy: policyDocument(statements) },
        { parent: this },
      );
      this.grants.set(resourceName, policy);
    }
    return policy;
  }
}

function validateArgs(stageName: string, routes: Readonly<Record<string, StreamingRoute>>): void {
  if (!STAGE_NAME_PATTERN.test(stageName)) {
    throw new Error(`stageName must be 1-128 characters of A-Z a-z 0-9 _ -; got ${JSON.stringify(stageName)}`);
  }
  for (const routeKey of Object.keys(routes)) {
    if (BUILT_IN_ROUTE_KEYS.includes(routeKey)) {
      throw new Error(`route ${routeKey} is built into StreamingComponent and cannot be redefined`);
    }
    if (!EXTRA_ROUTE_KEY_PATTERN.test(routeKey)) {
      throw new Error(`route key must be 1-64 characters of A-Z a-z 0-9 _ -; got ${JSON.stringify(routeKey)}`);
    }
  }
}
