/**
 * Fair use: the asks in flight, bounded per connection and per session, so one client cannot
 * take the account's Lambda concurrency or slow everyone else's answers (issue: one socket's
 * 1,000 asks starved a bystander). Kept in DynamoDB with conditional writes, because on AWS
 * every ask runs in its own invocation: process memory sees one ask at a time.
 *
 * Each ask holds a lease: a crashed answer, or an asynchronous hand-off Lambda dropped, frees
 * its slot when the lease ends instead of never.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { documentClient } from "./aws";
import { connectionKey } from "./dynamo-connections";
import { DuplicateRequestError, ProtocolError } from "./protocol";
import { CONNECTIONS_TABLE } from "./table";

/** Asks one connection may have in flight. */
export const DEFAULT_ASKS_PER_CONNECTION = 2;
/** Asks one session may have in flight, over all its connections and doors. */
export const DEFAULT_ASKS_PER_SESSION = 4;
/**
 * How long an ask holds its slot at most: Lambda's 15-minute maximum run, plus the 2 minutes
 * an asynchronous hand-off may wait in Lambda's queue before it is dropped.
 */
export const ASK_LEASE_SECONDS = 17 * 60;

/**
 * `resume` frames one connection may send in its lifetime. A page that reconnects resumes each
 * of its answers in flight once (at most DEFAULT_ASKS_PER_SESSION), so twice that leaves room
 * for a retry each; a replay is at most 300 KB, so a connection can draw at most 8 × 300 KB.
 */
export const RESUMES_PER_CONNECTION = 8;

/** Write-read rounds one ask may take on a ledger item that other asks keep changing. */
const MAX_TAKE_ROUNDS = 32;

/** Key prefix of a session's ledger item; `#` never occurs in a session or connection id. */
export const SESSION_ASKS_KEY_PREFIX = "#asks#";

export const LEDGER_MESSAGES = {
  connectionBusy: (limit: number) => `This connection already has ${limit} questions being answered. Wait for an answer, then ask again.`,
  sessionBusy: (limit: number) => `This session already has ${limit} questions being answered. Wait for an answer, then ask again.`,
  duplicate: (requestId: string) => `requestId ${requestId} is already being answered on this connection; use a new requestId.`,
  unregistered: "This connection is not registered (it may have expired). Reconnect and ask again.",
  resumesUsed: `This connection has sent its ${RESUMES_PER_CONNECTION} resumes. Reconnect to resume again.`,
  contended: "This session's asks changed too often to admit this one; ask again.",
} as const;

/** One ask: which session, the connection it came on (WebSocket only), and its id. */
export interface AskSlot {
  sessionId: string;
  /** The asking connection; undefined for the HTTP and Lex doors. */
  connectionId?: string;
  /** Unique within the connection (or, without one, within the asker) while in flight. */
  key: string;
}

export interface AskLedger {
  /**
   * Takes a slot for the ask, or throws ProtocolError: `busy` (retryable) when the connection
   * or the session is at its limit, `bad_request` when the connection has the same requestId
   * in flight, `not_found` when the connection is unknown.
   */
  acquire(slot: AskSlot): Promise<void>;
  /** Frees the slot; a no-op when it is already free. */
  release(slot: AskSlot): Promise<void>;
  /**
   * Counts one `resume` frame of the connection, or throws ProtocolError `busy` (not retryable
   * on this connection) once it sent RESUMES_PER_CONNECTION, `not_found` when it is unknown.
   */
  chargeResume(connectionId: string): Promise<void>;
}

export interface DynamoAskLedgerOptions {
  readonly tableName: string;
  /** @default DEFAULT_ASKS_PER_CONNECTION */
  readonly perConnection?: number;
  /** @default DEFAULT_ASKS_PER_SESSION */
  readonly perSession?: number;
  /** @default documentClient() */
  readonly client?: DynamoDBDocumentClient;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

type Leases = Record<string, number>;

function leasesOf(item: Record<string, unknown> | undefined): Leases {
  const asks = item?.asks;
  if (typeof asks !== "object" || asks === null || Array.isArray(asks)) return {};
  return Object.fromEntries(Object.entries(asks).filter((entry): entry is [string, number] => typeof entry[1] === "number"));
}

export class DynamoAskLedger implements AskLedger {
  readonly perConnection: number;
  readonly perSession: number;
  private readonly now: () => number;

