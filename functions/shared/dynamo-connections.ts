/**
 * The connections store over DynamoDB (see connections.ts for the contract and the exact
 * actions it may use, table.ts for the items). A session's state lives in one item, so every
 * change to it is atomic: read it consistently, apply a pure change (session-state.ts), write
 * it back conditionally on the version read, and try again when another writer came first.
 *
 * With `unboundSessionStreaming` on, a Cognito identity's claims on unbound session ids are
 * also counted in one item of its own (PRINCIPAL_CLAIMS_KEY_PREFIX + principal), changed the
 * same way, so one identity cannot hold more than MAX_UNBOUND_CLAIMS_PER_PRINCIPAL such ids at
 * once. Anyone can create Cognito guest identities from a public identity pool; IAM callers
 * are the operator's own roles and users (a backend, the chat page's signer), so they are not
 * counted.
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { documentClient } from "./aws";
import type { ConnectionsStore, RegisterConnection } from "./connections";
import { isBoundSessionId, isCognitoPrincipal } from "./principal";
import { ProtocolError } from "./protocol";
import {
  CLAIM_GRACE_SECONDS,
  SessionFullError,
  addConnection,
  fromItem,
  isEmpty,
  removeConnection,
  toItem,
  view,
  type SessionPolicy,
  type SessionState,
  type SessionView,
} from "./session-state";
import { CONNECTION_KEY_PREFIX, CONNECTIONS_TABLE, PRINCIPAL_CLAIMS_KEY_PREFIX, type ConnectionRow, type StreamFormat } from "./table";

/**
 * Unbound session ids one Cognito identity may claim at once with `unboundSessionStreaming` on.
 * A stock Lex Web UI page draws one id per load, so this is a guest's page loads within a
 * claim's lifetime; an attacker needs 65,536 / 8 identities to hold every stock id.
 */
export const MAX_UNBOUND_CLAIMS_PER_PRINCIPAL = 8;

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
  /** Whether unknown askers may stream to unbound session ids (session-state.ts, SessionPolicy). @default false */
  readonly unboundSessionStreaming?: boolean;
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

/** The write's condition: nobody wrote the item since it was read (absent, or at the version read). */
function unchangedSince(read: { exists: boolean; version?: number }): Condition {
  if (!read.exists) return { ConditionExpression: "attribute_not_exists(#key)", ExpressionAttributeNames: { "#key": CONNECTIONS_TABLE.hashKey } };
  if (read.version === undefined) return { ConditionExpression: "attribute_not_exists(#version)", ExpressionAttributeNames: { "#version": "version" } };
  return {
    ConditionExpression: "#version = :version",
    ExpressionAttributeNames: { "#version": "version" },
    ExpressionAttributeValues: { ":version": read.version },
  };
}

/** The unexpired claims a principal's claims item holds: session id → epoch seconds. */
function liveClaims(item: Item | undefined, nowSeconds: number): Record<string, number> {
  const sessions = item?.sessions;
  if (typeof sessions !== "object" || sessions === null) return {};
  return Object.fromEntries(
    Object.entries(sessions as Record<string, unknown>).filter((entry): entry is [string, number] => typeof entry[1] === "number" && entry[1] >= nowSeconds),
  );
}

export function principalClaimsKey(principal: string): string {
  return `${PRINCIPAL_CLAIMS_KEY_PREFIX}${principal}`;
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
  private readonly policy: SessionPolicy;

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
    this.policy = { unboundSessionStreaming: options.unboundSessionStreaming === true };
  }

  async register(connection: RegisterConnection): Promise<ConnectionRow> {
    const { sessionId, connectionId, principal, format } = connection;
    const connectedAt = this.now();
    const times = { connectionTtlSeconds: this.ttlSeconds, claimGraceSeconds: this.claimGraceSeconds };
    if (this.policy.unboundSessionStreaming && !isBoundSessionId(sessionId) && isCognitoPrincipal(principal)) {
      const claimUntil = Math.floor(connectedAt / 1000) + this.ttlSeconds + (this.claimGraceSeconds ?? CLAIM_GRACE_SECONDS);
      await this.countClaim(principal, sessionId, claimUntil);
    }
    let full: SessionFullError | undefined;
    await this.change(sessionId, (state) => {
      full = undefined;
      try {
        return addConnection(state, { connectionId, principal, format, connectedAt }, times);
      } catch (error) {
        if (!(error instanceof SessionFullError)) throw error;
        // Refused, but its claim is recorded: the session is contested, not left to whoever filled it.
        full = error;
        return error.withClaim;
      }
    });
    if (full) throw new ProtocolError("busy", full.message, 429, true);
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
    return view(state, Math.floor(this.now() / 1000), this.policy);
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

  private async read(key: string): Promise<Item | undefined> {
    const { Item } = await this.client().send(
      new GetCommand({ TableName: this.tableName, Key: { [CONNECTIONS_TABLE.hashKey]: key }, ConsistentRead: true }),
    );
    return Item;
  }

  /**
   * Records `principal`'s claim on the unbound `sessionId` in its claims item, or throws
   * ProtocolError("busy") when it already holds MAX_UNBOUND_CLAIMS_PER_PRINCIPAL others.
   */
  private async countClaim(principal: string, sessionId: string, claimUntil: number): Promise<void> {
    const key = principalClaimsKey(principal);
    for (let attempt = 1; ; attempt++) {
      const item = await this.read(key);
      const nowSeconds = Math.floor(this.now() / 1000);
      const sessions = liveClaims(item, nowSeconds);
      if (sessions[sessionId] === undefined && Object.keys(sessions).length >= MAX_UNBOUND_CLAIMS_PER_PRINCIPAL) {
        throw new ProtocolError(
          "busy",
          `this caller already holds ${MAX_UNBOUND_CLAIMS_PER_PRINCIPAL} session ids that are not bound to an identity; one is freed when its claim ends`,
          429,
          false,
        );
      }
      sessions[sessionId] = Math.max(sessions[sessionId] ?? 0, claimUntil);
      const version = item && typeof item.version === "number" ? item.version : undefined;
      const condition = unchangedSince({ exists: item !== undefined, version });
      try {
        await this.client().send(
          new PutCommand({
            TableName: this.tableName,
            Item: { [CONNECTIONS_TABLE.hashKey]: key, sessions, [CONNECTIONS_TABLE.ttlAttribute]: Math.max(...Object.values(sessions)), version: (version ?? 0) + 1 },
            ...condition,
          }),
        );
        return;
      } catch (error) {
        if (!isConditionalCheckFailed(error) || attempt >= this.maxAttempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
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
      const condition = unchangedSince(current);
      try {
        if (isEmpty(next) && current.exists) {
          await this.client().send(
            new DeleteCommand({ TableName: this.tableName, Key: { [CONNECTIONS_TABLE.hashKey]: sessionId }, ...condition }),
          );
        } else if (!isEmpty(next)) {
          const item = toItem(next, nowSeconds, (current.version ?? 0) + 1, this.policy);
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
