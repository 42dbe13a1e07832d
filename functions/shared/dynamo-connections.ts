/**
 * The connections store over DynamoDB (see connections.ts for the contract and the exact
 * actions it may use). Every step is atomic on one item; the order of the steps makes the
 * owner row a safe over-approximation of the session's open connections.
 */
import {
  DeleteCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  paginateQuery,
  type DynamoDBDocumentClient,
} from "@aws-sdk/lib-dynamodb";
import { documentClient } from "./aws";
import type { ConnectionsStore, RegisterConnection, SessionConnections } from "./connections";
import { ProtocolError } from "./protocol";
import { CONNECTIONS_TABLE, SESSION_OWNER_KEY, type ConnectionRow, type StreamFormat } from "./table";

export interface DynamoConnectionsStoreOptions {
  /** Connections table name (created from CONNECTIONS_TABLE). */
  readonly tableName: string;
  /** Seconds a row lives after the connect that wrote it (DynamoDB TTL on `ttl`). */
  readonly ttlSeconds: number;
  /** Document client. @default documentClient() from aws.ts, resolved on each call */
  readonly client?: DynamoDBDocumentClient;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** Items per Query page (DynamoDB's `Limit`). @default none: DynamoDB's 1 MB pages */
  readonly pageSize?: number;
}

type Item = Record<string, unknown>;

function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

function toConnectionRow(item: Item): ConnectionRow {
  return {
    sessionId: item.sessionId as string,
    connectionId: item.connectionId as string,
    principal: item.principal as string,
    format: item.format as StreamFormat,
    connectedAt: item.connectedAt as number,
    ttl: item.ttl as number,
  };
}

export class DynamoConnectionsStore implements ConnectionsStore {
  private readonly tableName: string;
  private readonly ttlSeconds: number;
  private readonly injectedClient?: DynamoDBDocumentClient;
  private readonly now: () => number;
  private readonly pageSize?: number;

  constructor(options: DynamoConnectionsStoreOptions) {
    if (!Number.isSafeInteger(options.ttlSeconds) || options.ttlSeconds <= 0) {
      throw new Error(`ttlSeconds must be a positive integer, got ${options.ttlSeconds}`);
    }
    this.tableName = options.tableName;
    this.ttlSeconds = options.ttlSeconds;
    this.injectedClient = options.client;
    this.now = options.now ?? Date.now;
    this.pageSize = options.pageSize;
  }

