/**
 * The DynamoDB document client's construction, in a module of its own so aws.ts can load it
 * (and the SDK) on first use while the bundler still tree-shakes the SDK to what is used here.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DYNAMO_MAX_ATTEMPTS, DYNAMO_REQUEST_TIMEOUT_MS } from "./dynamo-timeouts";

/** A document client whose `undefined` attributes are dropped, not rejected, and whose calls time out. */
export function createDocumentClient(requestTimeoutMs: number = DYNAMO_REQUEST_TIMEOUT_MS): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({
      maxAttempts: DYNAMO_MAX_ATTEMPTS,
      requestHandler: { requestTimeout: requestTimeoutMs, throwOnRequestTimeout: true },
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
}
