import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { parseStackConfig, type ConfigKey } from "../../components/config";
import { ALARM_THRESHOLDS, functionNameOfArn, POWERTOOLS_ENV } from "../../components/monitoring";
import { StreamingComponent } from "../../components/streaming";
import { createStack } from "../../components/stack";
import { installMocks, registrationsSettled, TYPES, type Recorder } from "./mocks";

/** WebSocket API metrics, "Monitor WebSocket API execution with CloudWatch metrics" (dimensions ApiId, Stage). */
const DOCUMENTED_API_GATEWAY_METRICS = ["ConnectCount", "MessageCount", "IntegrationError", "ClientError", "ExecutionError", "IntegrationLatency"];
/** Lambda function metrics, "Types of metrics for Lambda functions" (dimension FunctionName). */
const DOCUMENTED_LAMBDA_METRICS = ["Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"];

interface Emf {
  namespace: string;
  dimensions: string[][];
  metrics: string[];
  values: Record<string, unknown>;
}

/**
 * Runs the stream writer's real reporter and the token meter with a function's environment as
 * the stack set it and returns the EMF documents they printed: what that function really emits.
 */
async function emittedBy(environment: Record<string, string>): Promise<Emf[]> {
  const script = path.join(__dirname, "fixtures", "emit-stream-metrics.ts");
  const { stdout } = await promisify(execFile)(process.execPath, ["--require", "tsx/cjs", script], {
    env: { PATH: process.env.PATH ?? "", ...environment },
  });
  const lines = stdout.split("\n").filter((l) => l.includes('"_aws"'));
  if (lines.length === 0) throw new Error(`no EMF document in:\n${stdout}`);
  return lines.map((line) => {
    const doc = JSON.parse(line) as {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
    } & Record<string, unknown>;
    const [directive] = doc._aws.CloudWatchMetrics;
    return {
      namespace: directive.Namespace,
      dimensions: directive.Dimensions,
      metrics: directive.Metrics.map((m) => m.Name),
      values: doc,
    };
  });
}

const SEARCH = /^SEARCH\('\{([^,}]+),([^}]+)\} MetricName="([^"]+)"', '([^']+)', (\d+)\)$/;

