/**
 * Opt-in monitoring of the streaming API: one CloudWatch dashboard (the stream writer's EMF
 * metrics, the WebSocket API's and the functions' own metrics) and alarms on the failures
 * that mean users get no answer.
 */
import { USAGE_METRICS, USAGE_MODEL_DIMENSION } from "../functions/fulfillment/usage-metrics";
import { FEEDBACK_METRICS } from "../functions/fulfillment/feedback";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

/**
 * Namespace of the EMF metrics the stack's functions emit (Powertools reads it from
 * POWERTOOLS_METRICS_NAMESPACE, which the components set to this).
 */
export const METRICS_NAMESPACE = "QnABotStreaming";
/** Powertools' environment variables for the metrics namespace and the `service` dimension. */
export const POWERTOOLS_ENV = { namespace: "POWERTOOLS_METRICS_NAMESPACE", service: "POWERTOOLS_SERVICE_NAME" } as const;
/** The dimension Powertools adds to every metric: the function's service name. */
export const SERVICE_DIMENSION = "service";

/** The stream writer's per-answer metrics (functions/stream/writer.ts streamReporter) the dashboard shows. */
export const STREAM_METRICS = {
  ttft: "StreamTtftMs",
  duration: "StreamDurationMs",
  posts: "StreamPosts",
  gone: "StreamGoneConnections",
  retries: "StreamRetries",
} as const;

/** WebSocket API metrics (namespace AWS/ApiGateway, dimensions ApiId and Stage). */
export const API_GATEWAY_METRICS = ["ConnectCount", "MessageCount", "IntegrationError", "ClientError", "ExecutionError"] as const;
/** Lambda metrics per function (namespace AWS/Lambda, dimension FunctionName). */
export const LAMBDA_METRICS = ["Errors", "Throttles", "ConcurrentExecutions", "Duration"] as const;

/** Alarm thresholds, per 5-minute period. */
export const ALARM_THRESHOLDS = {
  /** API Gateway got a 4XX/5XX from an integration (a function failed or was throttled). */
  integrationErrors: 5,
  /** API Gateway could not call an integration at all (permissions, misconfiguration). */
  executionErrors: 1,
  /** A function invocation failed. */
  functionErrors: 3,
  /** A function invocation was throttled (concurrency exhausted). */
  functionThrottles: 1,
} as const;
export const ALARM_PERIOD_SECONDS = 300;

export interface MonitoredFunction {
  /** Short, resource-name-safe label: `connection`, `route-ask`. */
  readonly key: string;
  readonly functionName: pulumi.Input<string>;
}

