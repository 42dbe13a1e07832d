/**
 * Answers kept for a resume (journal.ts), in the connections table: one item per answer whose
 * asker is known, written at checkpoints while it streams and once when it ends, and kept
 * RESUME_WINDOW_SECONDS after that. A client that lost its connection registers its new one in
 * the item (`resumers`); the writer reads them back with every checkpoint and streams the rest
 * to them, so a resume is served by the invocation that holds the answer, without polling.
 * A `cancel` travels the same way: a flag the writer reads back at its next checkpoint. An
 * answer that can be cancelled but not resumed (the streaming function URL's: its stream is
 * the HTTP response, which no connection can take over) has an item too, marked `cancelOnly`.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { documentClient } from "../shared/aws";
import { CONNECTIONS_TABLE } from "../shared/table";
import type { JournalEvent } from "./journal";

/** How long after its end an answer can still be resumed. */
export const RESUME_WINDOW_SECONDS = 10 * 60;
/** Longest an answer runs (Lambda's 15 minutes): the item outlives it by the resume window. */
const LONGEST_ANSWER_SECONDS = 15 * 60;
/** Journals above this are not kept (DynamoDB items hold 400 KB); such an answer cannot be resumed. */
export const MAX_JOURNAL_BYTES = 300 * 1024;

/**
 * Replays of one ended answer, over all connections, in its resume window: a reconnecting
 * page needs one per tab, so a few; each replay is at most MAX_JOURNAL_BYTES, so one answer
 * costs at most 4 × 300 KB of replay (issue 21: 300 resume frames replayed 78.7 MB).
 */
export const MAX_REPLAYS_PER_ANSWER = 4;

/** Key prefix of answer items; `#` never occurs in a session id. */
export const ANSWER_KEY_PREFIX = "#answer#";

/** Which answer: the asker's principal is part of the key, so only the asker can resume it. */
export interface AnswerKey {
  sessionId: string;
  principal: string;
  requestId: string;
}

export type ResumeOutcome =
  /** The answer is still streaming: its writer will stream the rest to the connection. */
  | { state: "attached" }
  /** The answer ended: here are its events, to replay after `afterSeq`. */
  | { state: "ended"; events: JournalEvent[] }
  /** No such answer for this principal, or its resume window has passed. */
  | { state: "unknown" }
  /** The answer was too long to keep. */
  | { state: "too_long" }
  /** The answer ended and was replayed MAX_REPLAYS_PER_ANSWER times already. */
  | { state: "replayed_out" };

/** What the writer learns at a checkpoint. */
export interface CheckpointNews {
  /** Connections that asked to resume: connection id → the seq they saw last. */
  resumers: Record<string, number>;
  /** The asker cancelled the answer. */
  cancelled: boolean;
}

export interface JournalStore {
  /** Creates the answer's item before anything streams; `resumable: false` for one that can only be cancelled. */
  open(key: AnswerKey, options?: { resumable?: boolean }): Promise<void>;
  /** Writes the events so far (the ended journal when `ended`), and returns what was asked of the answer since. */
  checkpoint(key: AnswerKey, events: readonly JournalEvent[], ended: boolean): Promise<CheckpointNews>;
  /** Registers `connectionId` to receive the rest after `afterSeq`. */
  resume(key: AnswerKey, connectionId: string, afterSeq: number): Promise<ResumeOutcome>;
  /** Marks a running answer cancelled; its writer stops it at the next checkpoint. False when it is not running. */
  cancel(key: AnswerKey): Promise<boolean>;
}

export interface DynamoJournalStoreOptions {
  readonly tableName: string;
  /** @default documentClient() */
  readonly client?: DynamoDBDocumentClient;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

export function answerKey(key: AnswerKey): string {
  return `${ANSWER_KEY_PREFIX}${key.sessionId}#${key.requestId}#${key.principal}`;
}

export class DynamoJournalStore implements JournalStore {
  private readonly now: () => number;