describe("monitoring (components/monitoring.ts)", function () {
  // Starts a Node process per function to capture what its code emits.
  this.timeout(120_000);
  let recorder: Recorder;
  const topic = "arn:aws:sns:eu-west-1:123456789012:qna-alarms";
  let fulfillmentEmf: Emf[];

  before(async () => {
    recorder = await installMocks();
    const values: Partial<Record<ConfigKey, string>> = { enableStreaming: "true", monitoring: "true", alarmTopicArn: topic };
    createStack(parseStackConfig((key) => values[key]), {});
    await registrationsSettled();
    const variables = recorder.named("qnabot-fulfillment").inputs.environment.variables as Record<string, string>;
    fulfillmentEmf = await emittedBy({
      [POWERTOOLS_ENV.service]: variables[POWERTOOLS_ENV.service],
      [POWERTOOLS_ENV.namespace]: variables[POWERTOOLS_ENV.namespace],
    });
  });

  function dashboard(): { widgets: { properties: { title: string; metrics: unknown[][] } }[] } {
    const [board] = recorder.ofType(TYPES.dashboard);
    expect(board.name).to.equal("streaming-dashboard");
    expect(board.inputs.dashboardName).to.equal("streaming-streaming-api-id");
    return JSON.parse(board.inputs.dashboardBody as string);
  }

  it("charts only stream metrics the functions really emit, in their namespace and with their dimensions", () => {
    const searches = dashboard()
      .widgets.flatMap((w) => w.properties.metrics)
      .map((m) => m[0])
      .filter((m): m is { expression: string } => typeof m === "object" && m !== null && "expression" in m)
      .map((m) => SEARCH.exec(m.expression));
    expect(searches.length).to.be.greaterThan(0);
    const charted = new Set<string>();
    for (const match of searches) {
      expect(match, "a SEARCH over the EMF namespace").not.to.equal(null);
      const [, namespace, dimensions, metric, stat] = match as RegExpExecArray;
      const emitted = fulfillmentEmf.find((emf) => emf.metrics.includes(metric));
      expect(emitted, `${metric} is emitted`).not.to.equal(undefined);
      expect(namespace).to.equal(emitted!.namespace);
      expect([dimensions.split(",")]).to.deep.equal(emitted!.dimensions);
      expect(stat).to.match(/^(p50|p90|Average|Sum|SampleCount)$/);
      charted.add(`${metric}:${stat}`);
    }
    // Time to first token p50/p90, posts per answer, gone connections, retries.
    expect([...charted]).to.include.members([
      "StreamTtftMs:p50",
      "StreamTtftMs:p90",
      "StreamPosts:Average",
      "StreamGoneConnections:Sum",
      "StreamRetries:Sum",
      // Token metering per model, and budget refusals (issue 24).
      "InputTokens:Sum",
      "OutputTokens:Sum",
      "CacheReadInputTokens:Sum",
      "CacheWriteInputTokens:Sum",
      "BudgetRefusals:Sum",
      // Feedback counts (issue 24).
      "FeedbackUp:Sum",
      "FeedbackDown:Sum",
    ]);
    // The SEARCH covers every service: the fulfillment function's is one of them.
    expect(fulfillmentEmf[0].values.service).to.equal("qnabot-streaming-fulfillment");
    expect(fulfillmentEmf.find((emf) => emf.metrics.includes("InputTokens"))!.values.model).to.equal("m1");
  });

  it("charts API Gateway metrics of this API and stage, and Lambda metrics of the stack's functions", () => {
    const series = dashboard()
      .widgets.flatMap((w) => w.properties.metrics)
      .filter((m) => typeof m[0] === "string") as string[][];
    const functions = recorder.ofType(TYPES.function).map((f) => f.name);
    const seen = new Set<string>();
    for (const [namespace, metric, ...rest] of series) {
      const names = rest.filter((r) => typeof r === "string");
      const dimensions: Record<string, string> = {};
      for (let i = 0; i + 1 < names.length; i += 2) dimensions[names[i]] = names[i + 1];
      seen.add(`${namespace}/${metric}`);
      if (namespace === "AWS/ApiGateway") {
        expect(DOCUMENTED_API_GATEWAY_METRICS).to.include(metric);
        expect(dimensions).to.deep.equal({ ApiId: "streaming-api-id", Stage: "Prod" });
      } else {
        expect(namespace).to.equal("AWS/Lambda");
        expect(DOCUMENTED_LAMBDA_METRICS).to.include(metric);
        expect(functions).to.include(dimensions.FunctionName);
      }
    }
    expect([...seen]).to.include.members([
      "AWS/ApiGateway/ConnectCount",
      "AWS/ApiGateway/MessageCount",
      "AWS/ApiGateway/IntegrationError",
      "AWS/ApiGateway/ClientError",
      "AWS/ApiGateway/ExecutionError",
      "AWS/Lambda/Errors",
      "AWS/Lambda/Throttles",
      "AWS/Lambda/ConcurrentExecutions",
      "AWS/Lambda/Duration",
    ]);
    // The `ask` route's function (given by ARN) is charted under its name, and the streaming
    // HTTP door's function (no route: a monitored function whose name arrives after the component).
    const lambdaFunctions = series.filter((s) => s[0] === "AWS/Lambda").map((s) => s[3]);
    expect(new Set(lambdaFunctions)).to.deep.equal(new Set(["streaming-connection", "qnabot-fulfillment", "qnabot-streaming-http"]));
  });

  it("alarms on integration and execution errors, and on each function's errors and throttles, notifying the topic", () => {
    const alarms = Object.fromEntries(recorder.ofType(TYPES.alarm).map((a) => [a.name, a.inputs]));
    expect(Object.keys(alarms).sort()).to.deep.equal([
      "streaming-alarm-connection-errors",
      "streaming-alarm-connection-throttles",
      "streaming-alarm-execution-errors",
      "streaming-alarm-fulfillment-errors",
      "streaming-alarm-fulfillment-throttles",
      "streaming-alarm-integration-errors",
      "streaming-alarm-streaming-http-errors",
      "streaming-alarm-streaming-http-throttles",
    ]);
    for (const [name, alarm] of Object.entries(alarms)) {
      expect(alarm, name).to.deep.include({
        alarmActions: [topic],
        okActions: [topic],
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        statistic: "Sum",
        period: 300,
        treatMissingData: "notBreaching",
      });
      if (alarm.namespace === "AWS/ApiGateway") {
        expect(DOCUMENTED_API_GATEWAY_METRICS).to.include(alarm.metricName);
        expect(alarm.dimensions).to.deep.equal({ ApiId: "streaming-api-id", Stage: "Prod" });
      } else {
        expect(alarm.namespace).to.equal("AWS/Lambda");
        expect(DOCUMENTED_LAMBDA_METRICS).to.include(alarm.metricName);
      }
    }
    // The fulfillment function serves ask, resume and cancel (and Lex, and POST /ask): its alarm
    // watches the whole function, so it is named for the function, not for one route.
    expect(alarms["streaming-alarm-fulfillment-errors"].dimensions).to.deep.equal({ FunctionName: "qnabot-fulfillment" });
    expect(alarms["streaming-alarm-fulfillment-errors"].alarmDescription).to.equal("The fulfillment function failed");
    expect(alarms["streaming-alarm-streaming-http-throttles"].dimensions).to.deep.equal({ FunctionName: "qnabot-streaming-http" });
    expect(alarms["streaming-alarm-integration-errors"].threshold).to.equal(ALARM_THRESHOLDS.integrationErrors);
    expect(alarms["streaming-alarm-connection-throttles"].threshold).to.equal(ALARM_THRESHOLDS.functionThrottles);
  });

  it("a handler route's function emits into the same namespace and dimensions, under its own service", async () => {
    // What a consumer's handler route emits, with the environment the component gives it.
    const [emf] = await emittedBy({ [POWERTOOLS_ENV.service]: "chat-ask", [POWERTOOLS_ENV.namespace]: fulfillmentEmf[0].namespace });
    expect(emf.namespace).to.equal(fulfillmentEmf[0].namespace);
    expect(emf.dimensions).to.deep.equal(fulfillmentEmf[0].dimensions);
    expect(emf.values.service).to.equal("chat-ask");
  });

  it("is off by default, and an alarm topic without monitoring is refused", async () => {
    const fresh = await installMocks();
    createStack(parseStackConfig((key) => ({ enableStreaming: "true" })[key as string]), {});
    await registrationsSettled();
    expect(fresh.ofType(TYPES.dashboard)).to.deep.equal([]);
    expect(fresh.ofType(TYPES.alarm)).to.deep.equal([]);
    expect(() => parseStackConfig((key) => ({ alarmTopicArn: topic })[key as string])).to.throw(
      "alarmTopicArn only applies with monitoring true",
    );
  });

  it("monitors extra functions only with monitoring on, under safe keys, and none for a stack without the HTTP door", async () => {
    expect(() => new StreamingComponent("m1", { monitoredFunctions: { door: "fn" } })).to.throw("monitoredFunctions needs monitoring: true");
    for (const key of ["connection", "route-ask", "a b", ""]) {
      expect(() => new StreamingComponent("m2", { monitoring: true, monitoredFunctions: { [key]: "fn" } }), key).to.throw(
        /monitoredFunctions key must be 1-64 characters/,
      );
    }
    expect(
      () => new StreamingComponent("m3", { monitoring: true, routes: { ask: { functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:f", label: "route-x" } } }),
    ).to.throw('routes.ask.label must be 1-64 characters of A-Z a-z 0-9 _ -, not "connection" nor "route-…"; got "route-x"');
    const fresh = await installMocks();
    createStack(parseStackConfig((key) => ({ enableStreaming: "true", monitoring: "true", streamingHttpEndpoint: "false" })[key as string]), {});
    await registrationsSettled();
    expect(fresh.ofType(TYPES.alarm).map((a) => a.name)).not.to.include("streaming-alarm-streaming-http-errors");
    expect(fresh.ofType(TYPES.alarm)).to.have.length(6);
  });

  it("charts a function given by ARN under its name, with or without a qualifier; refuses what is not a function ARN", () => {
    expect(functionNameOfArn("arn:aws:lambda:eu-west-1:123456789012:function:my-fn")).to.equal("my-fn");
    expect(functionNameOfArn("arn:aws:lambda:eu-west-1:123456789012:function:my-fn:live")).to.equal("my-fn");
    expect(functionNameOfArn("arn:aws-cn:lambda:cn-north-1:123456789012:function:f_1:$LATEST")).to.equal("f_1");
    expect(() => functionNameOfArn("my-fn")).to.throw(/not a Lambda function ARN/);
  });
});
