/**
 * One Powertools logger per function: JSON logs that Lambda's `loggingConfig` captures.
 * Question and answer text are never logged at the default level (INFO). Metrics live in
 * metrics.ts, loaded only where answers stream.
 */
import { Logger } from "@aws-lambda-powertools/logger";

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "qnabot-streaming" });
