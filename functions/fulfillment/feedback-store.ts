/**
 * Feedback records, in the connections table: one item per answer whose asker is known,
 * written when the answer ends (question, answer, model, sources) and rated later by that
 * asker. The key holds the session, the requestId and the asker's principal, so only the asker
 * can find the record to rate: another principal, an unknown requestId and an answer still
 * being generated (its record is written only at its end) all find none. A second rating of
 * the same answer replaces the first (the last one wins: a user may change their mind).
 * Items live `ttlDays` after the answer ends, and again `ttlDays` after each rating.
 */
import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { documentClient } from "../shared/aws";
import type { Feedback, FeedbackRating } from "../shared/feedback";
import type { AnswerMode, Citation } from "../shared/protocol";
import { CONNECTIONS_TABLE } from "../shared/table";

/** Key prefix of feedback records; `#` never occurs in a session id. */
export const FEEDBACK_KEY_PREFIX = "#feedback#";

/**
 * Longest answer kept in a record, in UTF-16 code units: at most 3 bytes each in UTF-8, so the
 * item stays well under DynamoDB's 400 KB with the question and sources beside it. A longer
 * answer is kept cut, marked `answerTruncated`.
 */
export const MAX_RECORDED_ANSWER_CHARS = 60_000;
/** Most distinct sources kept in a record. */
export const MAX_RECORDED_SOURCES = 50;

/** Which answer: the asker's principal is part of the key, so only the asker can rate it. */
export interface FeedbackKey {
  sessionId: string;
  principal: string;
  requestId: string;
}

/** What is kept of an ended answer, for the feedback that may come. */
export interface AnswerRecord extends FeedbackKey {
  question: string;
  /** The final answer (markdown), as the asker was shown it. */
  answer: string;
  mode: AnswerMode;
  /** The model that answered, when known. */
  model?: string;
  sources: { uri: string; title?: string }[];
  stopReason: string;
}

export type FeedbackOutcome =
  /** Stored; `replaced` when it overwrote an earlier rating of the same answer. */
  | { state: "accepted"; replaced: boolean }
  /** No ended answer of this principal under this session and requestId (or its record expired). */
  | { state: "unknown" };

export interface FeedbackStore {
  /** Writes the record of an ended answer, before its end reaches the asker. */
  recordAnswer(record: AnswerRecord): Promise<void>;
  /** Stores the asker's rating of one of its ended answers. */
  rate(key: FeedbackKey, feedback: Feedback): Promise<FeedbackOutcome>;
}

export interface DynamoFeedbackStoreOptions {
  readonly tableName: string;
  /** Days a record lives after the answer ends, and after each rating. */
  readonly ttlDays: number;
  /** @default documentClient() */
  readonly client?: DynamoDBDocumentClient;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

export function feedbackItemKey(key: FeedbackKey): string {
  return `${FEEDBACK_KEY_PREFIX}${key.sessionId}#${key.requestId}#${key.principal}`;
}

/** The distinct sources of an answer's citations, first seen first. */
export function sourcesOf(citations: readonly Citation[]): { uri: string; title?: string }[] {
  const seen = new Map<string, { uri: string; title?: string }>();
  for (const citation of citations) {
    for (const source of citation.sources) {
      if (seen.size >= MAX_RECORDED_SOURCES) return [...seen.values()];
      if (!seen.has(source.uri)) seen.set(source.uri, source.title === undefined ? { uri: source.uri } : { uri: source.uri, title: source.title });
    }
  }
  return [...seen.values()];
}

function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

export class DynamoFeedbackStore implements FeedbackStore {
  private readonly now: () => number;

  constructor(private readonly options: DynamoFeedbackStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  private client(): DynamoDBDocumentClient {
    return this.options.client ?? documentClient();
  }

  private expiresAt(nowMs: number): number {
    return Math.floor(nowMs / 1000) + this.options.ttlDays * 86_400;
  }

  async recordAnswer(record: AnswerRecord): Promise<void> {
    const now = this.now();
    const truncated = record.answer.length > MAX_RECORDED_ANSWER_CHARS;
    await this.client().send(
      new PutCommand({
        TableName: this.options.tableName,
        Item: {
          [CONNECTIONS_TABLE.hashKey]: feedbackItemKey(record),
          kind: "feedback",
          principal: record.principal,
          answerSessionId: record.sessionId,
          requestId: record.requestId,
          question: record.question,
          answer: truncated ? record.answer.slice(0, MAX_RECORDED_ANSWER_CHARS) : record.answer,
          ...(truncated ? { answerTruncated: true } : {}),
          mode: record.mode,
          ...(record.model ? { model: record.model } : {}),
          sources: record.sources,
          stopReason: record.stopReason,
          answeredAt: new Date(now).toISOString(),
          [CONNECTIONS_TABLE.ttlAttribute]: this.expiresAt(now),
        },
      }),
    );
  }

  async rate(key: FeedbackKey, feedback: Feedback): Promise<FeedbackOutcome> {
    const now = this.now();
    const sets = ["#rating = :rating", "#ratedAt = :ratedAt", "#ttl = :ttl"];
    const values: Record<string, unknown> = {
      ":rating": feedback.rating satisfies FeedbackRating,
      ":ratedAt": new Date(now).toISOString(),
      ":ttl": this.expiresAt(now),
      ":now": Math.floor(now / 1000),
      ":one": 1,
    };
    if (feedback.comment !== undefined) {
      sets.push("#comment = :comment");
      values[":comment"] = feedback.comment;
    }
    try {
      const output = await this.client().send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { [CONNECTIONS_TABLE.hashKey]: feedbackItemKey(key) },
          // The last rating wins whole: a new one without a comment drops the old comment.
          UpdateExpression: `SET ${sets.join(", ")} ADD #ratings :one${feedback.comment === undefined ? " REMOVE #comment" : ""}`,
          // DynamoDB deletes expired items lazily (up to a few days late): one past its TTL is gone.
          ConditionExpression: "attribute_exists(#answeredAt) AND #ttl > :now",
          ExpressionAttributeNames: {
            "#rating": "rating",
            "#ratedAt": "ratedAt",
            "#ttl": CONNECTIONS_TABLE.ttlAttribute,
            "#comment": "comment",
            "#ratings": "ratings",
            "#answeredAt": "answeredAt",
          },
          ExpressionAttributeValues: values,
          ReturnValues: "UPDATED_NEW",
        }),
      );
      return { state: "accepted", replaced: (output.Attributes?.ratings as number | undefined ?? 1) > 1 };
    } catch (error) {
      if (isConditionalCheckFailed(error)) return { state: "unknown" };
      throw error;
    }
  }
}
