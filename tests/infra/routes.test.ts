import * as path from "node:path";
import { expect } from "chai";
import { STREAMING_FUNCTION_TABLE_ACTIONS } from "../../functions/shared/connections";
import { ENV } from "../../functions/shared/env";
import { DEFAULT_FLUSH_INTERVAL_MS } from "../../functions/stream/writer";
import { BUNDLE_FILE } from "../../components/bundle";
import { METRICS_NAMESPACE } from "../../components/monitoring";
import { HANDLER_ROUTE_DEFAULTS, StreamingComponent } from "../../components/streaming";
import { expectLambdaTrust, expectNamedResources, statementsOf } from "./iam";
import { installMocks, MOCK_ARNS, registrationsSettled, TYPES, valueOf, type RecordedResource, type Recorder } from "./mocks";

const HANDLER = path.join(__dirname, "fixtures", "route-handler.ts");

async function archiveText(fn: RecordedResource): Promise<string> {
  const assets = (await fn.inputs.code.assets) as Record<string, { text: Promise<string> }>;
  return assets[BUNDLE_FILE].text;
}

describe("handler-file routes (StreamingComponent routes: { key: { handler } })", function () {
  // Bundles a handler with the AWS SDK: seconds on a small, busy machine.
  this.timeout(180_000);
  let recorder: Recorder;
  let component: StreamingComponent;
  const extraStatement = {
    Sid: "ReadDocs",
    Effect: "Allow" as const,
    Action: ["s3:GetObject"],
    Resource: ["arn:aws:s3:::docs-bucket/*"],
  };

  before(async () => {
    recorder = await installMocks();
    component = new StreamingComponent("chat", {
      routes: {
        ask: {
          handler: path.relative(process.cwd(), HANDLER),
          memorySize: 1024,
          timeout: 60,
          environment: { MODEL: "m-1" },
          policyStatements: [extraStatement],
        },
        echo: { handler: HANDLER },
      },
    });
    await registrationsSettled();
  });

  it("builds the handler inline into its own function, role and /aws/lambda log group", async () => {
    const fn = recorder.named("chat-ask-handler");
    expect(fn.type).to.equal(TYPES.function);
    expect(fn.inputs).to.deep.include({
      runtime: "nodejs22.x",
      handler: "index.handler",
      memorySize: 1024,
      timeout: 60,
      role: "arn:aws:iam::123456789012:role/chat-ask-handler-role",
      loggingConfig: { logFormat: "JSON" },
    });
    expect(recorder.named("chat-ask-handler-logs").inputs.name).to.equal("/aws/lambda/chat-ask-handler");
    expectLambdaTrust(recorder.named("chat-ask-handler-role"));
    const code = await archiveText(fn);
    expect(code).to.include("route-handler-fixture");
    // The stream library is bundled in: nothing resolves from the runtime's own packages.
    expect(code).to.include("PostToConnection");
    expect(component.routeFunctions.ask.function).to.be.an("object");
  });

  it("takes the documented defaults when memory and timeout are not given", () => {
    expect(recorder.named("chat-echo-handler").inputs).to.deep.include({
      memorySize: HANDLER_ROUTE_DEFAULTS.memorySize,
      timeout: HANDLER_ROUTE_DEFAULTS.timeout,
    });
  });

  it("sets the endpoint, table, frame budget and checkpoint interval the stream library reads, beside the route's own environment", () => {
    expect(recorder.named("chat-ask-handler").inputs.environment.variables).to.deep.equal({
      MODEL: "m-1",
      [ENV.streamingEndpoint]: "https://chat-api-id.execute-api.eu-west-1.amazonaws.com/Prod",
      [ENV.connectionsTable]: "chat-connections",
      [ENV.connectionTtlSeconds]: "7200",
      // The writer's own defaults: the component never restates them.
      [ENV.streamTextFlushMs]: String(DEFAULT_FLUSH_INTERVAL_MS.text),
      [ENV.streamJsonFlushMs]: String(DEFAULT_FLUSH_INTERVAL_MS.json),
      [ENV.streamCheckpointMs]: "1000",
      // Secure by default: Lex answers never stream to session ids bound to no identity.
      [ENV.unboundSessionStreaming]: "false",
      POWERTOOLS_SERVICE_NAME: "chat-ask",
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    });
  });

  it("grants the function streaming, its own logs and the route's extra statements, each resource named", () => {
    const policy = recorder.named("chat-ask-handler-policy");
    expectNamedResources(policy);
    expect(policy.inputs.role).to.equal("chat-ask-handler-role");
    expect(statementsOf(policy)).to.deep.equal({
      WriteOwnLogGroup: {
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: [MOCK_ARNS.lambdaLogGroup("chat-ask-handler"), `${MOCK_ARNS.lambdaLogGroup("chat-ask-handler")}:log-stream:*`],
      },
      ManageConnections: {
        Action: ["execute-api:ManageConnections"],
        Resource: [
          `${MOCK_ARNS.executeApi("chat-api")}/Prod/POST/@connections/*`,
          `${MOCK_ARNS.executeApi("chat-api")}/Prod/DELETE/@connections/*`,
        ],
      },
      ConnectionsTable: { Action: [...STREAMING_FUNCTION_TABLE_ACTIONS], Resource: [MOCK_ARNS.table("chat-connections")] },
      ReadDocs: { Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::docs-bucket/*"] },
    });
  });

  it("routes the key to the function, and lets API Gateway invoke it for that route only", () => {
    expect(recorder.named("chat-ask-handler").parent).to.equal("chat");
    expect(recorder.named("chat-route-ask-integration").inputs.integrationUri).to.equal(MOCK_ARNS.invoke("chat-ask-handler"));
    expect(recorder.named("chat-route-ask-permission").inputs).to.deep.equal({
      action: "lambda:InvokeFunction",
      function: MOCK_ARNS.function("chat-ask-handler"),
      principal: "apigateway.amazonaws.com",
      sourceArn: `${MOCK_ARNS.executeApi("chat-api")}/Prod/ask`,
    });
  });

  it("needs no deferred output: the endpoint is known to the route at construction", async () => {
    expect(await valueOf(component.managementEndpoint)).to.equal("https://chat-api-id.execute-api.eu-west-1.amazonaws.com/Prod");
  });

  it("refuses a missing handler file and a route that is both or neither form, before registering anything", async () => {
    const fresh = await installMocks();
    expect(() => new StreamingComponent("a", { routes: { ask: { handler: "no/such/file.ts" } } })).to.throw(
      /route ask: handler file not found: .*no\/such\/file\.ts/,
    );
    expect(
      () => new StreamingComponent("b", { routes: { ask: { handler: HANDLER, functionArn: "arn:aws:lambda:eu-west-1:1:function:f" } as never } }),
    ).to.throw("route ask needs exactly one of handler or functionArn");
    expect(() => new StreamingComponent("c", { routes: { ask: {} as never } })).to.throw(/exactly one of/);
    await registrationsSettled();
    expect(fresh.resources).to.deep.equal([]);
  });

  it("refuses a route environment that would override what the component sets", async () => {
    const fresh = await installMocks();
    expect(
      () => new StreamingComponent("d", { routes: { ask: { handler: HANDLER, environment: { [ENV.connectionsTable]: "other" } } } }),
    ).to.throw(`route ask: environment may not set ${ENV.connectionsTable}`);
    expect(
      () => new StreamingComponent("e", { routes: { ask: { handler: HANDLER, environment: { [ENV.streamJsonFlushMs]: "0" } } } }),
    ).to.throw(`route ask: environment may not set ${ENV.streamJsonFlushMs}`);
    await registrationsSettled();
    expect(fresh.resources).to.deep.equal([]);
  });
});
