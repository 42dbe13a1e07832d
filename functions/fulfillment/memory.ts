/**
 * Conversation memory: the last N turns of a session in one DynamoDB item (MEMORY_TABLE),
 * sent back to the model as history. Bounded (each text truncated, the item kept far below
 * DynamoDB's 400 KB), expiring (TTL), and owned: the item records the principal that wrote
 * it, and another principal's request on the same sessionId neither reads nor overwrites it.
 * GetItem and a conditional PutItem only.
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
  /** Replaces the session's memory, unless another owner holds it (then a no-op). */
  save(sessionId: string, owner: string, state: MemoryState): Promise<void>;
}

/**
 * Owner of memory written by a request that carries no principal (the Lex door: Lex passes
 * no caller identity). Principals are `cognito:…` / `iam:…`, so this never equals one.
 */
export const UNIDENTIFIED_OWNER = "unidentified";

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
    const { Item: item } = await this.client().send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { [MEMORY_TABLE.hashKey]: sessionId },
        ConsistentRead: true,
      }),
    );
    if (!item || item.principal !== owner) return { turns: [] };
    // DynamoDB deletes expired items lazily; an expired one is gone as far as we are concerned.
    if (typeof item.ttl === "number" && item.ttl * 1000 <= this.now()) return { turns: [] };
    const turns = Array.isArray(item.turns) ? item.turns.filter(isTurn) : [];
    return typeof item.kbSessionId === "string" ? { turns, kbSessionId: item.kbSessionId } : { turns };
  }

  async save(sessionId: string, owner: string, state: MemoryState): Promise<void> {
    const nowSeconds = Math.floor(this.now() / 1000);
    try {
      await this.client().send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            [MEMORY_TABLE.hashKey]: sessionId,
            principal: owner,
            turns: state.turns,
            ...(state.kbSessionId ? { kbSessionId: state.kbSessionId } : {}),
            updatedAt: this.now(),
            [MEMORY_TABLE.ttlAttribute]: nowSeconds + this.options.ttlSeconds,
          },
          ConditionExpression: "attribute_not_exists(#key) OR #principal = :owner OR #ttl <= :now",
          ExpressionAttributeNames: {
            "#key": MEMORY_TABLE.hashKey,
            "#principal": "principal",
            "#ttl": MEMORY_TABLE.ttlAttribute,
          },
          ExpressionAttributeValues: { ":owner": owner, ":now": nowSeconds },
        }),
      );
    } catch (error) {
      // Another owner holds the session's memory: leave it alone.
      if ((error as { name?: unknown }).name === "ConditionalCheckFailedException") return;
      throw error;
    }
  }
}
