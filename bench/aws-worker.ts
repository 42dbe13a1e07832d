/**
 * The AWS side in its own process: the local stack (dynalite, the Bedrock emulator, the
 * WebSocket gateway with its @connections API, the streaming function URL, the real connection,
 * fulfillment and function URL handlers)
 * exactly as `npm start` composes it, driven by the benchmarks over IPC.
 */
import type { BedrockBehavior, BedrockEmulatorOptions } from "../local/bedrock";
import type { LocalCredential } from "../local/gateway";
import { startLocalStack, type LocalStack } from "../local/stack";
import { processUsage, serveWorker } from "./ipc";

export interface AwsSideOptions {
  /** Callers the gateway accepts (the bench's user and its handler role). */
  readonly credentials: LocalCredential[];
  readonly bedrock?: BedrockEmulatorOptions;
  /** Extra handler environment (e.g. another Bedrock endpoint). */
  readonly env?: Record<string, string>;
}

export interface AwsSideInfo {
  readonly region: string;
  readonly webSocketUrl: string;
  /** The streaming function URL (Server-Sent Events; SigV4 service `lambda`). */
  readonly functionUrl: string;
  readonly managementEndpoint: string;
  readonly dynamoEndpoint: string;
  /** The one credential the local DynamoDB accepts (the functions' role), as a deployed table's policy admits only that role. */
  readonly dynamoCredentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  readonly connectionsTable: string;
  readonly bedrockEndpoint: string;
}

let stack: LocalStack | undefined;

function started(): LocalStack {
  if (!stack) throw new Error("the AWS side is not started");
  return stack;
}

export const methods = {
  async start(options: AwsSideOptions): Promise<AwsSideInfo> {
    stack = await startLocalStack({
      page: false,
      credentials: options.credentials,
      bedrockBehavior: options.bedrock,
      // The bench loads the gateway on purpose; the deployed stage's throttle (50 connects and
      // asks per second) would measure itself, not the streaming path.
      throttle: false,
      // The Lex door's first token is measured on the bench user's (IAM) session ids, which are bound to no
      // identity: streaming to them is the operator's opt-in (it adds one session read to each Lex answer).
      unboundSessionStreaming: true,
      // The handlers' own logs and EMF lines would flood the bench's terminal.
      env: { POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true", ...options.env },
    });
    return {
      region: stack.region,
      webSocketUrl: stack.webSocketUrl,
      functionUrl: stack.functionUrl,
      managementEndpoint: stack.managementEndpoint,
      dynamoEndpoint: stack.dynamo.endpoint,
      dynamoCredentials: { ...stack.dynamo.credentials },
      connectionsTable: stack.dynamo.connectionsTable,
      bedrockEndpoint: stack.bedrock!.endpoint,
    };
  },
  setBedrock(behavior: BedrockBehavior): void {
    started().bedrock!.setBehavior(behavior);
  },
  setLatency(latencyMs: number): void {
    started().gateway.setConnectionsApiBehaviour({ latencyMs });
  },
  stats() {
    return started().gateway.stats();
  },
  /** The fulfillment function invoked as Lex invokes it (synchronous Lambda Invoke); resolves with its response. */
  invokeFulfillment(event: unknown): Promise<unknown> {
    return started().invokeFulfillment(event);
  },
  async idle(): Promise<void> {
    await started().idle();
  },
  usage: processUsage,
  async close(): Promise<void> {
    await stack?.close();
    stack = undefined;
  },
};

serveWorker(methods);
