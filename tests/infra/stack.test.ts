import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { CONNECTION_FUNCTION_TABLE_ACTIONS, STREAMING_FUNCTION_TABLE_ACTIONS } from "../../functions/shared/connections";
import { ENV } from "../../functions/shared/env";
import { FULFILLMENT_ROUTE_KEYS, ROUTE_SELECTION_EXPRESSION } from "../../functions/shared/routes";
import { CONNECTIONS_TABLE, MEMORY_TABLE } from "../../functions/shared/table";
import { BUNDLE_FILE } from "../../components/bundle";
import { tableKeyStatement } from "../../components/iam";
import { METRICS_NAMESPACE } from "../../components/monitoring";
import { GUARDRAIL_ENV, loadOutputPolicy } from "../../functions/fulfillment/config";
import { loadModelTier } from "../../functions/fulfillment/model-tier-config";
import { parseStackConfig, type ConfigKey } from "../../components/config";
import { createStack, type StackOutputs } from "../../components/stack";
import { DEFAULT_ASKS_PER_CONNECTION, DEFAULT_ASKS_PER_SESSION } from "../../functions/shared/ask-ledger";
import { parseModelParameters } from "../../functions/fulfillment/hook";
import { DEFAULT_FLUSH_INTERVAL_MS } from "../../functions/stream/writer";
import { evaluate } from "../reliability/iam-eval";
import { expectLambdaTrust, expectNamedResources, statementsOf } from "./iam";
import {
  ACCOUNT,
  installMocks,
  MOCK_ARNS,
  policyOf,
  REGION,
  registrationsSettled,
  settle,
  TYPES,
  valueOf,
  type RecordedResource,
  type Recorder,
} from "./mocks";

/** A fresh account's Region: no API Gateway CloudWatch role set (what `auto` reads before building). */
const FRESH_REGION = {};

const STREAMING_OUTPUTS = [
  "StreamingWebSocketEndpoint",
  "StreamingWebSocketApiId",
  "StreamingDynamoDbTable",
  "StreamingDynamoDbTableArn",
  "StreamingLambdaArn",
  "StreamingHttpEndpoint",
] as const;

/** The Lex Web UI outputs (lexBot create, cognitoIdentityPool on: the defaults). */
const BOT_OUTPUTS = ["LexV2BotId", "LexV2BotAliasId", "LexV2BotLocaleId", "LexV2BotAliasArn", "CognitoIdentityPoolId", "Region"] as const;

/** The bot's and the web clients' resources, with streaming on or off. */
const BOT_RESOURCES: Record<string, string[]> = {
  [TYPES.lexBot]: ["lex-bot"],
  [TYPES.lexBotVersion]: ["lex-version"],
  [TYPES.lexBotAlias]: ["lex-alias"],
  [TYPES.identityPool]: ["web-pool"],
  [TYPES.identityPoolRoles]: ["web-roles"],
};

/** Every AWS resource the stack creates with streaming on, by type. */
const STREAMING_ON_RESOURCES: Record<string, string[]> = {
  [TYPES.api]: ["qnabot-http-api", "streaming-api"],
  [TYPES.table]: ["qnabot-memory", "streaming-connections"],
  [TYPES.logGroup]: [
    "qnabot-fulfillment-logs",
    "qnabot-http-access-logs",
    "qnabot-streaming-http-logs",
    "streaming-access-logs",
    "streaming-connection-logs",
  ],
  [TYPES.role]: [
    "lex-role",
    "qnabot-fulfillment-role",
    "qnabot-streaming-http-role",
    "streaming-apigateway-cloudwatch-role",
    "streaming-connection-role",
    "web-guest-role",
  ],
  [TYPES.attachment]: ["streaming-apigateway-cloudwatch-policy"],
  [TYPES.apiGatewayAccount]: ["streaming-apigateway-account"],
  [TYPES.rolePolicy]: [
    "lex-role-policy",
    "qnabot-fulfillment-policy",
    "qnabot-streaming-http-policy",
    "streaming-connect-grant-1",
    "streaming-connection-policy",
    "streaming-streaming-grant-1",
    "streaming-streaming-grant-2",
    "web-guest-policy",
  ],
  [TYPES.function]: ["qnabot-fulfillment", "qnabot-streaming-http", "streaming-connection"],
  [TYPES.functionUrl]: ["qnabot-streaming-http-url"],
  [TYPES.permission]: [
    "lex-permission",
    "qnabot-ask-permission",
    "qnabot-feedback-permission",
    "streaming-connect-permission",
    "streaming-default-permission",
    "streaming-disconnect-permission",
    ...FULFILLMENT_ROUTE_KEYS.map((key) => `streaming-route-${key}-permission`),
  ].sort(),
  [TYPES.integration]: [
    "qnabot-ask-integration",
    "streaming-connection-integration",
    "streaming-ping-integration",
    ...FULFILLMENT_ROUTE_KEYS.map((key) => `streaming-route-${key}-integration`),
  ].sort(),
  [TYPES.route]: [
    "qnabot-ask-route",
    "qnabot-feedback-route",
    "streaming-connect-route",
    "streaming-default-route",
    "streaming-disconnect-route",
    "streaming-ping-route",
    ...FULFILLMENT_ROUTE_KEYS.map((key) => `streaming-route-${key}`),
  ].sort(),
  [TYPES.routeResponse]: ["streaming-default-route-response"],
  [TYPES.asyncInvokeConfig]: ["qnabot-fulfillment-async"],
  [TYPES.stage]: ["qnabot-http-stage", "streaming-stage"],
  ...BOT_RESOURCES,
};

/** The component each resource belongs to, by its name's prefix. */
function componentOf(resourceName: string): string {
  return ["streaming", "lex", "web"].find((prefix) => resourceName.startsWith(`${prefix}-`)) ?? "qnabot";
}

function config(values: Partial<Record<ConfigKey, string>>) {
  return parseStackConfig((key) => values[key]);
}

function awsResources(recorder: Recorder): RecordedResource[] {
  return recorder.resources.filter((r) => r.type.startsWith("aws:") || r.type.startsWith("aws-native:"));
}

function namesByType(recorder: Recorder): Record<string, string[]> {
  const byType: Record<string, string[]> = {};
  for (const resource of awsResources(recorder)) (byType[resource.type] ??= []).push(resource.name);
  for (const names of Object.values(byType)) names.sort();
  return byType;
}

async function archiveText(fn: RecordedResource): Promise<string> {
  const assets = (await fn.inputs.code.assets) as Record<string, { text: Promise<string> }>;
  expect(Object.keys(assets), fn.name).to.deep.equal([BUNDLE_FILE]);
  return assets[BUNDLE_FILE].text;
}

