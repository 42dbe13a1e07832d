/**
 * One Powertools logger and metrics instance per function: JSON logs that Lambda's
 * `loggingConfig` captures, and CloudWatch EMF metrics without PutMetricData calls.
 * Question and answer text are never logged at the default level (INFO).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? "qnabot-streaming";

export const logger = new Logger({ serviceName });

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "QnABotStreaming",
  serviceName,
});