  constructor(private readonly options: DynamoJournalStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  private client(): DynamoDBDocumentClient {
    return this.options.client ?? documentClient();
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  async open(key: AnswerKey, options: { resumable?: boolean } = {}): Promise<void> {
    await this.client().send(
      new PutCommand({
        TableName: this.options.tableName,
        Item: {
          [CONNECTIONS_TABLE.hashKey]: answerKey(key),
          events: [],
          resumers: {},
          ...(options.resumable === false ? { cancelOnly: true } : {}),
          [CONNECTIONS_TABLE.ttlAttribute]: this.nowSeconds() + LONGEST_ANSWER_SECONDS + RESUME_WINDOW_SECONDS,
        },
      }),
    );
  }

  async checkpoint(key: AnswerKey, events: readonly JournalEvent[], ended: boolean): Promise<CheckpointNews> {
    const tooLong = Buffer.byteLength(JSON.stringify(events), "utf8") > MAX_JOURNAL_BYTES;
    const sets = ["#events = :events"];
    const values: Record<string, unknown> = { ":events": tooLong ? [] : events };
    if (tooLong) sets.push("#tooLong = :true");
    if (ended) {
      sets.push("#ended = :true", "#ttl = :ttl");
      values[":ttl"] = this.nowSeconds() + RESUME_WINDOW_SECONDS;
    }
    if (tooLong || ended) values[":true"] = true;
    try {
      const output = await this.client().send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { [CONNECTIONS_TABLE.hashKey]: answerKey(key) },
          UpdateExpression: `SET ${sets.join(", ")}`,
          // The item open() made; without it (open failed) nobody can have registered a resume.
          ConditionExpression: "attribute_exists(#resumers)",
          ExpressionAttributeNames: {
            "#events": "events",
            "#resumers": "resumers",
            ...(tooLong ? { "#tooLong": "tooLong" } : {}),
            ...(ended ? { "#ended": "ended", "#ttl": CONNECTIONS_TABLE.ttlAttribute } : {}),
          },
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      const item = output.Attributes ?? {};
      const resumers = typeof item.resumers === "object" && item.resumers !== null ? item.resumers : {};
      return {
        resumers: Object.fromEntries(Object.entries(resumers).filter((entry): entry is [string, number] => typeof entry[1] === "number")),
        cancelled: item.cancelled === true,
      };
    } catch (error) {
      if (isConditionalCheckFailed(error)) return { resumers: {}, cancelled: false };
      throw error;
    }
  }

  async cancel(key: AnswerKey): Promise<boolean> {
    try {
      await this.client().send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { [CONNECTIONS_TABLE.hashKey]: answerKey(key) },
          UpdateExpression: "SET #cancelled = :true",
          ConditionExpression: "attribute_exists(#resumers) AND attribute_not_exists(#ended)",
          ExpressionAttributeNames: { "#cancelled": "cancelled", "#resumers": "resumers", "#ended": "ended" },
          ExpressionAttributeValues: { ":true": true },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async resume(key: AnswerKey, connectionId: string, afterSeq: number): Promise<ResumeOutcome> {
    try {
      await this.client().send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { [CONNECTIONS_TABLE.hashKey]: answerKey(key) },
          UpdateExpression: "SET #resumers.#connection = :afterSeq",
          // Once ended, no writer reads resumers again: the caller replays the ended journal.
          ConditionExpression:
            "attribute_exists(#resumers) AND attribute_not_exists(#ended) AND attribute_not_exists(#tooLong) AND attribute_not_exists(#cancelOnly) AND #ttl > :now",
          ExpressionAttributeNames: {
            "#resumers": "resumers",
            "#cancelOnly": "cancelOnly",
            "#connection": connectionId,
            "#ended": "ended",
            "#tooLong": "tooLong",
            "#ttl": CONNECTIONS_TABLE.ttlAttribute,
          },
          ExpressionAttributeValues: { ":afterSeq": afterSeq, ":now": this.nowSeconds() },
        }),
      );
      return { state: "attached" };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const { Item } = await this.client().send(
      new GetCommand({ TableName: this.options.tableName, Key: { [CONNECTIONS_TABLE.hashKey]: answerKey(key) }, ConsistentRead: true }),
    );
    // DynamoDB deletes expired items lazily: one past its TTL is gone.
    if (!Item || typeof Item.ttl !== "number" || Item.ttl <= this.nowSeconds() || Item.cancelOnly === true) return { state: "unknown" };
    if (Item.tooLong === true) return { state: "too_long" };
    if (Item.ended !== true || !Array.isArray(Item.events)) return { state: "unknown" };
    return (await this.chargeReplay(key)) ? { state: "ended", events: Item.events as JournalEvent[] } : { state: "replayed_out" };
  }

  /** Counts one replay of the ended answer; false when it has had MAX_REPLAYS_PER_ANSWER. */
  private async chargeReplay(key: AnswerKey): Promise<boolean> {
    try {
      await this.client().send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { [CONNECTIONS_TABLE.hashKey]: answerKey(key) },
          UpdateExpression: "ADD #replays :one",
          ConditionExpression: "#ended = :true AND (attribute_not_exists(#replays) OR #replays < :max)",
          ExpressionAttributeNames: { "#replays": "replays", "#ended": "ended" },
          ExpressionAttributeValues: { ":one": 1, ":true": true, ":max": MAX_REPLAYS_PER_ANSWER },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