describe("the stack under Pulumi mocks (components/stack.ts)", function () {
  // The first program run bundles both functions; later ones reuse the bundles.
  this.timeout(60_000);

  describe("with enableStreaming off", () => {
    let recorder: Recorder;
    let outputs: StackOutputs;
    before(async () => {
      recorder = await installMocks();
      outputs = createStack(config({ llmModelId: "global.anthropic.claude-sonnet-4-20250514-v1:0" }), FRESH_REGION);
      await registrationsSettled();
    });

    it("creates no streaming resource", () => {
      expect(recorder.ofType(TYPES.streaming)).to.deep.equal([]);
      expect(recorder.ofType(TYPES.api).map((api) => api.inputs.protocolType)).to.deep.equal(["HTTP"]);
      expect(recorder.ofType(TYPES.table).map((table) => table.name)).to.deep.equal(["qnabot-memory"]);
      expect(recorder.ofType(TYPES.function).map((fn) => fn.name)).to.deep.equal(["qnabot-fulfillment"]);
      expect(recorder.ofType(TYPES.asyncInvokeConfig)).to.deep.equal([]);
      expect(awsResources(recorder).filter((r) => !["qnabot", "lex", "web"].includes(componentOf(r.name)))).to.deep.equal([]);
    });

    it("still deploys the Lex bot and the web clients' identity pool, without a WebSocket grant", () => {
      for (const [type, names] of Object.entries(BOT_RESOURCES)) {
        expect(recorder.ofType(type).map((r) => r.name), type).to.deep.equal(names);
      }
      expect(recorder.ofType(TYPES.rolePolicy).map((r) => r.name).filter((n) => n.startsWith("web-"))).to.deep.equal(["web-guest-policy"]);
    });

    it("exports no streaming output at all, and the bot's", () => {
      expect(Object.keys(outputs).sort()).to.deep.equal(["FulfillmentFunctionArn", "QnaAskEndpoint", ...BOT_OUTPUTS].sort());
    });

    it("gives the fulfillment function no streaming settings or rights", () => {
      const variables = recorder.named("qnabot-fulfillment").inputs.environment.variables as Record<string, string>;
      for (const name of [
        ENV.streamingEndpoint,
        ENV.sourceLinkBuckets,
        ENV.connectionsTable,
        ENV.connectionTtlSeconds,
        ENV.asksPerConnection,
        ENV.asksPerSession,
        ENV.streamTextFlushMs,
        ENV.streamJsonFlushMs,
        ENV.streamCheckpointMs,
      ]) {
        expect(variables, name).not.to.have.property(name);
      }
      // No reservation by default: Lambda keeps 100 of the account's concurrency unreserved
      // (PutFunctionConcurrency), so any reservation fails on an account whose quota is 10 or 50.
      expect(recorder.named("qnabot-fulfillment").inputs).not.to.have.property("reservedConcurrentExecutions");
      expect(recorder.ofType(TYPES.functionUrl)).to.deep.equal([]);
      expect(Object.keys(statementsOf(recorder.named("qnabot-fulfillment-policy")))).to.deep.equal([
        "WriteOwnLogGroup",
        "InvokeLlm",
        "ConversationMemory",
      ]);
    });

    it("allows a global inference profile and its model in any Region (the request names no Region)", () => {
      expect(statementsOf(recorder.named("qnabot-fulfillment-policy")).InvokeLlm).to.deep.equal({
        Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        Resource: [
          `arn:aws:bedrock:${REGION}:${ACCOUNT}:inference-profile/global.anthropic.claude-sonnet-4-20250514-v1:0`,
          "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0",
        ],
      });
    });
  });

  describe("with enableStreaming on", () => {
    let recorder: Recorder;
    let outputs: StackOutputs;
    const wsExecutionArn = MOCK_ARNS.executeApi("streaming-api");
    before(async () => {
      recorder = await installMocks();
      outputs = createStack(config({ enableStreaming: "true" }), FRESH_REGION);
      await registrationsSettled();
    });

    it("creates exactly the documented resources, each inside its component", () => {
      expect(namesByType(recorder)).to.deep.equal(STREAMING_ON_RESOURCES);
      expect(recorder.named("streaming").type).to.equal(TYPES.streaming);
      expect(recorder.named("qnabot").type).to.equal(TYPES.qna);
      for (const resource of awsResources(recorder)) {
        expect(resource.parent, resource.name).to.equal(componentOf(resource.name));
      }
    });

    it("exports the streaming outputs under QnABot's names, with the endpoint formulas", async () => {
      expect(Object.keys(outputs).sort()).to.deep.equal(
        ["FulfillmentFunctionArn", "QnaAskEndpoint", ...STREAMING_OUTPUTS, ...BOT_OUTPUTS].sort(),
      );
      expect(await valueOf(outputs.StreamingWebSocketEndpoint)).to.equal(
        `wss://streaming-api-id.execute-api.${REGION}.amazonaws.com/Prod`,
      );
      expect(await valueOf(outputs.StreamingWebSocketApiId)).to.equal("streaming-api-id");
      expect(await valueOf(outputs.StreamingDynamoDbTable)).to.equal("streaming-connections");
      expect(await valueOf(outputs.StreamingDynamoDbTableArn)).to.equal(MOCK_ARNS.table("streaming-connections"));
      expect(await valueOf(outputs.StreamingLambdaArn)).to.equal(MOCK_ARNS.function("streaming-connection"));
      expect(await valueOf(outputs.QnaAskEndpoint)).to.equal(`https://qnabot-http-api-id.execute-api.${REGION}.amazonaws.com/ask`);
      expect(await valueOf(outputs.FulfillmentFunctionArn)).to.equal(MOCK_ARNS.function("qnabot-fulfillment"));
      expect(await valueOf(outputs.StreamingHttpEndpoint)).to.equal(`https://qnabot-streaming-http-url-id.lambda-url.${REGION}.on.aws/`);
    });

    it("creates a WebSocket API that selects routes on the message's action", () => {
      expect(recorder.named("streaming-api").inputs).to.deep.include({
        protocolType: "WEBSOCKET",
        routeSelectionExpression: ROUTE_SELECTION_EXPRESSION,
      });
    });

    it("routes $connect (IAM auth), $disconnect and $default (two-way) to the connection function", () => {
      const target = "integrations/streaming-connection-integration-id";
      expect(recorder.named("streaming-connection-integration").inputs).to.deep.include({
        integrationType: "AWS_PROXY",
        integrationMethod: "POST",
        integrationUri: MOCK_ARNS.invoke("streaming-connection"),
      });
      expect(recorder.named("streaming-connect-route").inputs).to.deep.equal({
        apiId: "streaming-api-id",
        routeKey: "$connect",
        operationName: "connect",
        authorizationType: "AWS_IAM",
        target,
      });
      expect(recorder.named("streaming-disconnect-route").inputs).to.deep.equal({
        apiId: "streaming-api-id",
        routeKey: "$disconnect",
        operationName: "disconnect",
        target,
      });
      expect(recorder.named("streaming-default-route").inputs).to.deep.equal({
        apiId: "streaming-api-id",
        routeKey: "$default",
        operationName: "default",
        routeResponseSelectionExpression: "$default",
        target,
      });
      expect(recorder.named("streaming-default-route-response").inputs).to.deep.equal({
        apiId: "streaming-api-id",
        routeId: "streaming-default-route-id",
        routeResponseKey: "$default",
      });
    });

    it("answers ping with a MOCK integration: one-way, no Lambda", () => {
      expect(recorder.named("streaming-ping-route").inputs).to.deep.equal({
        apiId: "streaming-api-id",
        routeKey: "ping",
        operationName: "ping",
        target: "integrations/streaming-ping-integration-id",
      });
      const ping = recorder.named("streaming-ping-integration").inputs;
      expect(ping.integrationType).to.equal("MOCK");
      expect(ping).not.to.have.property("integrationUri");
      expect(ping.requestTemplates[ping.templateSelectionExpression]).to.equal('{"statusCode":200}');
      expect(recorder.ofType(TYPES.routeResponse).map((r) => r.inputs.routeId)).not.to.include("streaming-ping-route-id");
    });

    it("routes ask, resume, cancel and feedback to the fulfillment function (its ARN arrives after the component was built)", () => {
      for (const key of FULFILLMENT_ROUTE_KEYS) {
        expect(recorder.named(`streaming-route-${key}`).inputs).to.deep.equal({
          apiId: "streaming-api-id",
          routeKey: key,
          operationName: key,
          target: `integrations/streaming-route-${key}-integration-id`,
        });
        expect(recorder.named(`streaming-route-${key}-integration`).inputs).to.deep.include({
          integrationType: "AWS_PROXY",
          integrationUri: MOCK_ARNS.invoke("qnabot-fulfillment"),
        });
      }
    });

    it("lets API Gateway invoke each function only for its own routes of this API and stage", () => {
      const expected: Record<string, [string, string]> = {
        "streaming-connect-permission": ["streaming-connection", "$connect"],
        "streaming-disconnect-permission": ["streaming-connection", "$disconnect"],
        "streaming-default-permission": ["streaming-connection", "$default"],
        ...Object.fromEntries(FULFILLMENT_ROUTE_KEYS.map((key) => [`streaming-route-${key}-permission`, ["qnabot-fulfillment", key]])),
      };
      for (const [name, [fn, routeKey]] of Object.entries(expected)) {
        expect(recorder.named(name).inputs, name).to.deep.equal({
          action: "lambda:InvokeFunction",
          function: MOCK_ARNS.function(fn),
          principal: "apigateway.amazonaws.com",
          sourceArn: `${wsExecutionArn}/Prod/${routeKey}`,
        });
      }
    });

    it("deploys the stage automatically after every route and integration change, which all follow the stage", () => {
      // A Deployment resource would be created before Pulumi deletes a removed route (deletes
      // run last) and keep serving it; an auto-deploying stage redeploys after the delete too.
      expect(recorder.ofType(TYPES.deployment)).to.deep.equal([]);
      const stage = recorder.named("streaming-stage").inputs;
      expect(stage.autoDeploy).to.equal(true);
      expect(stage).not.to.have.property("deploymentId");
      // The built-in routes precede the stage: its route settings (ping, $default throttles) name them.
      const builtIn = ["streaming-connect-route", "streaming-disconnect-route", "streaming-default-route", "streaming-ping-route"];
      expect(recorder.named("streaming-stage").dependsOn).to.include.members(builtIn);
      for (const type of [TYPES.route, TYPES.integration, TYPES.routeResponse]) {
        for (const served of recorder.ofType(type).filter((r) => r.name.startsWith("streaming-") && !builtIn.some((route) => r.name.startsWith(route)) && !/-(connection|ping)-integration$/.test(r.name))) {
          expect(served.dependsOn, served.name).to.include("streaming-stage");
        }
      }
    });

    it("names the stage in every integration, so a renamed stage gets a deployment", async () => {
      // Renaming replaces the stage: the new one starts empty on an API whose routes exist.
      // Each integration's description changes with the name; those that depend on the stage are
      // updated after the new one exists: an update of the API, which the stage's autoDeploy deploys.
      const integrations = recorder.ofType(TYPES.integration).filter((r) => r.name.startsWith("streaming-"));
      expect(integrations).to.have.length.greaterThan(0);
      for (const integration of integrations) {
        expect(integration.inputs.description, integration.name).to.equal("Deployed to stage Prod");
      }
      const renamed = await installMocks();
      createStack(config({ enableStreaming: "true", streamingStageName: "live" }), FRESH_REGION);
      await registrationsSettled();
      const renamedIntegrations = renamed.ofType(TYPES.integration).filter((r) => r.name.startsWith("streaming-"));
      for (const integration of renamedIntegrations) {
        expect(integration.inputs.description, integration.name).to.equal("Deployed to stage live");
      }
      // The built-in routes' integrations precede the stage (its route settings name their routes);
      // the stack's ask, resume and cancel integrations follow it, so their update deploys to the new stage.
      const afterStage = renamedIntegrations.filter((integration) => integration.dependsOn.includes("streaming-stage")).map((r) => r.name);
      expect(afterStage).to.include.members(["streaming-route-ask-integration", "streaming-route-resume-integration", "streaming-route-cancel-integration"]);
    });

    it("has a throttled stage with JSON access logs to /aws/apigateway/{apiId}/{stage}, and no execution logging", () => {
      const stage = recorder.named("streaming-stage").inputs;
      expect(stage.name).to.equal("Prod");
      expect(recorder.named("streaming-access-logs").inputs.name).to.equal("/aws/apigateway/streaming-api-id/Prod");
      expect(stage.accessLogSettings.destinationArn).to.equal(MOCK_ARNS.logGroup("/aws/apigateway/streaming-api-id/Prod"));
      const format = JSON.parse(stage.accessLogSettings.format as string) as Record<string, string>;
      // Variable names from https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html
      expect(format).to.include({
        requestId: "$context.requestId",
        routeKey: "$context.routeKey",
        status: "$context.status",
        apiId: "$context.apiId",
        stage: "$context.stage",
        connectedAt: "$context.connectedAt",
        messageDirection: "$context.messageDirection",
        validationError: "$context.error.validationErrorString",
        // $connect is IAM-authorized: its failures fill $context.authorize.*, not
        // $context.authorizer.* (a Lambda authorizer's); "Configure logging for WebSocket APIs".
        authorizeStatus: "$context.authorize.status",
        authorizeError: "$context.authorize.error",
      });
      expect(format).not.to.have.property("authorizerError");
      expect(stage.defaultRouteSettings).to.deep.equal({
        throttlingBurstLimit: 100,
        throttlingRateLimit: 50,
        loggingLevel: "OFF",
        dataTraceEnabled: false,
      });
      // Stage logging needs the Region's API Gateway CloudWatch role: created first by default.
      expect(recorder.named("streaming-stage").dependsOn).to.include("streaming-apigateway-account");
    });

    it("keeps connections in an encrypted, recoverable, on-demand table keyed by sessionId alone, with TTL", () => {
      const table = recorder.named("streaming-connections").inputs;
      expect(table).to.deep.equal({
        billingMode: "PAY_PER_REQUEST",
        hashKey: CONNECTIONS_TABLE.hashKey,
        attributes: CONNECTIONS_TABLE.attributes.map((a) => ({ name: a.name, type: a.type })),
        ttl: { attributeName: "ttl", enabled: true },
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: { enabled: true },
      });
      // No `name`: Pulumi names the table with a random suffix, so the key-schema change of an
      // upgrade replaces it (create before delete) without a name clash.
      expect(table).not.to.have.property("name");
      // DynamoDB accepts declared attributes only when some key uses them, and every key's attribute declared.
      expect(table.attributes.map((a: { name: string }) => a.name)).to.have.members([table.hashKey]);
      expect(recorder.named("qnabot-memory").inputs).to.deep.include({
        billingMode: "PAY_PER_REQUEST",
        hashKey: MEMORY_TABLE.hashKey,
        ttl: { attributeName: MEMORY_TABLE.ttlAttribute, enabled: true },
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: { enabled: true },
      });
    });

    it("sets a retention on every log group", () => {
      for (const group of recorder.ofType(TYPES.logGroup)) {
        expect(group.inputs.retentionInDays, group.name).to.equal(30);
      }
    });

    it("runs the connection function small and short on nodejs22.x arm64, logging JSON to its own group", async () => {
      const fn = recorder.named("streaming-connection").inputs;
      expect(fn).to.deep.include({
        runtime: "nodejs22.x",
        architectures: ["arm64"],
        handler: "index.handler",
        memorySize: 128,
        timeout: 10,
        role: "arn:aws:iam::123456789012:role/streaming-connection-role",
        loggingConfig: { logFormat: "JSON" },
        tracingConfig: { mode: "PassThrough" },
      });
      // Lambda logs to /aws/lambda/{functionName} when loggingConfig names no group.
      expect(recorder.named("streaming-connection-logs").inputs.name).to.equal("/aws/lambda/streaming-connection");
      expect(fn.environment.variables).to.deep.equal({
        [ENV.connectionsTable]: "streaming-connections",
        [ENV.connectionTtlSeconds]: "7200",
        [ENV.unboundSessionStreaming]: "false",
        POWERTOOLS_SERVICE_NAME: "qnabot-streaming-connection",
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      });
      expect(await archiveText(recorder.named("streaming-connection"))).to.include("$connect");
    });

    it("runs the fulfillment function with its settings, streaming endpoint and tables from the stack", async () => {
      const fn = recorder.named("qnabot-fulfillment").inputs;
      expect(fn).to.deep.include({
        runtime: "nodejs22.x",
        architectures: ["arm64"],
        handler: "index.handler",
        memorySize: 512,
        timeout: 120,
        loggingConfig: { logFormat: "JSON" },
      });
      // Reserved concurrency is opt-in (fulfillmentReservedConcurrency): a 10-execution account can deploy.
      expect(fn).not.to.have.property("reservedConcurrentExecutions");
      expect(recorder.named("qnabot-fulfillment-logs").inputs.name).to.equal("/aws/lambda/qnabot-fulfillment");
      expect(fn.environment.variables).to.deep.equal({
        [ENV.llmModelId]: "anthropic.claude-3-haiku-20240307-v1:0",
        [ENV.maxTokens]: "1024",
        [ENV.memoryTable]: "qnabot-memory",
        [ENV.memoryTurns]: "5",
        [ENV.memoryTtlSeconds]: "86400",
        [ENV.lexAnswerBudgetMs]: "25000",
        [ENV.streamingEndpoint]: `https://streaming-api-id.execute-api.${REGION}.amazonaws.com/Prod`,
        [ENV.connectionsTable]: "streaming-connections",
        [ENV.connectionTtlSeconds]: "7200",
        // Fair use and the frame budget, at the functions' own defaults but set explicitly.
        [ENV.asksPerConnection]: String(DEFAULT_ASKS_PER_CONNECTION),
        [ENV.asksPerSession]: String(DEFAULT_ASKS_PER_SESSION),
        [ENV.streamTextFlushMs]: String(DEFAULT_FLUSH_INTERVAL_MS.text),
        [ENV.streamJsonFlushMs]: String(DEFAULT_FLUSH_INTERVAL_MS.json),
        [ENV.streamCheckpointMs]: "1000",
        // Output safety's allowlists, at their defaults but set explicitly.
        [ENV.outputLinkSchemes]: "http,https,mailto",
        [ENV.outputImageHosts]: "",
        [ENV.unboundSessionStreaming]: "false",
        POWERTOOLS_SERVICE_NAME: "qnabot-streaming-fulfillment",
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      });
      const code = await archiveText(recorder.named("qnabot-fulfillment"));
      expect(code).not.to.equal(await archiveText(recorder.named("streaming-connection")));
    });

    it("puts POST /ask behind IAM auth on a throttled, access-logged HTTP API", () => {
      expect(recorder.named("qnabot-http-api").inputs.protocolType).to.equal("HTTP");
      expect(recorder.named("qnabot-ask-route").inputs).to.deep.equal({
        apiId: "qnabot-http-api-id",
        routeKey: "POST /ask",
        authorizationType: "AWS_IAM",
        target: "integrations/qnabot-ask-integration-id",
      });
      expect(recorder.named("qnabot-ask-integration").inputs).to.deep.include({
        integrationType: "AWS_PROXY",
        integrationUri: MOCK_ARNS.invoke("qnabot-fulfillment"),
        payloadFormatVersion: "2.0",
      });
      const stage = recorder.named("qnabot-http-stage").inputs;
      expect(stage).to.deep.include({ name: "$default", autoDeploy: true });
      expect(stage.accessLogSettings.destinationArn).to.equal(MOCK_ARNS.logGroup("/aws/apigateway/qnabot-http-api-id/default"));
      expect(stage.defaultRouteSettings).to.deep.equal({ throttlingBurstLimit: 100, throttlingRateLimit: 50 });
      expect(recorder.named("qnabot-ask-permission").inputs).to.deep.equal({
        action: "lambda:InvokeFunction",
        function: "qnabot-fulfillment",
        principal: "apigateway.amazonaws.com",
        sourceArn: `${MOCK_ARNS.executeApi("qnabot-http-api")}/*/POST/ask`,
      });
      // Feedback (issue 24): the same integration and auth, its own invoke permission.
      expect(recorder.named("qnabot-feedback-route").inputs).to.deep.equal({
        apiId: "qnabot-http-api-id",
        routeKey: "POST /feedback",
        authorizationType: "AWS_IAM",
        target: "integrations/qnabot-ask-integration-id",
      });
      expect(recorder.named("qnabot-feedback-permission").inputs).to.deep.include({
        function: "qnabot-fulfillment",
        sourceArn: `${MOCK_ARNS.executeApi("qnabot-http-api")}/*/POST/feedback`,
      });
      expect(recorder.resources.map((r) => r.name)).not.to.include("qnabot-lex-permission");
    });

    it("names the resources of every IAM statement, and grants each function only what it calls", () => {
      for (const policy of recorder.ofType(TYPES.rolePolicy)) expectNamedResources(policy);
      // The Lambda functions' roles; the API Gateway, Lex and web client roles have their own trust, tested with them.
      const notLambda = ["streaming-apigateway-cloudwatch-role", "lex-role", "web-guest-role"];
      for (const role of recorder.ofType(TYPES.role).filter((r) => !notLambda.includes(r.name))) {
        expectLambdaTrust(role);
      }

      const connectionsTable = MOCK_ARNS.table("streaming-connections");
      expect(statementsOf(recorder.named("streaming-connection-policy"))).to.deep.equal({
        WriteOwnLogGroup: {
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: [
            MOCK_ARNS.lambdaLogGroup("streaming-connection"),
            `${MOCK_ARNS.lambdaLogGroup("streaming-connection")}:log-stream:*`,
          ],
        },
        ConnectionsTable: {
          Action: [...CONNECTION_FUNCTION_TABLE_ACTIONS],
          Resource: [connectionsTable],
        },
      });
      expect(recorder.named("streaming-connection-policy").inputs.role).to.equal("streaming-connection-role");

      expect(statementsOf(recorder.named("qnabot-fulfillment-policy"))).to.deep.equal({
        WriteOwnLogGroup: {
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: [
            MOCK_ARNS.lambdaLogGroup("qnabot-fulfillment"),
            `${MOCK_ARNS.lambdaLogGroup("qnabot-fulfillment")}:log-stream:*`,
          ],
        },
        InvokeLlm: {
          Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
          Resource: [`arn:aws:bedrock:${REGION}::foundation-model/anthropic.claude-3-haiku-20240307-v1:0`],
        },
        ConversationMemory: {
          Action: ["dynamodb:GetItem", "dynamodb:PutItem"],
          Resource: [MOCK_ARNS.table("qnabot-memory")],
        },
        HandOffWebSocketAsks: {
          Action: ["lambda:InvokeFunction"],
          Resource: [MOCK_ARNS.function("qnabot-fulfillment")],
        },
      });

      // The hand-off must never be retried (a second stream of the same answer) nor served stale.
      const asyncConfig = recorder.named("qnabot-fulfillment-async");
      expect(asyncConfig.type).to.equal(TYPES.asyncInvokeConfig);
      expect(asyncConfig.inputs).to.include({ functionName: "qnabot-fulfillment", maximumRetryAttempts: 0, maximumEventAgeInSeconds: 120 });

      const streamingGrant = recorder.named("streaming-streaming-grant-1");
      expect(streamingGrant.inputs.role).to.equal("qnabot-fulfillment-role");
      expect(statementsOf(streamingGrant)).to.deep.equal({
        ManageConnections: {
          Action: ["execute-api:ManageConnections"],
          Resource: [`${wsExecutionArn}/Prod/POST/@connections/*`, `${wsExecutionArn}/Prod/DELETE/@connections/*`],
        },
        ConnectionsTable: {
          Action: [...STREAMING_FUNCTION_TABLE_ACTIONS],
          Resource: [connectionsTable],
        },
      });
    });

    it("lets a streaming function post to and close its stage's connections, and touch the table exactly as the code does (IAM evaluated)", () => {
      const documents = [policyOf(recorder.named("qnabot-fulfillment-policy")), policyOf(recorder.named("streaming-streaming-grant-1"))];
      const connections = `${wsExecutionArn}/Prod`;
      const decide = (action: string, resource: string) => evaluate(documents, { action, resource }).decision;
      // The writer posts frames, and closes a json connection it gives up on (DeleteConnection).
      expect(decide("execute-api:ManageConnections", `${connections}/POST/@connections/abc=`)).to.equal("allow");
      expect(decide("execute-api:ManageConnections", `${connections}/DELETE/@connections/abc=`)).to.equal("allow");
      expect(decide("execute-api:ManageConnections", `${connections}/GET/@connections/abc=`)).to.equal("implicit-deny");
      expect(decide("execute-api:ManageConnections", `${wsExecutionArn}/Dev/DELETE/@connections/abc=`)).to.equal("implicit-deny");
      expect(decide("execute-api:ManageConnections", `${MOCK_ARNS.executeApi("other-api")}/Prod/DELETE/@connections/abc=`)).to.equal("implicit-deny");
      // functions/shared/connections.ts says what the stream writer and the ask ledger call.
      const table = MOCK_ARNS.table("streaming-connections");
      for (const action of STREAMING_FUNCTION_TABLE_ACTIONS) expect(decide(action, table), action).to.equal("allow");
      for (const action of ["dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:DeleteTable"]) {
        expect(decide(action, table), action).to.equal("implicit-deny");
      }
      const connection = [policyOf(recorder.named("streaming-connection-policy"))];
      for (const action of CONNECTION_FUNCTION_TABLE_ACTIONS) {
        expect(evaluate(connection, { action, resource: table }).decision, action).to.equal("allow");
      }
      expect(evaluate(connection, { action: "dynamodb:UpdateItem", resource: table }).decision).to.equal("implicit-deny");
    });

    it("serves the streaming HTTP door from its own function behind an AWS_IAM, RESPONSE_STREAM function URL with no CORS", async () => {
      expect(recorder.named("qnabot-streaming-http-url").inputs).to.deep.equal({
        functionName: "qnabot-streaming-http",
        authorizationType: "AWS_IAM",
        invokeMode: "RESPONSE_STREAM",
      });
      const fn = recorder.named("qnabot-streaming-http").inputs;
      expect(fn).to.deep.include({
        runtime: "nodejs22.x",
        architectures: ["arm64"],
        handler: "index.handler",
        memorySize: 512,
        // Past API Gateway's 30 s, the point of this door, but bounded.
        timeout: 300,
        role: "arn:aws:iam::123456789012:role/qnabot-streaming-http-role",
        loggingConfig: { logFormat: "JSON" },
        tracingConfig: { mode: "PassThrough" },
      });
      expect(fn).not.to.have.property("reservedConcurrentExecutions");
      expect(recorder.named("qnabot-streaming-http-logs").inputs).to.deep.equal({
        name: "/aws/lambda/qnabot-streaming-http",
        retentionInDays: 30,
      });
      // The same settings as the fulfillment function (one engine), under its own service name.
      const fulfillment = recorder.named("qnabot-fulfillment").inputs.environment.variables as Record<string, string>;
      expect(fn.environment.variables).to.deep.equal({ ...fulfillment, POWERTOOLS_SERVICE_NAME: "qnabot-streaming-http" });
      const code = await archiveText(recorder.named("qnabot-streaming-http"));
      expect(code).to.include("awslambda");
      expect(code).not.to.equal(await archiveText(recorder.named("qnabot-fulfillment")));
    });

    it("gives the door's role what answering takes (Bedrock, memory, streaming grant) but not the hand-off", () => {
      const door = recorder.named("qnabot-streaming-http-policy");
      expectNamedResources(door);
      expect(door.inputs.role).to.equal("qnabot-streaming-http-role");
      const own = statementsOf(door);
      const { HandOffWebSocketAsks, WriteOwnLogGroup, ...shared } = statementsOf(recorder.named("qnabot-fulfillment-policy"));
      expect(HandOffWebSocketAsks).to.not.equal(undefined);
      expect(WriteOwnLogGroup.Resource).to.deep.equal([
        MOCK_ARNS.lambdaLogGroup("qnabot-fulfillment"),
        `${MOCK_ARNS.lambdaLogGroup("qnabot-fulfillment")}:log-stream:*`,
      ]);
      expect(own).to.deep.equal({
        WriteOwnLogGroup: {
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: [
            MOCK_ARNS.lambdaLogGroup("qnabot-streaming-http"),
            `${MOCK_ARNS.lambdaLogGroup("qnabot-streaming-http")}:log-stream:*`,
          ],
        },
        ...shared,
      });
      const grant = recorder.named("streaming-streaming-grant-2");
      expect(grant.inputs.role).to.equal("qnabot-streaming-http-role");
      expect(statementsOf(grant)).to.deep.equal(statementsOf(recorder.named("streaming-streaming-grant-1")));

      const documents = [policyOf(door), policyOf(grant)];
      const decide = (action: string, resource: string) => evaluate(documents, { action, resource }).decision;
      expect(decide("bedrock:InvokeModelWithResponseStream", `arn:aws:bedrock:${REGION}::foundation-model/anthropic.claude-3-haiku-20240307-v1:0`)).to.equal("allow");
      expect(decide("dynamodb:PutItem", MOCK_ARNS.table("qnabot-memory"))).to.equal("allow");
      expect(decide("dynamodb:UpdateItem", MOCK_ARNS.table("streaming-connections"))).to.equal("allow");
      expect(decide("lambda:InvokeFunction", MOCK_ARNS.function("qnabot-fulfillment"))).to.equal("implicit-deny");
      expect(decide("lambda:InvokeFunction", MOCK_ARNS.function("qnabot-streaming-http"))).to.equal("implicit-deny");
      expect(decide("logs:PutLogEvents", `${MOCK_ARNS.lambdaLogGroup("qnabot-fulfillment")}:log-stream:x`)).to.equal("implicit-deny");
    });
  });

  describe("with the streaming HTTP door off (streamingHttpEndpoint false)", () => {
    let recorder: Recorder;
    let outputs: StackOutputs;
    before(async () => {
      recorder = await installMocks();
      outputs = createStack(config({ enableStreaming: "true", streamingHttpEndpoint: "false" }), FRESH_REGION);
      await registrationsSettled();
    });

    it("creates no door resource and no StreamingHttpEndpoint output, and leaves the rest as it is", () => {
      const expected = Object.fromEntries(
        Object.entries(STREAMING_ON_RESOURCES)
          .map(([type, names]) => [type, names.filter((n) => !n.startsWith("qnabot-streaming-http") && n !== "streaming-streaming-grant-2")])
          .filter(([, names]) => names.length > 0),
      );
      expect(namesByType(recorder)).to.deep.equal(expected);
      expect(Object.keys(outputs)).not.to.include("StreamingHttpEndpoint");
      expect(Object.keys(outputs)).to.include("StreamingWebSocketEndpoint");
    });
  });

  describe("with a knowledge base, inference profiles, a Lex alias, a custom LLM, a KMS key and tracing", () => {
    let recorder: Recorder;
    const kmsKeyArn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const lexBotAliasArn = "arn:aws:lex:eu-west-1:123456789012:bot-alias/ABCDEFGHIJ/TSTALIASID";
    const llmLambdaArn = "arn:aws:lambda:eu-west-1:123456789012:function:my-llm";
    const kbProfile = `arn:aws:bedrock:${REGION}:${ACCOUNT}:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0`;
    before(async () => {
      recorder = await installMocks();
      createStack(
        config({
          enableStreaming: "true",
          llmModelId: "eu.amazon.nova-pro-v1:0",
          knowledgeBaseId: "KB12345678",
          knowledgeBaseModelId: "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
          lexBotAliasArn,
          llmLambdaArn,
          kmsKeyArn,
          tracing: "true",
          systemPrompt: "Answer briefly.",
          logRetentionInDays: "90",
          llmQaPromptTemplate: "Use {context}.<br>{history}<br>Human: {input}<br>AI:",
          llmQaModelParams: '{"temperature":0.2,"max_tokens":512}',
          fulfillmentReservedConcurrency: "-1",
          streamingHttpReservedConcurrency: "20",
          streamingHttpTimeout: "600",
          streamingHttpCorsOrigins: "https://chat.example.com,http://localhost:5173",
          asksPerConnection: "3",
          asksPerSession: "6",
          tokenBudgetPerDay: "250000",
          tokenPricesUsdPerMillion: "0.8,3.2",
          feedbackTtlDays: "90",
          sourceLinkBuckets: "kb-docs,kb.manuals.example",
          sourceLinkExpirySeconds: "600",
          streamTextFlushMs: "0",
          streamJsonFlushMs: "50",
          streamCheckpointMs: "500",
          outputLinkSchemes: "https,mailto",
          outputImageHosts: "images.example.com",
          unboundSessionStreaming: "true",
          routeThrottling: "ping=20:40",
          promptCaching: "on",
          bedrockLatency: "optimized",
          bedrockServiceTier: "flex",
        }),
        FRESH_REGION,
      );
      await registrationsSettled();
    });

    it("passes the knowledge base, its model ARN, the prompt, the custom LLM and its QnABot settings to both answering functions", () => {
      for (const name of ["qnabot-fulfillment", "qnabot-streaming-http"]) {
        expect(recorder.named(name).inputs.environment.variables, name).to.deep.include({
          [ENV.llmModelId]: "eu.amazon.nova-pro-v1:0",
          [ENV.knowledgeBaseId]: "KB12345678",
          [ENV.knowledgeBaseModelArn]: kbProfile,
          [ENV.systemPrompt]: "Answer briefly.",
          [ENV.llmLambdaArn]: llmLambdaArn,
          [ENV.llmQaPromptTemplate]: "Use {context}.<br>{history}<br>Human: {input}<br>AI:",
          [ENV.llmQaModelParams]: '{"temperature":0.2,"max_tokens":512}',
        });
      }
      // What the hook's payload is built from reads the same value back (functions/fulfillment/hook.ts).
      const params = recorder.named("qnabot-fulfillment").inputs.environment.variables[ENV.llmQaModelParams] as string;
      expect(parseModelParameters(params)).to.deep.equal({ temperature: 0.2, max_tokens: 512 });
    });

    it("sets the fair-use limits, frame budget and checkpoint interval on every function that streams", () => {
      const expected = {
        [ENV.asksPerConnection]: "3",
        [ENV.asksPerSession]: "6",
        [ENV.tokenBudgetPerDay]: "250000",
        [ENV.tokenPricesUsdPerMillion]: "0.8,3.2",
        [ENV.feedbackTtlDays]: "90",
        [ENV.streamTextFlushMs]: "0",
        [ENV.streamJsonFlushMs]: "50",
        [ENV.streamCheckpointMs]: "500",
        [ENV.unboundSessionStreaming]: "true",
      };
      for (const name of ["qnabot-fulfillment", "qnabot-streaming-http"]) {
        expect(recorder.named(name).inputs.environment.variables, name).to.deep.include(expected);
      }
      // The connection function streams nothing: of these it gets only whether unbound ids offer hooks a connectionId.
      const connectionEnvironment = recorder.named("streaming-connection").inputs.environment.variables;
      expect(connectionEnvironment[ENV.unboundSessionStreaming]).to.equal("true");
      expect(Object.keys(connectionEnvironment)).not.to.include.members(Object.keys(expected).filter((key) => key !== ENV.unboundSessionStreaming));
    });

    it("sets the route throttles of Pulumi config routeThrottling on the stage, and keeps the default of a route it leaves out", () => {
      const routeSettings = recorder.named("streaming-stage").inputs.routeSettings as { routeKey: string }[];
      expect([...routeSettings].sort((a, b) => a.routeKey.localeCompare(b.routeKey))).to.deep.equal([
        { routeKey: "$default", throttlingRateLimit: 5, throttlingBurstLimit: 10, loggingLevel: "OFF", dataTraceEnabled: false },
        { routeKey: "ping", throttlingRateLimit: 20, throttlingBurstLimit: 40, loggingLevel: "OFF", dataTraceEnabled: false },
      ]);
    });

    it("passes prompt caching, latency and service tier to both answering functions, as the function reads them back", () => {
      for (const name of ["qnabot-fulfillment", "qnabot-streaming-http"]) {
        const variables = recorder.named(name).inputs.environment.variables as Record<string, string>;
        expect(variables, name).to.deep.include({ [ENV.promptCaching]: "on", [ENV.bedrockLatency]: "optimized", [ENV.bedrockServiceTier]: "flex" });
        expect(loadModelTier(variables)).to.deep.equal({ promptCaching: "on", latency: "optimized", serviceTier: "flex" });
      }
    });

    it("passes output safety's allowlists to both answering functions", () => {
      for (const name of ["qnabot-fulfillment", "qnabot-streaming-http"]) {
        const variables = recorder.named(name).inputs.environment.variables as Record<string, string>;
        expect(variables, name).to.deep.include({ [ENV.outputLinkSchemes]: "https,mailto", [ENV.outputImageHosts]: "images.example.com" });
        // The function reads back exactly what the stack set.
        expect(loadOutputPolicy(variables)).to.deep.equal({ linkSchemes: ["https", "mailto"], imageHosts: ["images.example.com"] });
      }
    });

    it("lets both answering functions presign links to the allowlisted buckets' objects only: s3:GetObject there, nothing else in S3 (IAM evaluated)", () => {
      for (const name of ["qnabot-fulfillment", "qnabot-streaming-http"]) {
        const variables = recorder.named(name).inputs.environment.variables as Record<string, string>;
        expect(variables, name).to.deep.include({ [ENV.sourceLinkBuckets]: "kb-docs,kb.manuals.example", [ENV.sourceLinkExpirySeconds]: "600" });
        const policy = recorder.named(`${name}-policy`);
        expect(statementsOf(policy).ReadLinkedSources, name).to.deep.equal({
          Action: ["s3:GetObject"],
          Resource: ["arn:aws:s3:::kb-docs/*", "arn:aws:s3:::kb.manuals.example/*"],
        });
        const decide = (action: string, resource: string) => evaluate([policyOf(policy)], { action, resource }).decision;
        expect(decide("s3:GetObject", "arn:aws:s3:::kb-docs/guides/a.pdf")).to.equal("allow");
        expect(decide("s3:GetObject", "arn:aws:s3:::kb.manuals.example/x.md")).to.equal("allow");
        expect(decide("s3:GetObject", "arn:aws:s3:::kb-docs-private/a.pdf")).to.equal("implicit-deny");
        expect(decide("s3:GetObject", "arn:aws:s3:::other-bucket/a.pdf")).to.equal("implicit-deny");
        expect(decide("s3:PutObject", "arn:aws:s3:::kb-docs/a.pdf")).to.equal("implicit-deny");
        expect(decide("s3:ListBucket", "arn:aws:s3:::kb-docs")).to.equal("implicit-deny");
      }
    });

    it("reserves nothing for the fulfillment function with -1, and the door's own reservation and timeout as set", () => {
      expect(recorder.named("qnabot-fulfillment").inputs).not.to.have.property("reservedConcurrentExecutions");
      expect(recorder.named("qnabot-streaming-http").inputs).to.deep.include({ reservedConcurrentExecutions: 20, timeout: 600 });
    });

    it("lets the listed browser origins POST to the door with SigV4 headers, and nobody else (CORS)", () => {
      expect(recorder.named("qnabot-streaming-http-url").inputs.cors).to.deep.equal({
        allowOrigins: ["https://chat.example.com", "http://localhost:5173"],
        allowMethods: ["POST"],
        allowHeaders: ["authorization", "content-type", "accept", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"],
        allowCredentials: false,
        maxAge: 300,
      });
    });

    it("grants the knowledge base, its model and profile, and the custom LLM instead of the Bedrock LLM", () => {
      const policy = recorder.named("qnabot-fulfillment-policy");
      expectNamedResources(policy);
      const statements = statementsOf(policy);
      expect(Object.keys(statements)).not.to.include("InvokeLlm");
      expect(statements).to.deep.include({
        RetrieveFromKnowledgeBase: {
          Action: ["bedrock:Retrieve"],
          Resource: [`arn:aws:bedrock:${REGION}:${ACCOUNT}:knowledge-base/KB12345678`],
        },
        RetrieveAndGenerate: { Action: ["bedrock:RetrieveAndGenerate"], Resource: ["*"] },
        InvokeKnowledgeBaseModel: {
          Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
          Resource: [kbProfile, "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-7-sonnet-20250219-v1:0"],
        },
        ResolveKnowledgeBaseInferenceProfile: { Action: ["bedrock:GetInferenceProfile"], Resource: [kbProfile] },
        InvokeCustomLlm: { Action: ["lambda:InvokeFunction"], Resource: [llmLambdaArn] },
        UseTableKeyThroughDynamoDb: {
          Action: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
          Resource: [kmsKeyArn],
          Condition: { StringEquals: { "kms:ViaService": `dynamodb.${REGION}.amazonaws.com` } },
        },
      });
    });

    it("lets only the configured Lex bot alias invoke the function", () => {
      expect(recorder.named("qnabot-lex-permission").inputs).to.deep.equal({
        action: "lambda:InvokeFunction",
        function: "qnabot-fulfillment",
        principal: "lexv2.amazonaws.com",
        sourceArn: lexBotAliasArn,
      });
    });

    it("names DynamoDB in kms:ViaService by the partition's DNS suffix (amazonaws.com.cn in China)", async () => {
      const statement = tableKeyStatement(kmsKeyArn, "cn-north-1", "amazonaws.com.cn");
      const condition = await valueOf(pulumi.output(statement.Condition));
      expect(condition).to.deep.equal({ StringEquals: { "kms:ViaService": "dynamodb.cn-north-1.amazonaws.com.cn" } });
    });

    it("encrypts both tables with the key and lets the connection function use it through DynamoDB only", () => {
      for (const table of recorder.ofType(TYPES.table)) {
        expect(table.inputs.serverSideEncryption, table.name).to.deep.equal({ enabled: true, kmsKeyArn });
      }
      for (const name of ["streaming-connection-policy", "streaming-streaming-grant-1"]) {
        expect(statementsOf(recorder.named(name)).UseTableKeyThroughDynamoDb?.Resource, name).to.deep.equal([kmsKeyArn]);
      }
    });

    it("traces every function with X-Ray through AWS's managed policy, not an inline *", () => {
      for (const fn of recorder.ofType(TYPES.function)) {
        expect(fn.inputs.tracingConfig, fn.name).to.deep.equal({ mode: "Active" });
      }
      const xray = recorder.ofType(TYPES.attachment).filter((a) => a.name.endsWith("-xray"));
      expect(xray.map((a) => [a.name, a.inputs.role, a.inputs.policyArn])).to.have.deep.members([
        ["qnabot-fulfillment-xray", "qnabot-fulfillment-role", "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"],
        ["qnabot-streaming-http-xray", "qnabot-streaming-http-role", "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"],
        ["streaming-connection-xray", "streaming-connection-role", "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"],
      ]);
    });

    it("applies the configured log retention everywhere", () => {
      expect(recorder.ofType(TYPES.logGroup).map((g) => g.inputs.retentionInDays)).to.deep.equal([90, 90, 90, 90, 90]);
    });
  });

  describe("with a custom domain, monitoring and a guardrail", () => {
    let recorder: Recorder;
    let outputs: StackOutputs;
    before(async () => {
      recorder = await installMocks();
      outputs = createStack(
        config({
          enableStreaming: "true",
          knowledgeBaseId: "KB12345678",
          streamingDomainName: "chat.example.com",
          streamingCertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab",
          streamingHostedZoneId: "Z0123456789ABC",
          monitoring: "true",
          guardrailId: "gr12345abcde",
          guardrailVersion: "2",
        }),
        FRESH_REGION,
      );
      await registrationsSettled();
    });

    it("adds the domain, its mapping and record, the dashboard and alarms to the default resources", () => {
      const byType = namesByType(recorder);
      expect(byType[TYPES.domainName]).to.deep.equal(["streaming-domain"]);
      expect(byType[TYPES.apiMapping]).to.deep.equal(["streaming-domain-mapping"]);
      expect(byType[TYPES.record]).to.deep.equal(["streaming-domain-record"]);
      expect(byType[TYPES.dashboard]).to.deep.equal(["streaming-dashboard"]);
      // connection, the fulfillment function, the HTTP door: errors and throttles; API integration and execution errors.
      expect(byType[TYPES.alarm]).to.have.length(8);
      for (const [type, names] of Object.entries(STREAMING_ON_RESOURCES)) expect(byType[type], type).to.deep.equal(names);
    });

    it("exports the custom domain as the WebSocket endpoint; the function still posts through execute-api", async () => {
      expect(await valueOf(outputs.StreamingWebSocketEndpoint)).to.equal("wss://chat.example.com");
      expect(recorder.named("qnabot-fulfillment").inputs.environment.variables[ENV.streamingEndpoint]).to.equal(
        `https://streaming-api-id.execute-api.${REGION}.amazonaws.com/Prod`,
      );
    });

    it("passes the guardrail to the function and allows applying that guardrail only", () => {
      expect(recorder.named("qnabot-fulfillment").inputs.environment.variables).to.deep.include({
        [GUARDRAIL_ENV.id]: "gr12345abcde",
        [GUARDRAIL_ENV.version]: "2",
        [GUARDRAIL_ENV.streamProcessingMode]: "async",
      });
      expect(statementsOf(recorder.named("qnabot-fulfillment-policy")).ApplyGuardrail).to.deep.equal({
        Action: ["bedrock:ApplyGuardrail"],
        Resource: [`arn:aws:bedrock:${REGION}:${ACCOUNT}:guardrail/gr12345abcde`],
      });
      expectNamedResources(recorder.named("qnabot-fulfillment-policy"));
    });
  });

  describe("in preview, where nothing has an id yet", () => {
    let recorder: Recorder;
    let outputs: StackOutputs;
    before(async () => {
      recorder = await installMocks({ preview: true });
      outputs = createStack(config({ enableStreaming: "true" }), FRESH_REGION);
      // Would never resolve if any registration waited on an output that cannot resolve.
      await registrationsSettled();
    });

    it("registers every resource and leaves the computed outputs unknown instead of hanging", async () => {
      expect(namesByType(recorder)).to.deep.equal(STREAMING_ON_RESOURCES);
      for (const key of ["QnaAskEndpoint", "FulfillmentFunctionArn", ...STREAMING_OUTPUTS] as const) {
        const output = outputs[key];
        if (!output) throw new Error(`${key} missing`);
        expect((await settle(output)).known, key).to.equal(false);
      }
    });

    it("still knows what does not depend on ids", () => {
      expect(recorder.named("streaming-stage").inputs.name).to.equal("Prod");
      expect(recorder.named("streaming-connect-route").inputs.authorizationType).to.equal("AWS_IAM");
      expect(recorder.named("streaming-connection").inputs.runtime).to.equal("nodejs22.x");
    });
  });
});
