/**
 * The function's one Powertools metrics instance: CloudWatch EMF metrics without
 * PutMetricData calls. Only the stream writer emits metrics, so it is a module of its own:
 * a handler that never streams (the connection function) does not load Powertools Metrics.
 */
import { Metrics } from "@aws-lambda-powertools/metrics";

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "QnABotStreaming",
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "qnabot-streaming",
});
