/**
 * AWS SDK v3 clients shared by every function, built once per process so warm invocations
 * reuse their connections, and the readers of the environment the stack configures them with.
 *
 * Region and endpoints are left to the SDK's own resolution: it reads `AWS_REGION` (which
 * Lambda sets) and honours the per-service `AWS_ENDPOINT_URL_{SERVICE}` variables
 * (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_LAMBDA`, then `AWS_ENDPOINT_URL`), which is
 * how the local stack points these clients at its emulators without code changes.
 */
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DYNAMO_REQUEST_TIMEOUT_MS } from "./dynamo-timeouts";
import { ENV, type EnvName } from "./env";

/*
 * The clients' modules are required on first use, not imported: every handler imports this
 * module for its environment readers, and a static import would make each cold start evaluate
 * the DynamoDB and Lambda SDKs whether or not its request path calls them (the bundler keeps a
 * `require` lazy, and tree-shakes the SDK inside each small module).
 */
type DynamoClientModule = typeof import("./dynamo-client");
type LambdaClientModule = typeof import("./lambda-client");

let documentClientInstance: DynamoDBDocumentClient | undefined;
let lambdaClientInstance: LambdaClient | undefined;

/** The process's DynamoDB document client; `undefined` attributes are dropped, not rejected. */
export function documentClient(): DynamoDBDocumentClient {
  documentClientInstance ??= (require("./dynamo-client") as DynamoClientModule).createDocumentClient(
    optionalIntEnv(ENV.dynamoRequestTimeoutMs, DYNAMO_REQUEST_TIMEOUT_MS, { min: 100, max: 60_000 }),
  );
  return documentClientInstance;
}

/** The process's Lambda client (asynchronous hand-offs, custom LLM Lambdas). */
export function lambdaClient(): LambdaClient {
  lambdaClientInstance ??= (require("./lambda-client") as LambdaClientModule).createLambdaClient();
  return lambdaClientInstance;
}

/**
 * Destroys the shared clients so the next call builds fresh ones. A client resolves its
 * endpoint and credentials once, so a process that hosts handlers against emulators it
 * restarts (the local stack, tests) calls this after changing `AWS_ENDPOINT_URL_*`.
 */
export function resetAwsClients(): void {
  documentClientInstance?.destroy();
  lambdaClientInstance?.destroy();
  documentClientInstance = undefined;
  lambdaClientInstance = undefined;
}

/** A variable the stack always sets; its absence means a broken deployment, so say so. */
export function requiredEnv(name: EnvName): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`environment variable ${name} is not set; the stack sets it on this function, so the deployment is misconfigured`);
  }
  return value;
}

export interface IntegerRange {
  /** Smallest accepted value. @default Number.MIN_SAFE_INTEGER */
  readonly min?: number;
  /** Largest accepted value. @default Number.MAX_SAFE_INTEGER */
  readonly max?: number;
}

/** An optional integer variable: `defaultValue` when unset or empty, an error when malformed or out of range. */
export function optionalIntEnv(name: EnvName, defaultValue: number, range: IntegerRange = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return defaultValue;
  const min = range.min ?? Number.MIN_SAFE_INTEGER;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const value = /^[+-]?\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`environment variable ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** A `true` / `false` variable; unset or empty gives `defaultValue`, anything else throws naming the variable. */
export function optionalBooleanEnv(name: EnvName, defaultValue: boolean, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "") return defaultValue;
  if (raw === "true" || raw === "false") return raw === "true";
  throw new Error(`environment variable ${name} must be true or false, got ${JSON.stringify(env[name])}`);
}
