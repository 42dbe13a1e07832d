/**
 * The DynamoDB document client's construction, in a module of its own so aws.ts can load it
 * (and the SDK) on first use while the bundler still tree-shakes the SDK to what is used here.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * Milliseconds one DynamoDB request may take before it fails. Without one, a call that never
 * answers holds the answer (and its client) until the Lambda's own timeout; the SDK's default
 * has none (issue 21, finding 2). DynamoDB answers in milliseconds, so 3 s of a silent socket
 * is a fault. It runs once the request has a socket: no connection timeout, because smithy's
 * counts the wait for a free socket of the pool too, and a process with hundreds of calls in
 * flight (the local stack under load) would fail calls that were merely queued.
 */
export const DYNAMO_REQUEST_TIMEOUT_MS = 3000;
/** Attempts per call: the SDK's standard retry strategy default, stated so the hang bounds can use it. */
export const DYNAMO_MAX_ATTEMPTS = 3;

/** A document client whose `undefined` attributes are dropped, not rejected, and whose calls time out. */
export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({
      maxAttempts: DYNAMO_MAX_ATTEMPTS,
      requestHandler: { requestTimeout: DYNAMO_REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true },
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
}
