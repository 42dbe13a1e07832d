/**
 * Our design, as the fulfillment function runs it: the stream writer with its defaults over
 * the real @connections transport and the real DynamoDB connections store, opened before
 * Bedrock is called, fed every delta without waiting, ended when the answer is complete.
 * The frame budget's trade-off curve reruns it with other text intervals.
 */
import type { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { AwsCredentialIdentity } from "@smithy/types";
import { DynamoConnectionsStore } from "../functions/shared/dynamo-connections";
import { ManagementApiTransport } from "../functions/stream/aws";
import type { StreamOpener } from "../functions/stream/types";
import { createStreamOpener } from "../functions/stream/writer";
import type { StreamFormat } from "../functions/shared/table";
import { consumeAnswer } from "./converse";
import { epochNow } from "./ipc";
import type { ProducedAnswer } from "./producer";

/** A frame budget per format; a format left out keeps the writer's default. */
export type FrameBudget = Partial<Record<StreamFormat, number>>;

export interface OursDeps {
  readonly bedrock: BedrockRuntimeClient;
  /** The writer's opener with its defaults, or with another frame budget. */
  readonly openWith: (flushIntervalMs?: FrameBudget) => StreamOpener;
}

export function documentClient(endpoint: string, region: string, credentials: AwsCredentialIdentity): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region, credentials }), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/**
 * The writer with every default but the report (which would print one EMF line per answer),
 * and, on request, another text frame budget; all of them share one transport and one store.
 */
export function benchStreamOpener(options: {
  managementEndpoint: string;
  region: string;
  credentials: AwsCredentialIdentity;
  dynamo: DynamoDBDocumentClient;
  tableName: string;
}): { openWith: (flushIntervalMs?: FrameBudget) => StreamOpener; transport: ManagementApiTransport } {
  const transport = new ManagementApiTransport({ endpoint: options.managementEndpoint, region: options.region, credentials: options.credentials });
  // The bench's answers have no asker, on the bench user's unbound ids: the rig opts in to streaming there (aws-worker.ts).
  const store = new DynamoConnectionsStore({ tableName: options.tableName, ttlSeconds: 7200, client: options.dynamo, unboundSessionStreaming: true });
  const openers = new Map<string, StreamOpener>();
  const openWith = (flushIntervalMs: FrameBudget = {}) => {
    const key = JSON.stringify([flushIntervalMs.text, flushIntervalMs.json]);
    let opener = openers.get(key);
    if (!opener) {
      opener = createStreamOpener({ store, transport, options: { report: () => undefined, flushIntervalMs } });
      openers.set(key, opener);
    }
    return opener;
  };
  return { openWith, transport };
}

export async function oursAnswer(deps: OursDeps, sessionId: string, requestId: string, question: string, flushIntervalMs?: FrameBudget): Promise<ProducedAnswer> {
  const startedAt = epochNow();
  const stream = await deps.openWith(flushIntervalMs)({ sessionId, requestId });
  const answer = await consumeAnswer(deps.bedrock, question, (text) => stream.delta(text));
  const report = await stream.end({ final: answer.text, stopReason: "end_turn" });
  return { ...answer, startedAt, settledAt: epochNow(), posts: report.posts, connections: report.connections };
}
