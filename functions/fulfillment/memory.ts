/**
 * Conversation memory: the last N turns of a session in one DynamoDB item (MEMORY_TABLE),
 * sent back to the model as history. Bounded (each text truncated, the item kept far below
 * DynamoDB's 400 KB), expiring (TTL), and owned: the item records the principal that wrote
 * it, and another principal's request on the same sessionId neither reads nor overwrites it.
 * A turn is appended to the item as it is when the answer ends, conditionally on its version,
 * so concurrent asks in one session all land. GetItem and a conditional PutItem only.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { documentClient } from "../shared/aws";
import { MEMORY_TABLE } from "../shared/table";
import type { Turn } from "./generate";

export interface MemoryState {
  /** Oldest first. */
  turns: Turn[];
  /** The knowledge base's session id for follow-up questions. */
  kbSessionId?: string;
}

export interface ConversationMemory {
  /** The session's memory when `owner` wrote it; empty otherwise. */
  load(sessionId: string, owner: string): Promise<MemoryState>;
  /**
   * Appends one turn to the session's memory as it is now (not as it was loaded), within
   * `limits`, unless another owner holds it (then a no-op). The item expires at `until` (epoch
   * seconds) when that comes before the memory's own TTL.
   */
  append(sessionId: string, owner: string, turn: Turn, limits: MemoryLimits, kbSessionId?: string, until?: number): Promise<void>;
}

export interface MemoryLimits {
  /** Turns kept. */
  turns: number;
  /** UTF-8 bytes kept of each question and each answer. */
  maxTextBytes: number;
  /** Bound on the item's JSON size; the oldest turns go first to stay under it. */
  maxItemBytes: number;
}

export const DEFAULT_MEMORY_LIMITS: Omit<MemoryLimits, "turns"> = {
  maxTextBytes: 8 * 1024,
  maxItemBytes: 64 * 1024,
};

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, "utf8");
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

function byteSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/** The state after one more turn: texts truncated, at most `turns` kept, within `maxItemBytes`. */
export function appendTurn(state: MemoryState, turn: Turn, limits: MemoryLimits, kbSessionId?: string): MemoryState {
  const next: Turn = {
    question: truncateUtf8(turn.question, limits.maxTextBytes),
    answer: truncateUtf8(turn.answer, limits.maxTextBytes),
    ...(turn.cutShort ? { cutShort: true } : {}),
  };
  const turns = limits.turns > 0 ? [...state.turns, next].slice(-limits.turns) : [];
  const result: MemoryState = { turns };
  const session = kbSessionId ?? state.kbSessionId;
  if (session) result.kbSessionId = session;
  while (result.turns.length > 0 && byteSize(result) > limits.maxItemBytes) result.turns.shift();
  return result;
}

function isTurn(value: unknown): value is Turn {
  const turn = value as Turn;
  return typeof value === "object" && value !== null && typeof turn.question === "string" && typeof turn.answer === "string";
}

export interface DynamoMemoryOptions {
  tableName: string;
  /** Seconds the item lives after its last turn. */
  ttlSeconds: number;
  /** Document client. @default documentClient() from shared/aws.ts, resolved on each call */
  client?: DynamoDBDocumentClient;
  /** Epoch milliseconds. @default Date.now */
  now?: () => number;
}

export class DynamoMemory implements ConversationMemory {
  private readonly now: () => number;

  constructor(private readonly options: DynamoMemoryOptions) {
    this.now = options.now ?? Date.now;
  }

  private client(): DynamoDBDocumentClient {
    return this.options.client ?? documentClient();
  }

  async load(sessionId: string, owner: string): Promise<MemoryState> {
    const item = await this.read(sessionId);
    return this.owned(item, owner) ? stateOf(item!) : { turns: [] };
  }

  async append(sessionId: string, owner: string, turn: Turn, limits: MemoryLimits, kbSessionId?: string, until?: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const item = await this.read(sessionId);
      const nowSeconds = Math.floor(this.now() / 1000);
      const expired = item !== undefined && typeof item.ttl === "number" && item.ttl <= nowSeconds;
      // Another owner's live memory is left alone.
      if (item && !expired && item.principal !== owner) return;
      const current = item && !expired ? stateOf(item) : { turns: [] };
      const next = appendTurn(current, turn, limits, kbSessionId);
      const version = item && typeof item.version === "number" ? item.version : undefined;
      try {
        await this.client().send(
          new PutCommand({
            TableName: this.options.tableName,
            Item: {
              [MEMORY_TABLE.hashKey]: sessionId,
              principal: owner,
              turns: next.turns,
              ...(next.kbSessionId ? { kbSessionId: next.kbSessionId } : {}),
              updatedAt: this.now(),
              version: (version ?? 0) + 1,
              [MEMORY_TABLE.ttlAttribute]: Math.min(nowSeconds + this.options.ttlSeconds, until ?? Number.POSITIVE_INFINITY),
            },
            ...(item === undefined
              ? { ConditionExpression: "attribute_not_exists(#key)", ExpressionAttributeNames: { "#key": MEMORY_TABLE.hashKey } }
              : version === undefined
                ? { ConditionExpression: "attribute_not_exists(#version)", ExpressionAttributeNames: { "#version": "version" } }
                : {
                    ConditionExpression: "#version = :version",
                    ExpressionAttributeNames: { "#version": "version" },
                    ExpressionAttributeValues: { ":version": version },
                  }),
          }),
        );
        return;
      } catch (error) {
        // Another turn of the session landed since the read: append to that one.
        if ((error as { name?: unknown }).name !== "ConditionalCheckFailedException" || attempt >= MAX_APPEND_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }

  private async read(sessionId: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.client().send(
      new GetCommand({ TableName: this.options.tableName, Key: { [MEMORY_TABLE.hashKey]: sessionId }, ConsistentRead: true }),
    );
    return Item;
  }

  /** DynamoDB deletes expired items lazily; an expired one is gone as far as we are concerned. */
  private owned(item: Record<string, unknown> | undefined, owner: string): boolean {
    if (!item || item.principal !== owner) return false;
    return !(typeof item.ttl === "number" && item.ttl * 1000 <= this.now());
  }
}

/** Concurrent asks of one session each need a turn at the item: enough attempts for a burst of them. */
const MAX_APPEND_ATTEMPTS = 40;

function stateOf(item: Record<string, unknown>): MemoryState {
  const turns = Array.isArray(item.turns) ? item.turns.filter(isTurn) : [];
  return typeof item.kbSessionId === "string" ? { turns, kbSessionId: item.kbSessionId } : { turns };
}
