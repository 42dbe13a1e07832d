/**
 * A fleet of "Lambdas" in one process, for the concurrency benchmark's direct mode: each
 * session gets what one Lambda invocation would have, its own stream writer over its own
 * @connections transport (so its own socket pool), fed deltas at a model's pace by a timer
 * instead of Bedrock. Every delta's hand-off to the writer is timestamped, so delivery is
 * timed from the moment the writer had the text.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { AwsCredentialIdentity } from "@smithy/types";
import { DynamoConnectionsStore } from "../functions/shared/dynamo-connections";
import { ManagementApiTransport } from "../functions/stream/aws";
import { createStreamOpener } from "../functions/stream/writer";
import { epochNow, processUsage, serveWorker } from "./ipc";
import { documentClient } from "./ours";

export interface FleetOptions {
  readonly region: string;
  readonly managementEndpoint: string;
  readonly dynamoEndpoint: string;
  /** What the local DynamoDB accepts (the AWS side's functions' role). */
  readonly dynamoCredentials: AwsCredentialIdentity;
  readonly connectionsTable: string;
  readonly credentials: AwsCredentialIdentity;
}

export interface FleetSession {
  readonly sessionId: string;
  /** epochNow() at which the invocation starts. */
  readonly startAt: number;
}

export interface FleetStreamRequest {
  readonly sessions: readonly FleetSession[];
  readonly deltas: readonly string[];
  readonly deltasPerSecond: number;
  readonly firstTokenDelayMs: number;
}

export interface FleetSessionResult {
  sessionId: string;
  /** epochNow() of each delta's hand-off to the writer. */
  handoffs: number[];
  posts: number;
  connections: number;
  error?: string;
}

let config: FleetOptions | undefined;
let store: DynamoConnectionsStore | undefined;
let closeDynamo: (() => void) | undefined;

async function until(at: number): Promise<void> {
  const wait = at - epochNow();
  if (wait > 0) await sleep(wait);
}

async function invocation(session: FleetSession, request: FleetStreamRequest): Promise<FleetSessionResult> {
  const options = config!;
  const transport = new ManagementApiTransport({ endpoint: options.managementEndpoint, region: options.region, credentials: options.credentials });
  const open = createStreamOpener({ store: store!, transport, options: { report: () => undefined } });
  const handoffs: number[] = [];
  try {
    await until(session.startAt);
    const stream = await open({ sessionId: session.sessionId, requestId: session.sessionId });
    const firstAt = session.startAt + request.firstTokenDelayMs;
    const interval = 1000 / request.deltasPerSecond;
    for (const [i, text] of request.deltas.entries()) {
      await until(firstAt + i * interval);
      handoffs.push(epochNow());
      stream.delta(text);
    }
    const report = await stream.end({ final: request.deltas.join(""), stopReason: "end_turn" });
    return { sessionId: session.sessionId, handoffs, posts: report.posts, connections: report.connections };
  } catch (error) {
    return { sessionId: session.sessionId, handoffs, posts: 0, connections: 0, error: String(error) };
  } finally {
    transport.destroy();
  }
}

export const methods = {
  init(options: FleetOptions): void {
    config = options;
    const dynamo = documentClient(options.dynamoEndpoint, options.region, options.dynamoCredentials);
    closeDynamo = () => dynamo.destroy();
    // Answers without an asker on the bench user's unbound ids: the rig opts in to streaming there (aws-worker.ts).
    store = new DynamoConnectionsStore({ tableName: options.connectionsTable, ttlSeconds: 7200, client: dynamo, unboundSessionStreaming: true });
  },
  stream(request: FleetStreamRequest): Promise<FleetSessionResult[]> {
    return Promise.all(request.sessions.map((session) => invocation(session, request)));
  },
  usage: processUsage,
  close(): void {
    closeDynamo?.();
  },
};

serveWorker(methods);
