/**
 * The connections store over DynamoDB (see connections.ts for the contract and the exact
 * actions it may use, table.ts for the items). A session's state lives in one item, so every
 * change to it is atomic: read it consistently, apply a pure change (session-state.ts), write
 * it back conditionally on the version read, and try again when another writer came first.
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { documentClient } from "./aws";
import type { ConnectionsStore, RegisterConnection } from "./connections";
import { ProtocolError } from "./protocol";
import {
  SessionFullError,
  addConnection,
  fromItem,
  isEmpty,
  removeConnection,
  toItem,
  view,
  type SessionState,
  type SessionView,
} from "./session-state";
import { CONNECTION_KEY_PREFIX, CONNECTIONS_TABLE, type ConnectionRow, type StreamFormat } from "./table";

export interface DynamoConnectionsStoreOptions {
  /** Connections table name (created from CONNECTIONS_TABLE). */
  readonly tableName: string;
  /** Seconds a connection lives after its connect (its socket cannot outlive API Gateway's 2 h). */
  readonly ttlSeconds: number;
  /** Seconds a principal's claim on a session outlives its connection. @default CLAIM_GRACE_SECONDS */
  readonly claimGraceSeconds?: number;
  /** Document client. @default documentClient() from aws.ts, resolved on each call */
  readonly client?: DynamoDBDocumentClient;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** Attempts of one change when other writers keep winning the race. @default 8 */
  readonly maxAttempts?: number;
}

type Item = Record<string, unknown>;

interface Condition {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

export function connectionKey(connectionId: string): string {
  return `${CONNECTION_KEY_PREFIX}${connectionId}`;
}

export class DynamoConnectionsStore implements ConnectionsStore {
  private readonly tableName: string;
  private readonly ttlSeconds: number;
  private readonly claimGraceSeconds?: number;
  private readonly injectedClient?: DynamoDBDocumentClient;
  private readonly now: () => number;
  private readonly maxAttempts: number;

  constructor(options: DynamoConnectionsStoreOptions) {
    if (!Number.isSafeInteger(options.ttlSeconds) || options.ttlSeconds <= 0) {
      throw new Error(`ttlSeconds must be a positive integer, got ${options.ttlSeconds}`);
    }
    this.tableName = options.tableName;
    this.ttlSeconds = options.ttlSeconds;
    this.claimGraceSeconds = options.claimGraceSeconds;
    this.injectedClient = options.client;
    this.now = options.now ?? Date.now;
    this.maxAttempts = options.maxAttempts ?? 8;
  }

  async register(connection: RegisterConnection): Promise<ConnectionRow> {
    const { sessionId, connectionId, principal, format } = connection;
    const connectedAt = this.now();
    const times = { connectionTtlSeconds: this.ttlSeconds, claimGraceSeconds: this.claimGraceSeconds };
    try {
      await this.change(sessionId, (state) => addConnection(state, { connectionId, principal, format, connectedAt }, times));
    } catch (error) {
      if (error instanceof SessionFullError) throw new ProtocolError("busy", error.message, 429, true);
      throw error;
    }
    const row: ConnectionRow = { sessionId, connectionId, principal, format, connectedAt, ttl: Math.floor(connectedAt / 1000) + this.ttlSeconds };
    try {
      await this.client().send(new PutCommand({ TableName: this.tableName, Item: { ...row, sessionId: connectionKey(connectionId), session: sessionId, asks: {} } }));
    } catch (error) {
      // The caller must see why the connect failed, not a failure of the clean-up; a
      // connection left in the session item expires with its TTL.
      await this.change(sessionId, (state) => removeConnection(state, connectionId, Math.floor(this.now() / 1000))).catch(() => undefined);
      throw error;
    }
    return row;
  }

  async find(connectionId: string): Promise<ConnectionRow | undefined> {
    const { Item } = await this.client().send(
      new GetCommand({ TableName: this.tableName, Key: { [CONNECTIONS_TABLE.hashKey]: connectionKey(connectionId) }, ConsistentRead: true }),
    );
    if (!Item || typeof Item.session !== "string" || typeof Item.principal !== "string") return undefined;
    const ttl = Item.ttl as number;
    // DynamoDB deletes expired items lazily (up to days later): an expired one is gone already.
    if (typeof ttl !== "number" || ttl < Math.floor(this.now() / 1000)) return undefined;
    return {
      sessionId: Item.session,
      connectionId,
      principal: Item.principal,
      format: Item.format === "json" ? "json" : ("text" as StreamFormat),
      connectedAt: Item.connectedAt as number,
      ttl,
    };
  }

  async listSession(sessionId: string): Promise<SessionView> {
    const { state } = fromItem(sessionId, await this.read(sessionId));
    return view(state, Math.floor(this.now() / 1000));
  }

  async remove(key: { sessionId: string; connectionId: string }): Promise<boolean> {
    const { sessionId, connectionId } = key;
    let removed = false;
    await this.change(sessionId, (state) => {
      removed = state.connections[connectionId] !== undefined;
      return removed ? removeConnection(state, connectionId, Math.floor(this.now() / 1000)) : undefined;
    });
    const lookup = await this.client().send(
      new DeleteCommand({ TableName: this.tableName, Key: { [CONNECTIONS_TABLE.hashKey]: connectionKey(connectionId) }, ReturnValues: "ALL_OLD" }),
    );
    return removed || lookup.Attributes !== undefined;
  }

  private client(): DynamoDBDocumentClient {
    return this.injectedClient ?? documentClient();
  }

  private async read(sessionId: string): Promise<Item | undefined> {
    const { Item } = await this.client().send(
      new GetCommand({ TableName: this.tableName, Key: { [CONNECTIONS_TABLE.hashKey]: sessionId }, ConsistentRead: true }),
    );
    return Item;
  }

  /**
   * Applies `update` to the session's current state and writes the result, conditional on
   * nobody having written since the read; `update` returning undefined writes nothing.
   */
  private async change(sessionId: string, update: (state: SessionState) => SessionState | undefined): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const current = fromItem(sessionId, await this.read(sessionId));
      const next = update(current.state);
      if (!next) return;
      const nowSeconds = Math.floor(this.now() / 1000);
      const condition: Condition = !current.exists
        ? { ConditionExpression: "attribute_not_exists(#key)", ExpressionAttributeNames: { "#key": CONNECTIONS_TABLE.hashKey } }
        : current.version === undefined
          ? { ConditionExpression: "attribute_not_exists(#version)", ExpressionAttributeNames: { "#version": "version" } }
          : {
              ConditionExpression: "#version = :version",
              ExpressionAttributeNames: { "#version": "version" },
              ExpressionAttributeValues: { ":version": current.version },
            };
      try {
        if (isEmpty(next) && current.exists) {
          await this.client().send(
            new DeleteCommand({ TableName: this.tableName, Key: { [CONNECTIONS_TABLE.hashKey]: sessionId }, ...condition }),
          );
        } else if (!isEmpty(next)) {
          const item = toItem(next, nowSeconds, (current.version ?? 0) + 1);
          await this.client().send(new PutCommand({ TableName: this.tableName, Item: item, ...condition }));
        }
        return;
      } catch (error) {
        if (!isConditionalCheckFailed(error) || attempt >= this.maxAttempts) throw error;
        // Another connect or disconnect of the session won the race: read again after a short, jittered wait.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }
}