  constructor(private readonly options: DynamoAskLedgerOptions) {
    this.perConnection = options.perConnection ?? DEFAULT_ASKS_PER_CONNECTION;
    this.perSession = options.perSession ?? DEFAULT_ASKS_PER_SESSION;
    for (const [name, value] of [["perConnection", this.perConnection], ["perSession", this.perSession]] as const) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`ask ledger: ${name} must be a positive integer, got ${value}`);
    }
    this.now = options.now ?? Date.now;
  }

  async acquire(slot: AskSlot): Promise<void> {
    if (slot.connectionId !== undefined) {
      await this.take(connectionKey(slot.connectionId), slot.key, this.perConnection, "connection");
    }
    try {
      await this.take(sessionAsksKey(slot.sessionId), slotKey(slot), this.perSession, "session");
    } catch (error) {
      if (slot.connectionId !== undefined) await this.free(connectionKey(slot.connectionId), slot.key).catch(() => undefined);
      throw error;
    }
  }

  async release(slot: AskSlot): Promise<void> {
    await Promise.all([
      this.free(sessionAsksKey(slot.sessionId), slotKey(slot)),
      slot.connectionId === undefined ? undefined : this.free(connectionKey(slot.connectionId), slot.key),
    ]);
  }

  async chargeResume(connectionId: string): Promise<void> {
    try {
      await this.client().send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { [CONNECTIONS_TABLE.hashKey]: connectionKey(connectionId) },
          UpdateExpression: "ADD #resumes :one",
          // attribute_exists: an unknown connection's item is never created by the count.
          ConditionExpression: "attribute_exists(#asks) AND (attribute_not_exists(#resumes) OR #resumes < :max)",
          ExpressionAttributeNames: { "#asks": "asks", "#resumes": "resumes" },
          ExpressionAttributeValues: { ":one": 1, ":max": RESUMES_PER_CONNECTION },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const { Item } = await this.client().send(
        new GetCommand({ TableName: this.options.tableName, Key: { [CONNECTIONS_TABLE.hashKey]: connectionKey(connectionId) }, ConsistentRead: true }),
      );
      if (!Item || typeof Item.asks !== "object") throw new ProtocolError("not_found", LEDGER_MESSAGES.unregistered);
      throw new ProtocolError("busy", LEDGER_MESSAGES.resumesUsed, 429, false);
    }
  }

  private client(): DynamoDBDocumentClient {
    return this.options.client ?? documentClient();
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /**
   * Adds `key` to the item's `asks` map while it holds fewer than `limit` live leases. A failed
   * conditional write is followed by a consistent read that decides: refuse (a live duplicate,
   * or `limit` live leases), create the missing item, clear expired leases, or write again. Only
   * a read that counts `limit` live leases refuses as busy: a write that lost to another ask's
   * create, clear or release is tried again (issue 21: the loser of two first asks was refused
   * "already has 4" with 2 in flight).
   */
  private async take(itemKey: string, key: string, limit: number, scope: "connection" | "session"): Promise<void> {
    const busy = () =>
      new ProtocolError("busy", scope === "connection" ? LEDGER_MESSAGES.connectionBusy(limit) : LEDGER_MESSAGES.sessionBusy(limit), 429, true);
    // Every failed round means another ask changed the item in between, so the rounds are
    // bounded by the asks racing on it; the cap only stops a runaway loop.
    for (let attempt = 0; attempt < MAX_TAKE_ROUNDS; attempt++) {
      const until = this.nowSeconds() + ASK_LEASE_SECONDS;
      try {
        await this.client().send(
          new UpdateCommand({
            TableName: this.options.tableName,
            Key: { [CONNECTIONS_TABLE.hashKey]: itemKey },
            // A session's ledger item lives as long as its latest lease; a connection's item keeps its own TTL.
            UpdateExpression: scope === "session" ? "SET #asks.#key = :until, #ttl = :until" : "SET #asks.#key = :until",
            ConditionExpression: "attribute_exists(#asks) AND attribute_not_exists(#asks.#key) AND size(#asks) < :limit",
            ExpressionAttributeNames: {
              "#asks": "asks",
              "#key": key,
              ...(scope === "session" ? { "#ttl": CONNECTIONS_TABLE.ttlAttribute } : {}),
            },
            ExpressionAttributeValues: { ":until": until, ":limit": limit },
          }),
        );
        return;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
      const { Item } = await this.client().send(
        new GetCommand({ TableName: this.options.tableName, Key: { [CONNECTIONS_TABLE.hashKey]: itemKey }, ConsistentRead: true }),
      );
      if (!Item || typeof Item.asks !== "object") {
        if (scope === "connection") throw new ProtocolError("not_found", LEDGER_MESSAGES.unregistered);
        if (await this.createSessionItem(itemKey, key, until)) return;
        continue;
      }
      const now = this.nowSeconds();
      const leases = leasesOf(Item);
      if (leases[key] !== undefined && leases[key] >= now) {
        const requestId = key.slice(key.lastIndexOf("/") + 1);
        throw new DuplicateRequestError(requestId, LEDGER_MESSAGES.duplicate(requestId));
      }
      const live = Object.values(leases).filter((end) => end >= now).length;
      if (live >= limit) throw busy();
      const expired = Object.keys(leases).filter((name) => leases[name] < now);
      if (expired.length > 0) await this.clear(itemKey, expired, leases);
    }
    throw new ProtocolError("busy", LEDGER_MESSAGES.contended, 429, true);
  }

  /** Creates the session's ledger item holding this ask; false when another ask created it first. */
  private async createSessionItem(itemKey: string, key: string, until: number): Promise<boolean> {
    try {
      await this.client().send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { [CONNECTIONS_TABLE.hashKey]: itemKey, asks: { [key]: until }, [CONNECTIONS_TABLE.ttlAttribute]: until },
          ConditionExpression: "attribute_not_exists(#key)",
          ExpressionAttributeNames: { "#key": CONNECTIONS_TABLE.hashKey },
        }),
      );
      return true;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      return false;
    }
  }

  /** Removes expired leases, each only if it is still the lease that was read. */
  private async clear(itemKey: string, expired: string[], leases: Leases): Promise<void> {
    const names: Record<string, string> = { "#asks": "asks" };
    const values: Record<string, number> = {};
    expired.forEach((name, i) => {
      names[`#k${i}`] = name;
      values[`:v${i}`] = leases[name];
    });
    try {
      await this.client().send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { [CONNECTIONS_TABLE.hashKey]: itemKey },
          UpdateExpression: `REMOVE ${expired.map((_, i) => `#asks.#k${i}`).join(", ")}`,
          ConditionExpression: expired.map((_, i) => `#asks.#k${i} = :v${i}`).join(" AND "),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  private async free(itemKey: string, key: string): Promise<void> {
    try {
      await this.client().send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { [CONNECTIONS_TABLE.hashKey]: itemKey },
          UpdateExpression: "REMOVE #asks.#key",
          // Without it, an update of a deleted item (a closed connection) would recreate it.
          ConditionExpression: "attribute_exists(#asks)",
          ExpressionAttributeNames: { "#asks": "asks", "#key": key },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}

export function sessionAsksKey(sessionId: string): string {
  return `${SESSION_ASKS_KEY_PREFIX}${sessionId}`;
}

/** The session ledger's key of an ask: unique across the session's connections and doors. */
function slotKey(slot: AskSlot): string {
  return `${slot.connectionId ?? "-"}/${slot.key}`;
}
