/**
 * Token metering as CloudWatch metrics (EMF, through the function's Powertools instance): one
 * emission per answer with Bedrock's usage, dimensioned by model, so a dashboard can sum the
 * tokens each model used; and a count of asks refused by the token budget.
 */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { metrics as defaultMetrics } from "../shared/metrics";
import type { Usage } from "../shared/protocol";

/** Metric names, shared with the dashboard (components/monitoring.ts). */
export const USAGE_METRICS = {
  input: "InputTokens",
  output: "OutputTokens",
  cacheRead: "CacheReadInputTokens",
  cacheWrite: "CacheWriteInputTokens",
  refused: "BudgetRefusals",
} as const;

/** The dimension token metrics are split by. */
export const USAGE_MODEL_DIMENSION = "model";

/**
 * What is used of a Powertools Metrics instance (tests pass a recorder). Each emission adds its
 * dimension and publishes in one synchronous step, so the dimension never reaches another
 * emission of the shared instance (publishing clears the dimensions it added).
 */
export interface UsageMetricsSink {
  addDimension(name: string, value: string): unknown;
  addMetric(name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): unknown;
  publishStoredMetrics(): void;
}

export function meterUsage(usage: Usage, sink: UsageMetricsSink = defaultMetrics): void {
  sink.addDimension(USAGE_MODEL_DIMENSION, usage.model ?? "unknown");
  sink.addMetric(USAGE_METRICS.input, MetricUnit.Count, usage.inputTokens);
  sink.addMetric(USAGE_METRICS.output, MetricUnit.Count, usage.outputTokens);
  sink.addMetric(USAGE_METRICS.cacheRead, MetricUnit.Count, usage.cacheReadInputTokens ?? 0);
  sink.addMetric(USAGE_METRICS.cacheWrite, MetricUnit.Count, usage.cacheWriteInputTokens ?? 0);
  sink.publishStoredMetrics();
}

export function meterRefusal(sink: UsageMetricsSink = defaultMetrics): void {
  sink.addMetric(USAGE_METRICS.refused, MetricUnit.Count, 1);
  sink.publishStoredMetrics();
}
