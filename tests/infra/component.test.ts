import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { QnaBot } from "../../components/qna";
import { StreamingComponent, type StreamingComponentArgs } from "../../components/streaming";
import { expectNamedResources, statementsOf } from "./iam";
import { evaluate } from "../reliability/iam-eval";
import { installMocks, MOCK_ARNS, policyOf, registrationsSettled, TYPES, valueOf, type Recorder } from "./mocks";

const LAMBDA_TRUST = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

describe("StreamingComponent (components/streaming.ts)", function () {
  this.timeout(60_000);

  describe("two instances and several grantees in one program", () => {
    let recorder: Recorder;
    let first: StreamingComponent;
    let grants: aws.iam.RolePolicy[];
    before(async () => {
      recorder = await installMocks();
      first = new StreamingComponent("alpha", { stageName: "live" });
      const second = new StreamingComponent("beta");
      const web = new aws.iam.Role("web-client", { assumeRolePolicy: LAMBDA_TRUST });
      const mobile = new aws.iam.Role("mobile-client", { assumeRolePolicy: LAMBDA_TRUST });
      grants = [
        first.grantConnect(web),
        first.grantConnect(mobile),
        second.grantConnect(web),
        first.grantStreaming(web),
        first.grantConnect(web),
      ];
      await registrationsSettled();
    });

    it("gives every resource a unique name, prefixed by its own component's", () => {
      const names = recorder.resources.map((r) => r.name);
      expect(new Set(names).size).to.equal(names.length);
      for (const resource of recorder.resources.filter((r) => r.parent === "alpha" || r.parent === "beta")) {
        expect(resource.name.startsWith(`${resource.parent}-`), resource.name).to.equal(true);
      }
      expect(recorder.ofType(TYPES.api).map((api) => api.name).sort()).to.deep.equal(["alpha-api", "beta-api"]);
      expect(recorder.ofType(TYPES.table).map((t) => t.name).sort()).to.deep.equal(["alpha-connections", "beta-connections"]);
    });

    it("numbers each grant's policy per component and kind, and grants a role once", () => {
      expect(grants[4]).to.equal(grants[0]);
      const named = (name: string) => recorder.named(name).inputs.role as string;
      expect(recorder.ofType(TYPES.rolePolicy).map((p) => p.name).filter((n) => !n.endsWith("-connection-policy")).sort()).to.deep.equal([
        "alpha-connect-grant-1",
        "alpha-connect-grant-2",
        "alpha-streaming-grant-1",
        "beta-connect-grant-1",
      ]);
      expect([named("alpha-connect-grant-1"), named("alpha-connect-grant-2"), named("beta-connect-grant-1")]).to.deep.equal([
        "web-client",
        "mobile-client",
        "web-client",
      ]);
    });

    it("lets a chat client's role open a connection on this API's stage and nothing else", () => {
      const grant = recorder.named("alpha-connect-grant-2");
      expectNamedResources(grant);
      expect(grant.inputs.role).to.equal("mobile-client");
      expect(statementsOf(grant)).to.deep.equal({
        Connect: { Action: ["execute-api:Invoke"], Resource: [`${MOCK_ARNS.executeApi("alpha-api")}/live/$connect`] },
      });
    });

    it("uses its own stage name in endpoints and grants", async () => {
      expect(await valueOf(first.webSocketEndpoint)).to.equal("wss://alpha-api-id.execute-api.eu-west-1.amazonaws.com/live");
      expect(await valueOf(first.managementEndpoint)).to.equal("https://alpha-api-id.execute-api.eu-west-1.amazonaws.com/live");
      expect(await valueOf(first.stageName)).to.equal("live");
      expect(statementsOf(recorder.named("alpha-streaming-grant-1")).ManageConnections.Resource).to.deep.equal([
        `${MOCK_ARNS.executeApi("alpha-api")}/live/POST/@connections/*`,
        `${MOCK_ARNS.executeApi("alpha-api")}/live/DELETE/@connections/*`,
      ]);
    });
  });

  describe("grants to two roles with the same logical name under different parents", () => {
    it("gives each role its own policy (grants are keyed by the role resource, not its name)", async () => {
      const recorder = await installMocks();
      const chat = new StreamingComponent("chat");
      const roles = ["web", "mobile"].map((app) => {
        const parent = new pulumi.ComponentResource(`test:index:${app}App`, app);
        return new aws.iam.Role("client-role", { name: `${app}-client-role`, assumeRolePolicy: LAMBDA_TRUST }, { parent });
      });
      const policies = roles.map((role) => chat.grantConnect(role));
      expect(policies[0]).not.to.equal(policies[1]);
      await registrationsSettled();
      const grants = recorder.ofType(TYPES.rolePolicy).filter((p) => p.name.startsWith("chat-connect-"));
      expect(grants.map((g) => g.inputs.role).sort()).to.deep.equal(["mobile-client-role", "web-client-role"]);
    });
  });

  describe("options", () => {
    let recorder: Recorder;
    let component: StreamingComponent;
    before(async () => {
      recorder = await installMocks();
      component = new StreamingComponent("opt", {
        executionLogging: "INFO",
        accessLogging: false,
        throttlingBurstLimit: 7,
        throttlingRateLimit: 3,
        routeThrottling: { ping: { rateLimit: 1.5, burstLimit: 3 } },
        connectionTtlSeconds: 10800,
        asksPerConnection: 1,
        asksPerSession: 3,
        textFlushMs: 300,
        jsonFlushMs: 0,
        checkpointMs: 250,
        unboundSessionStreaming: true,
        logRetentionInDays: 14,
        memorySize: 256,
        timeout: 5,
        vpcConfig: { subnetIds: ["subnet-1"], securityGroupIds: ["sg-1"] },
        tags: { team: "chat" },
      });
      await registrationsSettled();
    });

    it("gives ping and $default route-level throttles of their own, and creates those routes before the stage (issue 21, finding 5)", () => {
      const stage = recorder.named("opt-stage");
      // Route settings replace the stage's defaults whole, logging included.
      expect(stage.inputs.routeSettings).to.deep.equal([
        { routeKey: "ping", throttlingBurstLimit: 3, throttlingRateLimit: 1.5, loggingLevel: "INFO", dataTraceEnabled: false },
        { routeKey: "$default", throttlingBurstLimit: 10, throttlingRateLimit: 5, loggingLevel: "INFO", dataTraceEnabled: false },
      ]);
      // API Gateway refuses route settings naming a route that does not exist yet ("Unable to find Route by key").
      expect(stage.dependsOn).to.include.members(["opt-ping-route", "opt-default-route", "opt-connect-route"]);
    });

    it("turns on execution logging only when asked, and drops access logs when turned off", () => {
      const stage = recorder.named("opt-stage").inputs;
      expect(stage.defaultRouteSettings).to.deep.equal({
        throttlingBurstLimit: 7,
        throttlingRateLimit: 3,
        loggingLevel: "INFO",
        dataTraceEnabled: false,
      });
      expect(stage).not.to.have.property("accessLogSettings");
      // API Gateway's own execution log group, made first so it gets a retention.
      expect(recorder.ofType(TYPES.logGroup).map((g) => [g.name, g.inputs.name, g.inputs.retentionInDays])).to.have.deep.members([
        ["opt-connection-logs", "/aws/lambda/opt-connection", 14],
        ["opt-execution-logs", "API-Gateway-Execution-Logs_opt-api-id/Prod", 14],
      ]);
      expect(recorder.named("opt-stage").dependsOn).to.include.members(["opt-execution-logs", "opt-apigateway-account"]);
    });

    it("sizes and places the connection function as asked, with the VPC managed policy attached", () => {
      const fn = recorder.named("opt-connection").inputs;
      expect(fn).to.deep.include({ memorySize: 256, timeout: 5, tags: { team: "chat" } });
      expect(fn.vpcConfig).to.deep.equal({ subnetIds: ["subnet-1"], securityGroupIds: ["sg-1"] });
      expect(fn.environment.variables.CONNECTION_TTL_SECONDS).to.equal("10800");
      expect(recorder.named("opt-connection-vpc").inputs).to.deep.equal({
        role: "opt-connection-role",
        policyArn: "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
      });
    });

    it("hands the frame budget, checkpoint interval, fair-use limits and unboundSessionStreaming to the functions that stream through it", async () => {
      const environment = await valueOf(pulumi.output(component.streamingEnvironment));
      expect(environment).to.deep.equal({
        STREAMING_ENDPOINT: "https://opt-api-id.execute-api.eu-west-1.amazonaws.com/Prod",
        CONNECTIONS_TABLE: "opt-connections",
        CONNECTION_TTL_SECONDS: "10800",
        STREAM_TEXT_FLUSH_MS: "300",
        STREAM_JSON_FLUSH_MS: "0",
        STREAM_CHECKPOINT_MS: "250",
        UNBOUND_SESSION_STREAMING: "true",
      });
      expect(component.askLimits).to.deep.equal({ perConnection: 1, perSession: 3 });
      // The connection function streams nothing: table, TTL, and whether unbound ids offer hooks a connectionId.
      expect(recorder.named("opt-connection").inputs.environment.variables).to.deep.include({ UNBOUND_SESSION_STREAMING: "true" });
      expect(Object.keys(recorder.named("opt-connection").inputs.environment.variables).sort()).to.deep.equal([
        "CONNECTIONS_TABLE",
        "CONNECTION_TTL_SECONDS",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_SERVICE_NAME",
        "UNBOUND_SESSION_STREAMING",
      ]);
    });

    it("refuses settings the functions would reject at run time, and a connection TTL under API Gateway's 2 hours", async () => {
      const fresh = await installMocks();
      expect(() => new StreamingComponent("ttl", { connectionTtlSeconds: 60 })).to.throw(
        "connectionTtlSeconds must be an integer from 7200 to 86400 (API Gateway keeps a connection open up to 7200 s; a row must not expire before its socket closes); got 60",
      );
      expect(() => new StreamingComponent("a", { asksPerConnection: 0 })).to.throw("asksPerConnection must be an integer from 1 to 100; got 0");
      expect(() => new StreamingComponent("b", { asksPerSession: 2.5 })).to.throw("asksPerSession must be an integer from 1 to 1000; got 2.5");
      expect(() => new StreamingComponent("rt", { routeThrottling: { ask: { rateLimit: 1, burstLimit: 1 } } as never })).to.throw(/routeThrottling names "ask"; only ping and \$default/);
      expect(() => new StreamingComponent("rt2", { routeThrottling: { ping: { rateLimit: 0, burstLimit: 1 } } })).to.throw(/routeThrottling.ping must be/);
      expect(() => new StreamingComponent("c", { textFlushMs: -1 })).to.throw("textFlushMs must be an integer from 0 to 60000");
      expect(() => new StreamingComponent("d", { jsonFlushMs: 60_001 })).to.throw("jsonFlushMs must be an integer from 0 to 60000");
      expect(() => new StreamingComponent("e", { checkpointMs: 49 })).to.throw("checkpointMs must be an integer from 50 to 60000");
      expect(() => new StreamingComponent("f", { tokenBudgetPerDay: -1 })).to.throw("tokenBudgetPerDay must be an integer from 0 to 1000000000; got -1");
      await registrationsSettled();
      expect(fresh.resources).to.deep.equal([]);
    });

    it("tags every taggable resource it creates", () => {
      for (const resource of recorder.resources.filter((r) => [TYPES.api, TYPES.table, TYPES.stage, TYPES.role, TYPES.logGroup, TYPES.function].includes(r.type as never))) {
        expect(resource.inputs.tags, resource.name).to.deep.equal({ team: "chat" });
      }
    });
  });

  describe("extra routes", () => {
    it("serves an extra route with the given function, scoped to that route", async () => {
      const recorder = await installMocks();
      const functionArn = "arn:aws:lambda:eu-west-1:123456789012:function:echo";
      new StreamingComponent("ext", { routes: { echo: { functionArn } } });
      await registrationsSettled();
      expect(recorder.named("ext-route-echo").inputs).to.deep.equal({
        apiId: "ext-api-id",
        routeKey: "echo",
        operationName: "echo",
        target: "integrations/ext-route-echo-integration-id",
      });
      expect(recorder.named("ext-route-echo-integration").inputs.integrationUri).to.equal(
        `arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/${functionArn}/invocations`,
      );
      expect(recorder.named("ext-route-echo-permission").inputs.sourceArn).to.equal(
        `${MOCK_ARNS.executeApi("ext-api")}/Prod/echo`,
      );
    });

    it("refuses to redefine a built-in route, an unsafe route key or stage name, before registering anything", async () => {
      const recorder = await installMocks();
      const functionArn = "arn:aws:lambda:eu-west-1:123456789012:function:f";
      expect(() => new StreamingComponent("bad1", { routes: { ping: { functionArn } } })).to.throw(
        "route ping is built into StreamingComponent",
      );
      expect(() => new StreamingComponent("bad2", { routes: { $default: { functionArn } } })).to.throw(/built into/);
      expect(() => new StreamingComponent("bad3", { routes: { "a::b": { functionArn } } })).to.throw(/route key must be/);
      expect(() => new StreamingComponent("bad4", { stageName: "$default" })).to.throw(/stageName must be/);
      await registrationsSettled();
      expect(recorder.resources).to.deep.equal([]);
    });
  });

  describe("removing or renaming a route", () => {
    const echo = (routeKey: string) => ({
      routes: { [routeKey]: { functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:echo" } },
    });

    it("leaves no Deployment snapshot behind: the stage auto-deploys every route change, deletes included", async () => {
      // Pulumi creates and updates first and deletes removed resources last. A Deployment
      // resource (replaced on a trigger) would be created while the removed route still exists
      // and keep serving it. With autoDeploy, API Gateway deploys again when Pulumi deletes
      // the route, so the order of the update's steps does not matter.
      const programs: StreamingComponentArgs[] = [echo("echo"), echo("shout"), {}];
      for (const args of programs) {
        const recorder = await installMocks();
        new StreamingComponent("ws", args);
        await registrationsSettled();
        expect(recorder.ofType(TYPES.deployment), JSON.stringify(args)).to.deep.equal([]);
        expect(recorder.named("ws-stage").inputs).to.include({ autoDeploy: true });
        // The built-in routes precede the stage (its route settings name them); every added one follows it.
        const builtIn = ["ws-connect-route", "ws-disconnect-route", "ws-default-route", "ws-ping-route"];
        expect(recorder.named("ws-stage").dependsOn).to.include.members(builtIn);
        const builtInIntegrations = ["ws-connection-integration", "ws-ping-integration"];
        const served = [TYPES.route, TYPES.integration, TYPES.routeResponse]
          .flatMap((type) => recorder.ofType(type))
          .filter((r) => !builtIn.some((route) => r.name.startsWith(route)) && !builtInIntegrations.includes(r.name));
        expect(served.length, JSON.stringify(args)).to.equal(Object.keys(args.routes ?? {}).length * 2);
        for (const resource of served) expect(resource.dependsOn, resource.name).to.include("ws-stage");
        const routeKeys = recorder.ofType(TYPES.route).map((r) => r.inputs.routeKey as string);
        expect(routeKeys.filter((key) => !["$connect", "$disconnect", "$default", "ping"].includes(key))).to.deep.equal(
          Object.keys(args.routes ?? {}),
        );
      }
    });
  });
});

describe("QnaBot (components/qna.ts)", function () {
  this.timeout(60_000);

  it("refuses a model setting that is not Bedrock's, before registering anything", async () => {
    const recorder = await installMocks();
    expect(() => new QnaBot("bot", { llmModelId: "arn:aws:lambda:eu-west-1:123456789012:function:f" })).to.throw(
      /not a Bedrock model/,
    );
    expect(() => new QnaBot("bot", { knowledgeBaseId: "KB12345678", knowledgeBaseModelId: "" })).to.throw(
      /not a Bedrock model/,
    );
    expect(() => new QnaBot("bot", { promptCaching: "always" as never })).to.throw('promptCaching must be one of auto, on, off; got "always"');
    expect(() => new QnaBot("bot", { bedrockLatency: "fast" as never })).to.throw("bedrockLatency must be one of standard, optimized");
    expect(() => new QnaBot("bot", { bedrockServiceTier: "gold" as never })).to.throw("bedrockServiceTier must be one of default, flex, priority, reserved");
    await registrationsSettled();
    expect(recorder.resources).to.deep.equal([]);
  });

  describe("grantAsk: who may ask over the streaming HTTP door", () => {
    let recorder: Recorder;
    let bot: QnaBot;
    let policies: aws.iam.RolePolicy[];
    before(async () => {
      recorder = await installMocks();
      const streaming = new StreamingComponent("ws");
      bot = new QnaBot("bot", { streaming });
      const web = new aws.iam.Role("web-client", { assumeRolePolicy: LAMBDA_TRUST });
      const backend = new aws.iam.Role("backend", { assumeRolePolicy: LAMBDA_TRUST });
      policies = [bot.grantAsk(web), bot.grantAsk(backend), bot.grantAsk(web)];
      await registrationsSettled();
    });

    it("grants a role once, numbering the policies in order of first grant", () => {
      expect(policies[2]).to.equal(policies[0]);
      expect(recorder.ofType(TYPES.rolePolicy).filter((p) => p.name.startsWith("bot-ask-grant-")).map((p) => [p.name, p.inputs.role])).to.deep.equal([
        ["bot-ask-grant-1", "web-client"],
        ["bot-ask-grant-2", "backend"],
      ]);
    });

    it("allows InvokeFunctionUrl through the AWS_IAM URL and InvokeFunction only via that URL, on the door's function alone", async () => {
      // "Control access to Lambda function URLs": function URLs created since October 2025 need
      // lambda:InvokeFunctionUrl and lambda:InvokeFunction; lambda:FunctionUrlAuthType and
      // lambda:InvokedViaFunctionUrl are the condition keys Lambda sets on those calls.
      const door = MOCK_ARNS.function("bot-streaming-http");
      expect(await valueOf(bot.streamingHttpFunctionArn)).to.equal(door);
      const grant = recorder.named("bot-ask-grant-1");
      expectNamedResources(grant);
      expect(statementsOf(grant)).to.deep.equal({
        InvokeStreamingHttpUrl: {
          Action: ["lambda:InvokeFunctionUrl"],
          Resource: [door],
          Condition: { StringEquals: { "lambda:FunctionUrlAuthType": "AWS_IAM" } },
        },
        InvokeStreamingHttpThroughUrl: {
          Action: ["lambda:InvokeFunction"],
          Resource: [door],
          Condition: { Bool: { "lambda:InvokedViaFunctionUrl": "true" } },
        },
      });
      const documents = [policyOf(grant)];
      const decide = (action: string, resource: string) => evaluate(documents, { action, resource });
      // Allowed only under the conditions above (the evaluator reports a conditioned allow as such).
      expect(decide("lambda:InvokeFunctionUrl", door)).to.deep.equal({ decision: "conditional-allow", statements: ["InvokeStreamingHttpUrl"] });
      expect(decide("lambda:InvokeFunction", door)).to.deep.equal({ decision: "conditional-allow", statements: ["InvokeStreamingHttpThroughUrl"] });
      // Nothing on the fulfillment function (a direct Invoke could forge the caller's identity in its event), nor anything else.
      for (const resource of [MOCK_ARNS.function("bot-fulfillment"), `${door}:live`, MOCK_ARNS.function("bot-streaming-http-2")]) {
        expect(decide("lambda:InvokeFunction", resource).decision, resource).to.equal("implicit-deny");
        expect(decide("lambda:InvokeFunctionUrl", resource).decision, resource).to.equal("implicit-deny");
      }
      for (const action of ["lambda:InvokeAsync", "lambda:GetFunction", "lambda:UpdateFunctionUrlConfig", "lambda:AddPermission"]) {
        expect(decide(action, door).decision, action).to.equal("implicit-deny");
      }
    });

    it("grants the same in the door's resource policy, naming the role, so either reading of InvokedViaFunctionUrl allows it", () => {
      // AWS documents lambda:InvokedViaFunctionUrl for resource-based policies (AddPermission's
      // InvokedViaFunctionUrl, FunctionUrlAuthType): in one account a resource policy naming the
      // role allows the call on its own, whatever IAM makes of the key in an identity policy.
      const door = MOCK_ARNS.function("bot-streaming-http");
      const permissions = recorder.ofType(TYPES.permission).filter((p) => p.name.startsWith("bot-ask-grant-"));
      expect(Object.fromEntries(permissions.map((p) => [p.name, p.inputs]))).to.deep.equal({
        "bot-ask-grant-1-url": {
          action: "lambda:InvokeFunctionUrl",
          function: door,
          principal: "arn:aws:iam::123456789012:role/web-client",
          functionUrlAuthType: "AWS_IAM",
        },
        "bot-ask-grant-1-invoke": {
          action: "lambda:InvokeFunction",
          function: door,
          principal: "arn:aws:iam::123456789012:role/web-client",
          invokedViaFunctionUrl: true,
        },
        "bot-ask-grant-2-url": {
          action: "lambda:InvokeFunctionUrl",
          function: door,
          principal: "arn:aws:iam::123456789012:role/backend",
          functionUrlAuthType: "AWS_IAM",
        },
        "bot-ask-grant-2-invoke": {
          action: "lambda:InvokeFunction",
          function: door,
          principal: "arn:aws:iam::123456789012:role/backend",
          invokedViaFunctionUrl: true,
        },
      });
    });

    it("exposes the function URL as the door's endpoint", async () => {
      expect(await valueOf(bot.streamingHttpEndpoint)).to.equal("https://bot-streaming-http-url-id.lambda-url.eu-west-1.on.aws/");
    });
  });

  it("has no door without streaming or with streamingHttp false, and grantAsk says so", async () => {
    const recorder = await installMocks();
    const alone = new QnaBot("alone");
    const off = new QnaBot("off", { streaming: new StreamingComponent("ws2"), streamingHttp: false });
    const role = new aws.iam.Role("someone", { assumeRolePolicy: LAMBDA_TRUST });
    for (const bot of [alone, off]) {
      expect(bot.streamingHttpEndpoint).to.equal(undefined);
      expect(() => bot.grantAsk(role)).to.throw(/has no streaming HTTP door to grant/);
    }
    await registrationsSettled();
    expect(recorder.ofType(TYPES.functionUrl)).to.deep.equal([]);
    expect(recorder.ofType(TYPES.function).map((f) => f.name).sort()).to.deep.equal(["alone-fulfillment", "off-fulfillment", "ws2-connection"]);
  });

  it("refuses bad door, concurrency and hook settings before registering anything", async () => {
    const recorder = await installMocks();
    const llmLambdaArn = "arn:aws:lambda:eu-west-1:123456789012:function:llm";
    const cases: [() => unknown, string | RegExp][] = [
      [() => new QnaBot("a", { reservedConcurrency: 0 }), "reservedConcurrency must not be 0: a reserved concurrency of 0 throttles every invocation (use -1 to reserve nothing)"],
      [() => new QnaBot("b", { reservedConcurrency: -5 }), "reservedConcurrency must be -1 (no reservation) or an integer from 1 to 100000; got -5"],
      [() => new QnaBot("c", { streamingHttp: {} }), "streamingHttp needs streaming (a StreamingComponent)"],
      [() => new QnaBot("d", { llmQaPromptTemplate: "{input}" }), "llmQaPromptTemplate applies to a custom LLM Lambda only: set llmLambdaArn too"],
      [() => new QnaBot("e", { llmLambdaArn, llmQaModelParams: [1] as never }), 'llmQaModelParams must be a JSON object, e.g. {"temperature":0}'],
      [() => new QnaBot("f", { llmLambdaArn, systemPrompt: "é".repeat(1501) }), /take 3002 bytes together; at most 3000 fit/],
      [() => new QnaBot("h", { outputLinkSchemes: ["https", "javascript"] }), 'outputLinkSchemes: links with the "javascript:" scheme run script or inline content and cannot be allowed'],
      [() => new QnaBot("i", { outputImageHosts: ["https://cdn.example.com"] }), 'outputImageHosts: "https://cdn.example.com" is not a host name (no scheme, port, path or wildcard)'],
      [() => new QnaBot("j", { tokenPricesUsdPerMillion: { input: -1, output: 4 } }), /tokenPricesUsdPerMillion: token prices must be "input,output"/],
      [() => new QnaBot("k", { sourceLinkBuckets: ["s3://kb-docs"] }), 'sourceLinkBuckets: "s3://kb-docs" is not an S3 bucket name'],
      [() => new QnaBot("l", { sourceLinkBuckets: ["kb-docs"], sourceLinkExpirySeconds: 604_801 }), "sourceLinkExpirySeconds must be an integer from 1 to 604800; got 604801"],
    ];
    for (const [make, message] of cases) expect(make).to.throw(message);
    await registrationsSettled();
    expect(recorder.resources).to.deep.equal([]);

    const withStreaming = await installMocks();
    const streaming = new StreamingComponent("ws3");
    const door = (streamingHttp: object) => () => new QnaBot("g", { streaming, streamingHttp });
    expect(door({ timeout: 901 })).to.throw("streamingHttp.timeout must be an integer from 1 to 900 seconds; got 901");
    expect(door({ reservedConcurrency: 0 })).to.throw("streamingHttp.reservedConcurrency must not be 0");
    expect(door({ corsOrigins: [] })).to.throw("streamingHttp.corsOrigins must list 1 to 100 origins (leave it unset for no CORS); got 0");
    expect(door({ corsOrigins: ["*"] })).to.throw('streamingHttp.corsOrigins must be explicit origins such as https://chat.example.com (lower-case scheme and host, optional port, no path, no *); got "*"');
    expect(door({ corsOrigins: ["https://ok.example.com", "https://x.example.com/path"] })).to.throw('got "https://x.example.com/path"');
    await registrationsSettled();
    expect(withStreaming.resources.filter((r) => r.name.startsWith("g-") || r.name === "g")).to.deep.equal([]);
  });
});
