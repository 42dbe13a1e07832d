/**
 * The baseline: QnABot 7.x's streaming algorithm. The fulfillment function looks up the
 * session's connection in DynamoDB, then, for each Bedrock delta, awaits one
 * PostToConnection carrying the raw delta text before it reads the next delta: one post per
 * delta, serial, with the SDK client's default configuration. (QnABot keeps one connection
 * per session; `connections > 1` fans each delta out with one post per connection, all
 * awaited before the next delta, the obvious extension, for the fan-out reference.)
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import type { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { GetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { consumeAnswer } from "./converse";
import { epochNow } from "./ipc";
import type { ProducedAnswer } from "./producer";

export interface NaiveDeps {
  readonly bedrock: BedrockRuntimeClient;
  readonly dynamo: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly api: ApiGatewayManagementApiClient;
}

export function naiveApiClient(endpoint: string, region: string, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) {
  // QnABot builds its client with the endpoint and nothing else: SDK defaults (3 attempts, keep-alive).
  return new ApiGatewayManagementApiClient({ endpoint, region, credentials });
}

export async function naiveAnswer(deps: NaiveDeps, sessionId: string, question: string): Promise<ProducedAnswer> {
  const startedAt = epochNow();
  // QnABot's lookup: GetItem {sessionId} → connectionId. The fan-out extension reads every
  // connection of the session item instead.
  const { Item } = await deps.dynamo.send(new GetCommand({ TableName: deps.tableName, Key: { sessionId } }));
  const connectionIds = Object.keys((Item?.connections as Record<string, unknown> | undefined) ?? {});
  let posts = 0;
  const answer = await consumeAnswer(deps.bedrock, question, async (text) => {
    await Promise.all(
      connectionIds.map(async (id) => {
        posts++;
        await deps.api.send(new PostToConnectionCommand({ ConnectionId: id, Data: text }));
      }),
    );
  });
  return { ...answer, startedAt, settledAt: epochNow(), posts, connections: connectionIds.length };
}
