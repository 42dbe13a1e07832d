/**
 * Our design, as the fulfillment function runs it: the stream writer with its defaults over
 * the real @connections transport and the real DynamoDB connections store, opened before
 * Bedrock is called, fed every delta without waiting, ended when the answer is complete.
 */
import type { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { AwsCredentialIdentity } from "@smithy/types";
import { DynamoConnectionsStore } from "../functions/shared/dynamo-connections";
import { ManagementApiTransport } from "../functions/stream/aws";
import type { StreamOpener } from "../functions/stream/types";
import { createStreamOpener } from "../functions/stream/writer";
import { consumeAnswer } from "./converse";
import { epochNow } from "./ipc";
import type { ProducedAnswer } from "./producer";

export interface OursDeps {
  readonly bedrock: BedrockRuntimeClient;
  readonly open: StreamOpener;
}

export function documentClient(endpoint: string, region: string, credentials: AwsCredentialIdentity): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region, credentials }), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/** The writer with every default but the report, which would print one EMF line per answer. */
export function benchStreamOpener(options: {
  managementEndpoint: string;
  region: string;
  credentials: AwsCredentialIdentity;
  dynamo: DynamoDBDocumentClient;
  tableName: string;
}): { open: StreamOpener; transport: ManagementApiTransport } {
  const transport = new ManagementApiTransport({ endpoint: options.managementEndpoint, region: options.region, credentials: options.credentials });
  const open = createStreamOpener({
    store: new DynamoConnectionsStore({ tableName: options.tableName, ttlSeconds: 7200, client: options.dynamo }),
    transport,
    options: { report: () => undefined },
  });
  return { open, transport };
}

export async function oursAnswer(deps: OursDeps, sessionId: string, requestId: string, question: string): Promise<ProducedAnswer> {
  const startedAt = epochNow();
  const stream = await deps.open({ sessionId, requestId });
  const answer = await consumeAnswer(deps.bedrock, question, (text) => stream.delta(text));
  const report = await stream.end({ final: answer.text, stopReason: "end_turn" });
  return { ...answer, startedAt, settledAt: epochNow(), posts: report.posts, connections: report.connections };
}
