import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_ASKS_PER_CONNECTION, DEFAULT_ASKS_PER_SESSION } from "../../functions/shared/ask-ledger";
import { DEFAULT_FLUSH_INTERVAL_MS } from "../../functions/stream/writer";
import { CONFIG_DEFAULTS, parseStackConfig, readStackConfig, type ConfigKey } from "../../components/config";

// js-yaml ships with @pulumi/pulumi (which reads Pulumi.yaml with it); it has no types here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require("js-yaml") as { load(text: string): unknown };

const ROOT = path.resolve(__dirname, "..", "..");

interface ProjectFile {
  name: string;
  main: string;
  runtime: { name: string; options: { typescript: boolean } };
  config: Record<string, { type: string; description: string; default: unknown }>;
}

function parse(values: Partial<Record<ConfigKey, string>>) {
  return parseStackConfig((key) => values[key]);
}

function parseError(values: Partial<Record<ConfigKey, string>>): string {
  try {
    parse(values);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected the configuration to be rejected");
}

describe("stack configuration (components/config.ts, Pulumi.yaml)", () => {
  it("takes the defaults when nothing is set, and treats empty strings as unset", () => {
    const config = parse({ knowledgeBaseId: "", lexBotAliasArn: " " });
    expect(config).to.deep.include({
      enableStreaming: false,
      llmModelId: CONFIG_DEFAULTS.llmModelId,
      streamingStageName: "Prod",
      connectionTtlSeconds: 7200,
      logRetentionInDays: 30,
      executionLogging: "OFF",
      streamingAccessLogs: true,
    });
    expect(config.knowledgeBaseId).to.equal(undefined);
    expect(config.lexBotAliasArn).to.equal(undefined);
  });

  it("parses every kind of value", () => {
    const config = parse({
      enableStreaming: "true",
      llmModelId: "us.anthropic.claude-3-5-haiku-20241022-v1:0",
      knowledgeBaseId: "KB12345678",
      knowledgeBaseModelId: "arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-pro-v1:0",
      streamingStageName: "dev_2",
      logRetentionInDays: "365",
      throttlingBurstLimit: "20",
      throttlingRateLimit: "10",
      connectionTtlSeconds: "10800",
      executionLogging: "ERROR",
      tracing: "true",
      lexBotAliasArn: "arn:aws:lex:eu-west-1:123456789012:bot-alias/ABCDEFGHIJ/TSTALIASID",
      llmLambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:my-llm:live",
      kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    });
    expect(config).to.deep.include({
      enableStreaming: true,
      llmModelId: "us.anthropic.claude-3-5-haiku-20241022-v1:0",
      knowledgeBaseId: "KB12345678",
      knowledgeBaseModelId: "arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-pro-v1:0",
      streamingStageName: "dev_2",
      logRetentionInDays: 365,
      throttlingBurstLimit: 20,
      throttlingRateLimit: 10,
      connectionTtlSeconds: 10800,
      executionLogging: "ERROR",
      tracing: true,
    });
  });

  it("parses output safety's allowlists, keeps their defaults, and refuses a script-running scheme or a non-host", () => {
    expect(parse({})).to.deep.include({ outputLinkSchemes: ["http", "https", "mailto"], outputImageHosts: [] });
    expect(parse({ outputLinkSchemes: "HTTPS, tel", outputImageHosts: "cdn.example.com" })).to.deep.include({
      outputLinkSchemes: ["https", "tel"],
      outputImageHosts: ["cdn.example.com"],
    });
    const message = parseError({ outputLinkSchemes: "https,javascript", outputImageHosts: "https://cdn.example.com/x" });
    expect(message).to.match(/outputLinkSchemes.*javascript.*cannot be allowed/);
    expect(message).to.match(/outputImageHosts.*not a host name/);
  });

  it("reports every bad value at once, naming the key, the rule and the value", () => {
    const message = parseError({
      enableStreaming: "yes",
      logRetentionInDays: "42",
      connectionTtlSeconds: "90000",
      throttlingRateLimit: "1.5",
      streamingStageName: "$default",
      executionLogging: "DEBUG",
      lexBotAliasArn: "arn:aws:lex:eu-west-1:123456789012:bot/ABCDEFGHIJ",
      llmModelId: "not a model",
    });
    expect(message).to.include('qnabot-streaming:enableStreaming must be true or false; got "yes"');
    expect(message).to.include("qnabot-streaming:logRetentionInDays must be one of 1, 3, 5, 7, 14, 30");
    expect(message).to.include('qnabot-streaming:connectionTtlSeconds must be an integer from 7200 to 86400; got "90000"');
    expect(message).to.include('qnabot-streaming:throttlingRateLimit must be an integer from 1 to 10000; got "1.5"');
    expect(message).to.include('qnabot-streaming:streamingStageName must be 1-128 characters');
    expect(message).to.include('qnabot-streaming:executionLogging must be one of OFF, ERROR, INFO; got "DEBUG"');
    expect(message).to.include("qnabot-streaming:lexBotAliasArn must be a Lex V2 bot alias ARN");
    expect(message).to.include('qnabot-streaming:llmModelId must be a Bedrock model id, inference profile id or model ARN; got "not a model"');
  });

  it("refuses a knowledge base model without a knowledge base, and a prompt over the environment budget", () => {
    expect(parseError({ knowledgeBaseModelId: "amazon.nova-pro-v1:0" })).to.include(
      "knowledgeBaseModelId only applies with knowledgeBaseId",
    );
    expect(parseError({ systemPrompt: "x".repeat(2001) })).to.include("systemPrompt must be at most 2000 characters");
  });

  it("reads the CloudWatch role, custom domain, monitoring and guardrail settings", () => {
    const config = parse({
      apiGatewayCloudWatchRole: "existing",
      streamingDomainName: "chat.example.com",
      streamingCertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab",
      streamingHostedZoneId: "Z0123456789ABC",
      streamingBasePath: "v1",
      monitoring: "true",
      alarmTopicArn: "arn:aws:sns:eu-west-1:123456789012:alarms",
      guardrailId: "abc123def456",
      guardrailVersion: "3",
      guardrailStreamProcessingMode: "sync",
    });
    expect(config).to.deep.include({
      apiGatewayCloudWatchRole: "existing",
      streamingDomainName: "chat.example.com",
      streamingHostedZoneId: "Z0123456789ABC",
      streamingBasePath: "v1",
      monitoring: true,
      alarmTopicArn: "arn:aws:sns:eu-west-1:123456789012:alarms",
      guardrailId: "abc123def456",
      guardrailVersion: "3",
      guardrailStreamProcessingMode: "sync",
    });
    expect(parse({})).to.deep.include({ apiGatewayCloudWatchRole: "auto", monitoring: false, guardrailStreamProcessingMode: "async" });
  });

  it('turns the stage\'s access logs off with apiGatewayCloudWatchRole "none", and refuses execution logging then', () => {
    expect(parse({ apiGatewayCloudWatchRole: "none" }).streamingAccessLogs).to.equal(false);
    expect(parseError({ apiGatewayCloudWatchRole: "none", executionLogging: "ERROR" })).to.include(
      'qnabot-streaming:executionLogging must be OFF with apiGatewayCloudWatchRole "none"',
    );
  });

  it("refuses incomplete or malformed domain, monitoring and guardrail settings, naming each", () => {
    const message = parseError({
      apiGatewayCloudWatchRole: "maybe",
      streamingDomainName: "Chat.Example.com",
      streamingBasePath: "a/b",
      streamingHostedZoneId: "zone",
      alarmTopicArn: "arn:aws:sns:eu-west-1:123456789012:alarms",
      guardrailId: "my guardrail",
      guardrailStreamProcessingMode: "fast",
    });
    expect(message).to.include('qnabot-streaming:apiGatewayCloudWatchRole must be one of auto, create, existing, none; got "maybe"');
    expect(message).to.include("qnabot-streaming:streamingDomainName must be a lower-case fully qualified domain name");
    expect(message).to.include("qnabot-streaming:streamingCertificateArn is required with streamingDomainName");
    expect(message).to.include("qnabot-streaming:streamingBasePath must be 1-300 characters of A-Z a-z 0-9 . _ -");
    expect(message).to.include("qnabot-streaming:streamingHostedZoneId must be a Route 53 hosted zone id");
    expect(message).to.include("qnabot-streaming:alarmTopicArn only applies with monitoring true");
    expect(message).to.include("qnabot-streaming:guardrailId must be a Bedrock guardrail id or ARN");
    expect(message).to.include("qnabot-streaming:guardrailVersion is required with guardrailId");
    expect(message).to.include('qnabot-streaming:guardrailStreamProcessingMode must be one of async, sync; got "fast"');
    expect(parseError({ streamingCertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/abc" })).to.include(
      "streamingCertificateArn only applies with streamingDomainName",
    );
    expect(parseError({ guardrailVersion: "DRAFT" })).to.include("guardrailVersion only applies with guardrailId");
  });

  it("never lets a connection row expire before API Gateway's 2-hour connection limit (the attack run's 60 s TTL)", () => {
    // API Gateway quotas for WebSocket APIs: "Connection duration for WebSocket API: 2 hours".
    for (const ttl of ["60", "7199"]) {
      expect(parseError({ connectionTtlSeconds: ttl })).to.include(
        `qnabot-streaming:connectionTtlSeconds must be at least 7200: API Gateway keeps a WebSocket connection open up to 2 hours`,
      );
    }
    expect(parse({ connectionTtlSeconds: "7200" }).connectionTtlSeconds).to.equal(7200);
    expect(parse({ connectionTtlSeconds: "86400" }).connectionTtlSeconds).to.equal(86400);
  });

  it("links no source by default; reads the bucket allowlist and link expiry, and refuses a bad bucket name or an expiry SigV4 cannot sign", () => {
    expect(parse({})).to.deep.include({ sourceLinkBuckets: [], sourceLinkExpirySeconds: 900 });
    expect(parse({ sourceLinkBuckets: "kb-docs, kb.manuals.example", sourceLinkExpirySeconds: "3600" })).to.deep.include({
      sourceLinkBuckets: ["kb-docs", "kb.manuals.example"],
      sourceLinkExpirySeconds: 3600,
    });
    const message = parseError({ sourceLinkBuckets: "KB_Docs", sourceLinkExpirySeconds: "604801" });
    expect(message).to.include('qnabot-streaming:sourceLinkBuckets must be a comma-separated list: "KB_Docs" is not an S3 bucket name');
    expect(message).to.include("qnabot-streaming:sourceLinkExpirySeconds must be an integer from 1 to 604800");
  });

  it("leaves token budgets off and shows no cost estimate by default; reads both, and refuses bad values or a budget without streaming", () => {
    expect(parse({})).to.deep.include({ tokenBudgetPerDay: 0, tokenPricesUsdPerMillion: undefined });
    expect(parse({ enableStreaming: "true", tokenBudgetPerDay: "200000", tokenPricesUsdPerMillion: "0.8,4" })).to.deep.include({
      tokenBudgetPerDay: 200_000,
      tokenPricesUsdPerMillion: { input: 0.8, output: 4 },
    });
    const message = parseError({ tokenBudgetPerDay: "-5", tokenPricesUsdPerMillion: "cheap" });
    expect(message).to.include('qnabot-streaming:tokenBudgetPerDay must be an integer from 0 to 1000000000; got "-5"');
    expect(message).to.include('qnabot-streaming:tokenPricesUsdPerMillion token prices must be "input,output"');
    expect(parseError({ tokenBudgetPerDay: "1000" })).to.include("qnabot-streaming:tokenBudgetPerDay needs enableStreaming");
  });

  it("keeps the component's route throttles by default; reads route=rate:burst pairs, and refuses a bad pair, an unknown route, or a setting without streaming", () => {
    expect(parse({}).routeThrottling).to.deep.equal({});
    expect(parse({ enableStreaming: "true", routeThrottling: "ping=2.5:4, $default=1:2" }).routeThrottling).to.deep.equal({
      ping: { rateLimit: 2.5, burstLimit: 4 },
      $default: { rateLimit: 1, burstLimit: 2 },
    });
    expect(parse({ enableStreaming: "true", routeThrottling: "ping=20:40" }).routeThrottling).to.deep.equal({ ping: { rateLimit: 20, burstLimit: 40 } });
    const cases: [string, string][] = [
      ["ask=5:10", 'names route "ask"; only ping and $default have a throttle of their own'],
      ["ping=10:20,=5:10", "(in a shell, quote the value: $default expands to nothing)"],
      ["ping=0:20", `ping's rate must be a positive number of requests per second up to 10000, not "0"`],
      ["ping=10:0", `ping's burst must be a whole number of requests from 1 to 5000, not "0"`],
      ["ping=10:2.5", `ping's burst must be a whole number`],
      ["ping=10", `is not route=rate:burst joined by commas`],
      ["ping=1:1,ping=2:2", "route ping is given twice"],
    ];
    for (const [value, message] of cases) {
      const error = parseError({ enableStreaming: "true", routeThrottling: value });
      expect(error, value).to.include(`qnabot-streaming:routeThrottling is wrong: `);
      expect(error, value).to.include(message);
    }
    expect(parseError({ routeThrottling: "ping=1:1" })).to.include("qnabot-streaming:routeThrottling only applies with enableStreaming");
  });

  it("reads feedbackTtlDays: 0 (no feedback) by default, bounded, and only with streaming", () => {
    expect(parse({}).feedbackTtlDays).to.equal(0);
    expect(parse({ enableStreaming: "true", feedbackTtlDays: "30" }).feedbackTtlDays).to.equal(30);
    expect(parseError({ enableStreaming: "true", feedbackTtlDays: "3651" })).to.include('qnabot-streaming:feedbackTtlDays must be an integer from 0 to 3650; got "3651"');
    expect(parseError({ feedbackTtlDays: "30" })).to.include("qnabot-streaming:feedbackTtlDays needs enableStreaming");
  });

  it("caches prompts where the model supports it and sends no latency or tier by default; reads them, and refuses values outside their enums", () => {
    expect(parse({})).to.deep.include({ promptCaching: "auto", bedrockLatency: undefined, bedrockServiceTier: undefined });
    expect(parse({ promptCaching: "off", bedrockLatency: "optimized", bedrockServiceTier: "priority" })).to.deep.include({
      promptCaching: "off",
      bedrockLatency: "optimized",
      bedrockServiceTier: "priority",
    });
    const message = parseError({ promptCaching: "yes", bedrockLatency: "fast", bedrockServiceTier: "gold" });
    expect(message).to.include('qnabot-streaming:promptCaching must be one of auto, on, off; got "yes"');
    expect(message).to.include('qnabot-streaming:bedrockLatency must be one of standard, optimized; got "fast"');
    expect(message).to.include('qnabot-streaming:bedrockServiceTier must be one of default, flex, priority, reserved; got "gold"');
  });

  it("defaults the streaming HTTP door, fair use, reserved concurrency and frame budget to the functions' own defaults", () => {
    expect(parse({})).to.deep.include({
      streamingHttpEndpoint: true,
      streamingHttpTimeout: 300,
      streamingHttpReservedConcurrency: -1,
      fulfillmentReservedConcurrency: -1,
      asksPerConnection: DEFAULT_ASKS_PER_CONNECTION,
      asksPerSession: DEFAULT_ASKS_PER_SESSION,
      streamTextFlushMs: DEFAULT_FLUSH_INTERVAL_MS.text,
      streamJsonFlushMs: DEFAULT_FLUSH_INTERVAL_MS.json,
      streamCheckpointMs: 1000,
      unboundSessionStreaming: false,
    });
    const defaults = parse({});
    expect(defaults.streamingHttpCorsOrigins).to.equal(undefined);
    expect(defaults.llmQaPromptTemplate).to.equal(undefined);
    expect(defaults.llmQaModelParams).to.equal(undefined);
  });

  it("reads the HTTP door, fair-use, frame-budget and hook settings", () => {
    const config = parse({
      streamingHttpEndpoint: "false",
      streamingHttpTimeout: "900",
      streamingHttpCorsOrigins: "https://chat.example.com, http://localhost:5173",
      streamingHttpReservedConcurrency: "-1",
      fulfillmentReservedConcurrency: "250",
      asksPerConnection: "1",
      asksPerSession: "8",
      streamTextFlushMs: "0",
      streamJsonFlushMs: "250",
      streamCheckpointMs: "500",
      unboundSessionStreaming: "true",
      llmLambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:my-llm",
      llmQaPromptTemplate: "Answer from {context}.<br>{history}<br>Q: {input}",
      llmQaModelParams: '{"temperature":0,"top_p":0.9}',
    });
    expect(config).to.deep.include({
      streamingHttpEndpoint: false,
      streamingHttpTimeout: 900,
      streamingHttpCorsOrigins: ["https://chat.example.com", "http://localhost:5173"],
      streamingHttpReservedConcurrency: -1,
      fulfillmentReservedConcurrency: 250,
      asksPerConnection: 1,
      asksPerSession: 8,
      streamTextFlushMs: 0,
      streamJsonFlushMs: 250,
      streamCheckpointMs: 500,
      unboundSessionStreaming: true,
      llmQaPromptTemplate: "Answer from {context}.<br>{history}<br>Q: {input}",
      llmQaModelParams: { temperature: 0, top_p: 0.9 },
    });
  });

  it("refuses a reserved concurrency of 0, which throttles every invocation, and other bad door and budget settings", () => {
    const message = parseError({
      fulfillmentReservedConcurrency: "0",
      streamingHttpReservedConcurrency: "-2",
      streamingHttpTimeout: "901",
      streamingHttpCorsOrigins: "*",
      asksPerConnection: "0",
      asksPerSession: "1001",
      streamTextFlushMs: "-1",
      streamJsonFlushMs: "60001",
      streamCheckpointMs: "10",
    });
    expect(message).to.include(
      'qnabot-streaming:fulfillmentReservedConcurrency must not be 0: a reserved concurrency of 0 throttles every invocation (-1 reserves nothing); got "0"',
    );
    expect(message).to.include('qnabot-streaming:streamingHttpReservedConcurrency must be an integer from -1 to 100000; got "-2"');
    expect(message).to.include('qnabot-streaming:streamingHttpTimeout must be an integer from 1 to 900; got "901"');
    expect(message).to.include('qnabot-streaming:streamingHttpCorsOrigins must be explicit browser origins separated by commas');
    expect(message).to.include('qnabot-streaming:asksPerConnection must be an integer from 1 to 100; got "0"');
    expect(message).to.include('qnabot-streaming:asksPerSession must be an integer from 1 to 1000; got "1001"');
    expect(message).to.include('qnabot-streaming:streamTextFlushMs must be an integer from 0 to 60000; got "-1"');
    expect(message).to.include('qnabot-streaming:streamJsonFlushMs must be an integer from 0 to 60000; got "60001"');
    expect(message).to.include('qnabot-streaming:streamCheckpointMs must be an integer from 50 to 60000; got "10"');
    for (const origins of ["https://chat.example.com/", "https://chat.example.com/page", "HTTPS://Chat.example.com", "chat.example.com", ","]) {
      expect(parseError({ streamingHttpCorsOrigins: origins }), origins).to.include("streamingHttpCorsOrigins must be explicit browser origins");
    }
  });

  it("refuses QnABot hook settings without a custom LLM Lambda, model params that are not a JSON object, and an environment over budget", () => {
    const llmLambdaArn = "arn:aws:lambda:eu-west-1:123456789012:function:my-llm";
    expect(parseError({ llmQaPromptTemplate: "{input}" })).to.include(
      "qnabot-streaming:llmQaPromptTemplate only applies with llmLambdaArn (a custom LLM Lambda), which is not set",
    );
    expect(parseError({ llmQaModelParams: "{}" })).to.include("qnabot-streaming:llmQaModelParams only applies with llmLambdaArn");
    for (const params of ["[1,2]", "null", "0.5", "{temperature:0}", '"x"']) {
      expect(parseError({ llmLambdaArn, llmQaModelParams: params }), params).to.include(
        `qnabot-streaming:llmQaModelParams must be a JSON object, e.g. {"temperature":0}; got ${JSON.stringify(params)}`,
      );
    }
    expect(parseError({ llmLambdaArn, systemPrompt: "s".repeat(2000), llmQaPromptTemplate: "t".repeat(1001) })).to.include(
      "qnabot-streaming:llmQaPromptTemplate with systemPrompt and llmQaModelParams must take at most 3000 bytes (Lambda's 4 KB environment); got \"3001 bytes\"",
    );
  });

  // Lex V2 gives a code hook 30 s (RecognizeText); the budget must answer before that and leave the 5 s margin.
  it("takes the Lex answer budget below Lex's 30 s code hook cut only", () => {
    expect(parse({}).lexAnswerBudgetMs).to.equal(25_000);
    expect(parse({ lexAnswerBudgetMs: "12000" }).lexAnswerBudgetMs).to.equal(12_000);
    for (const wrong of ["30000", "5000", "fast"]) expect(parseError({ lexAnswerBudgetMs: wrong }), wrong).to.include("lexAnswerBudgetMs");
  });

  it("fails as a Pulumi RunError, which the CLI prints without a stack trace", () => {
    let error: unknown;
    try {
      parse({ memoryTurns: "-1" });
    } catch (caught) {
      error = caught;
    }
    expect(pulumi.RunError.isInstance(error)).to.equal(true);
  });

  it("reads the values from Pulumi config of the project", () => {
    const config = new pulumi.Config("qnabot-streaming");
    const original = pulumi.runtime.allConfig();
    try {
      pulumi.runtime.setAllConfig({ "qnabot-streaming:enableStreaming": "true", "qnabot-streaming:memoryTurns": "9" });
      expect(readStackConfig(config)).to.deep.include({ enableStreaming: true, memoryTurns: 9 });
    } finally {
      pulumi.runtime.setAllConfig(original);
    }
  });

  describe("Pulumi.yaml", () => {
    const project = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as ProjectFile;
    const typeOf = { boolean: "boolean", number: "integer", string: "string" } as const;

    it("is the TypeScript program qnabot-streaming with index.ts as main", () => {
      expect(project.name).to.equal("qnabot-streaming");
      expect(project.runtime).to.deep.equal({ name: "nodejs", options: { typescript: true } });
      expect(project.main).to.equal("index.ts");
    });

    it("declares every setting with a type, a description and the program's default", () => {
      expect(Object.keys(project.config).sort()).to.deep.equal(Object.keys(CONFIG_DEFAULTS).sort());
      for (const [key, fallback] of Object.entries(CONFIG_DEFAULTS)) {
        const declared = project.config[key];
        expect(declared.type, key).to.equal(typeOf[typeof fallback as keyof typeof typeOf]);
        expect(declared.description, key).to.be.a("string").and.have.length.greaterThan(10);
        // Pulumi requires a default for every declared key the stack may leave unset.
        expect(declared.default, key).to.deep.equal(fallback);
      }
    });

    it("has a dev stack with streaming on that the config parser accepts", () => {
      const stack = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as {
        config: Record<string, string>;
      };
      expect(stack.config["aws:region"]).to.match(/^[a-z]{2}(-[a-z]+)+-\d$/);
      const values = Object.fromEntries(
        Object.entries(stack.config)
          .filter(([key]) => key.startsWith("qnabot-streaming:"))
          .map(([key, value]) => [key.slice("qnabot-streaming:".length), String(value)]),
      );
      expect(parseStackConfig((key) => values[key]).enableStreaming).to.equal(true);
    });
  });
});
