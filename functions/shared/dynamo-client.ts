/**
 * The DynamoDB document client's construction, in a module of its own so aws.ts can load it
 * (and the SDK) on first use while the bundler still tree-shakes the SDK to what is used here.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * Milliseconds one DynamoDB request may take before it fails. Without one, a call that never
 * answers holds the answer (and its client) until the Lambda's own timeout; the SDK's default
 * has none (issue 21, finding 2). DynamoDB answers in milliseconds, so 2 s is a fault.
 */
export const DYNAMO_REQUEST_TIMEOUT_MS = 2000;
/** Attempts per call: the SDK's standard retry strategy default, stated so the hang bounds can use it. */
export const DYNAMO_MAX_ATTEMPTS = 3;

/** A document client whose `undefined` attributes are dropped, not rejected, and whose calls time out. */
export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({
      maxAttempts: DYNAMO_MAX_ATTEMPTS,
      requestHandler: { connectionTimeout: 1000, requestTimeout: DYNAMO_REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true },
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
}
