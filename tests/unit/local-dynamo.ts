/**
 * One in-process dynalite for a describe block, with the tables the component deploys and a
 * document client on it: started before the block's tests, closed after them.
 */
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { startLocalDynamo, type LocalDynamo } from "../../local/dynamo";

export function useLocalDynamo(): { local: LocalDynamo; client: DynamoDBDocumentClient } {
  const dynamo = {} as { local: LocalDynamo; client: DynamoDBDocumentClient };
  before(async () => {
    dynamo.local = await startLocalDynamo();
    dynamo.client = DynamoDBDocumentClient.from(dynamo.local.client);
  });
  after(() => dynamo.local.close());
  return dynamo;
}
