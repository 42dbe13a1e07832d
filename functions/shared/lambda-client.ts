/**
 * The Lambda client's construction, in a module of its own so aws.ts can load it (and the
 * SDK) on first use while the bundler still tree-shakes the SDK to what is used here.
 */
import { LambdaClient } from "@aws-sdk/client-lambda";

export function createLambdaClient(): LambdaClient {
  return new LambdaClient({});
}
