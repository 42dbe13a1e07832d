/**
 * The DynamoDB document client's construction, in a module of its own so aws.ts can load it
 * (and the SDK) on first use while the bundler still tree-shakes the SDK to what is used here.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/** A document client whose `undefined` attributes are dropped, not rejected. */
export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
}