  async register(connection: RegisterConnection): Promise<ConnectionRow> {
    const { sessionId, connectionId, principal, format } = connection;
    if (connectionId === SESSION_OWNER_KEY) throw new Error(`${SESSION_OWNER_KEY} is not a connection id`);
    const connectedAt = this.now();
    const nowSeconds = Math.floor(connectedAt / 1000);
    const ttl = nowSeconds + this.ttlSeconds;
    await this.claimOwner(sessionId, principal, ttl, nowSeconds);
    const row: ConnectionRow = { sessionId, connectionId, principal, format, connectedAt, ttl };
    try {
      await this.client().send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...row, [CONNECTIONS_TABLE.connectionIndex.hashKey]: connectionId },
        }),
      );
    } catch (error) {
      // The caller must see why the connect failed, not a failure of the clean-up; an
      // uncompensated count only keeps the owner row until its TTL.
      await this.release(sessionId, principal).catch(() => undefined);
      throw error;
    }
    return row;
  }

  async find(connectionId: string): Promise<ConnectionRow | undefined> {
    // Every owner row sits under this key in the index: it never names a connection.
    if (connectionId === SESSION_OWNER_KEY) return undefined;
    const output = await this.client().send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: CONNECTIONS_TABLE.connectionIndex.name,
        KeyConditionExpression: "#connectionId = :connectionId",
        ExpressionAttributeNames: { "#connectionId": CONNECTIONS_TABLE.connectionIndex.hashKey },
        ExpressionAttributeValues: { ":connectionId": connectionId },
        Limit: 1,
      }),
    );
    const item = output.Items?.[0];
    return item ? toConnectionRow(item) : undefined;
  }

  async listSession(sessionId: string): Promise<SessionConnections> {
    const pages = paginateQuery(
      { client: this.client(), pageSize: this.pageSize },
      {
        TableName: this.tableName,
        KeyConditionExpression: "#sessionId = :sessionId",
        ExpressionAttributeNames: { "#sessionId": CONNECTIONS_TABLE.hashKey },
        ExpressionAttributeValues: { ":sessionId": sessionId },
        ConsistentRead: true,
      },
    );
    let owner: string | undefined;
    const rows: ConnectionRow[] = [];
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        if (item.connectionId === SESSION_OWNER_KEY) owner = item.principal as string;
        else rows.push(toConnectionRow(item));
      }
    }
    // DynamoDB deletes expired items lazily (up to days later), so they still show up here;
    // rows of any other principal are left-overs of an earlier owner, never a recipient.
    const nowSeconds = Math.floor(this.now() / 1000);
    const connections = owner === undefined ? [] : rows.filter((row) => row.principal === owner && row.ttl >= nowSeconds);
    return { owner, connections };
  }

  async remove(key: { sessionId: string; connectionId: string }): Promise<boolean> {
    if (key.connectionId === SESSION_OWNER_KEY) return false;
    const output = await this.client().send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { [CONNECTIONS_TABLE.hashKey]: key.sessionId, [CONNECTIONS_TABLE.rangeKey]: key.connectionId },
        ReturnValues: "ALL_OLD",
      }),
    );
    if (!output.Attributes) return false;
    await this.release(key.sessionId, output.Attributes.principal as string);
    return true;
  }

  private client(): DynamoDBDocumentClient {
    return this.injectedClient ?? documentClient();
  }

  private ownerKey(sessionId: string): Item {
    return { [CONNECTIONS_TABLE.hashKey]: sessionId, [CONNECTIONS_TABLE.rangeKey]: SESSION_OWNER_KEY };
  }

  /**
   * Binds an unbound session to `principal`, or counts one more connection of its owner.
   * An owner row past its TTL is then taken over: its owner has not connected for
   * `ttlSeconds`, and DynamoDB may take days to delete it. The takeover restarts the count
   * and is conditional on the expiry itself, so of two callers racing for it one wins.
   */
  private async claimOwner(sessionId: string, principal: string, ttl: number, nowSeconds: number): Promise<void> {
    const names = { "#principal": "principal", "#ttl": CONNECTIONS_TABLE.ttlAttribute, "#connections": "connections" };
    try {
      await this.client().send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.ownerKey(sessionId),
          UpdateExpression: "SET #principal = if_not_exists(#principal, :principal), #ttl = :ttl ADD #connections :one",
          ConditionExpression: "attribute_not_exists(#principal) OR #principal = :principal",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ":principal": principal, ":ttl": ttl, ":one": 1 },
        }),
      );
      return;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    try {
      await this.client().send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.ownerKey(sessionId),
          UpdateExpression: "SET #principal = :principal, #ttl = :ttl, #connections = :one",
          // attribute_not_exists: the row went with its owner's last connection meanwhile.
          ConditionExpression: "attribute_not_exists(#principal) OR #ttl < :now",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ":principal": principal, ":ttl": ttl, ":one": 1, ":now": nowSeconds },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new ProtocolError("forbidden", "this session belongs to another caller");
      throw error;
    }
  }

  /** One connection of `principal` fewer; the owner row goes with the last one. */
  private async release(sessionId: string, principal: string): Promise<void> {
    let remaining: unknown;
    try {
      const output = await this.client().send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.ownerKey(sessionId),
          UpdateExpression: "ADD #connections :minusOne",
          // Without the condition a missing owner row would be recreated with a negative
          // count, and a row left by an earlier owner would lower the new owner's count.
          ConditionExpression: "#principal = :principal",
          ExpressionAttributeNames: { "#connections": "connections", "#principal": "principal" },
          ExpressionAttributeValues: { ":minusOne": -1, ":principal": principal },
          ReturnValues: "UPDATED_NEW",
        }),
      );
      remaining = output.Attributes?.connections;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return;
      throw error;
    }
    if (typeof remaining !== "number" || remaining > 0) return;
    try {
      await this.client().send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: this.ownerKey(sessionId),
          ConditionExpression: "#connections <= :zero",
          ExpressionAttributeNames: { "#connections": "connections" },
          ExpressionAttributeValues: { ":zero": 0 },
        }),
      );
    } catch (error) {
      // A connect of the same owner came in between: the binding must stay.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