export interface MonitoringArgs {
  readonly apiId: pulumi.Input<string>;
  readonly stageName: string;
  readonly region: pulumi.Input<string>;
  readonly functions: readonly MonitoredFunction[];
  /** SNS topic alarms notify (in alarm and back to OK). @default alarms notify nobody */
  readonly alarmTopicArn?: pulumi.Input<string>;
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The function name in a Lambda ARN (`…:function:{name}[:{qualifier}]`): Lambda's metrics' FunctionName. */
export function functionNameOfArn(arn: string): string {
  const match = /^arn:[^:]+:lambda:[^:]*:\d*:function:([A-Za-z0-9_-]+)(:[^:]+)?$/.exec(arn);
  if (!match) throw new Error(`not a Lambda function ARN: ${JSON.stringify(arn)}`);
  return match[1];
}

/**
 * A CloudWatch SEARCH over every service that emits `metric` in the stack's EMF namespace
 * (and, with `dimensions`, every value of those too: one series per model).
 */
export function emfSearch(metric: string, stat: string, period = 60, dimensions: readonly string[] = []): string {
  return `SEARCH('{${[METRICS_NAMESPACE, SERVICE_DIMENSION, ...dimensions].join(",")}} MetricName="${metric}"', '${stat}', ${period})`;
}

type Widget = Record<string, unknown>;

function metricWidget(title: string, region: string, metrics: unknown[][], extra: Record<string, unknown> = {}): Widget {
  return { type: "metric", width: 12, height: 6, properties: { title, region, view: "timeSeries", metrics, ...extra } };
}

function emfWidget(title: string, region: string, series: { metric: string; stat: string; label: string; dimensions?: readonly string[] }[]): Widget {
  return metricWidget(
    title,
    region,
    series.map((s, i) => [{ expression: emfSearch(s.metric, s.stat, 60, s.dimensions), id: `e${i}`, label: s.label }]),
  );
}

/** The dashboard's widgets, pure so the tests can read them. */
export function dashboardWidgets(input: {
  region: string;
  apiId: string;
  stageName: string;
  functionNames: readonly string[];
}): Widget[] {
  const { region, apiId, stageName, functionNames } = input;
  const api = (metric: string) => ["AWS/ApiGateway", metric, "ApiId", apiId, "Stage", stageName, { stat: "Sum" }];
  const lambda = (metric: string, stat: string) =>
    functionNames.map((fn) => ["AWS/Lambda", metric, "FunctionName", fn, { stat, label: fn }]);
  return [
    emfWidget("Time to first token (ms)", region, [
      { metric: STREAM_METRICS.ttft, stat: "p50", label: "p50" },
      { metric: STREAM_METRICS.ttft, stat: "p90", label: "p90" },
    ]),
    emfWidget("Posts per answer", region, [
      { metric: STREAM_METRICS.posts, stat: "Average", label: "posts per answer" },
      { metric: STREAM_METRICS.duration, stat: "SampleCount", label: "answers" },
    ]),
    emfWidget("Gone connections and retried posts", region, [
      { metric: STREAM_METRICS.gone, stat: "Sum", label: "gone connections" },
      { metric: STREAM_METRICS.retries, stat: "Sum", label: "retried posts" },
    ]),
    emfWidget("Tokens per model", region, [
      { metric: USAGE_METRICS.input, stat: "Sum", label: "input", dimensions: [USAGE_MODEL_DIMENSION] },
      { metric: USAGE_METRICS.output, stat: "Sum", label: "output", dimensions: [USAGE_MODEL_DIMENSION] },
      { metric: USAGE_METRICS.cacheRead, stat: "Sum", label: "cache read", dimensions: [USAGE_MODEL_DIMENSION] },
      { metric: USAGE_METRICS.cacheWrite, stat: "Sum", label: "cache write", dimensions: [USAGE_MODEL_DIMENSION] },
    ]),
    emfWidget("Asks refused by the token budget", region, [{ metric: USAGE_METRICS.refused, stat: "Sum", label: "refused" }]),
    emfWidget("Feedback on answers", region, [
      { metric: FEEDBACK_METRICS.up, stat: "Sum", label: "thumbs up" },
      { metric: FEEDBACK_METRICS.down, stat: "Sum", label: "thumbs down" },
    ]),
    metricWidget("WebSocket connects and messages", region, [api("ConnectCount"), api("MessageCount")]),
    metricWidget("WebSocket errors", region, [api("IntegrationError"), api("ClientError"), api("ExecutionError")]),
    metricWidget("Function errors", region, lambda("Errors", "Sum")),
    metricWidget("Function throttles", region, lambda("Throttles", "Sum")),
    metricWidget("Function concurrency", region, lambda("ConcurrentExecutions", "Maximum")),
    metricWidget("Function duration p90 (ms)", region, lambda("Duration", "p90")),
  ].map((widget, i) => ({ ...widget, x: (i % 2) * 12, y: Math.floor(i / 2) * 6 }));
}

/** Creates `${name}-dashboard` and the `${name}-alarm-*` alarms under `parent`. */
export function streamingMonitoring(name: string, args: MonitoringArgs, parent: pulumi.Resource): void {
  const opts = { parent };
  new aws.cloudwatch.Dashboard(
    `${name}-dashboard`,
    {
      // Dashboard names are unique per account: the API id makes this one's so.
      dashboardName: pulumi.interpolate`${name}-${args.apiId}`,
      dashboardBody: pulumi
        .all([args.region, args.apiId, pulumi.all(args.functions.map((f) => f.functionName))])
        .apply(([region, apiId, functionNames]) =>
          JSON.stringify({ widgets: dashboardWidgets({ region, apiId, stageName: args.stageName, functionNames }) }),
        ),
    },
    opts,
  );

  const actions = args.alarmTopicArn ? { alarmActions: [args.alarmTopicArn], okActions: [args.alarmTopicArn] } : {};
  const alarm = (suffix: string, description: string, alarmArgs: Partial<aws.cloudwatch.MetricAlarmArgs>) =>
    new aws.cloudwatch.MetricAlarm(
      `${name}-alarm-${suffix}`,
      {
        alarmDescription: description,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        evaluationPeriods: 1,
        period: ALARM_PERIOD_SECONDS,
        statistic: "Sum",
        // No traffic is not a failure.
        treatMissingData: "notBreaching",
        tags: args.tags,
        ...actions,
        ...alarmArgs,
      },
      opts,
    );
  const apiDimensions = { ApiId: args.apiId, Stage: args.stageName };
  alarm("integration-errors", "WebSocket route integrations answered with errors", {
    namespace: "AWS/ApiGateway",
    metricName: "IntegrationError",
    dimensions: apiDimensions,
    threshold: ALARM_THRESHOLDS.integrationErrors,
  });
  alarm("execution-errors", "API Gateway could not call a WebSocket route integration", {
    namespace: "AWS/ApiGateway",
    metricName: "ExecutionError",
    dimensions: apiDimensions,
    threshold: ALARM_THRESHOLDS.executionErrors,
  });
  for (const fn of args.functions) {
    alarm(`${fn.key}-errors`, `The ${fn.key} function failed`, {
      namespace: "AWS/Lambda",
      metricName: "Errors",
      dimensions: { FunctionName: fn.functionName },
      threshold: ALARM_THRESHOLDS.functionErrors,
    });
    alarm(`${fn.key}-throttles`, `The ${fn.key} function was throttled`, {
      namespace: "AWS/Lambda",
      metricName: "Throttles",
      dimensions: { FunctionName: fn.functionName },
      threshold: ALARM_THRESHOLDS.functionThrottles,
    });
  }
}
