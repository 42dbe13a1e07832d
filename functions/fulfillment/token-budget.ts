/**
 * Cost control: the tokens each asker used today, metered from Bedrock's own usage figures,
 * and a daily budget checked before the model is called. On AWS every answer runs in its own
 * invocation, so the tally lives in the connections table (atomic `ADD`, TTL), not in memory.
 *
 * Who is counted: the asker's principal when the door knows it (WebSocket, POST /ask, the
 * function URL); the session id when it does not (the Lex door: Lex passes no identity).
 */
import { UpdateCommand, GetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { documentClient } from "../shared/aws";
import type { Usage } from "../shared/protocol";
import { CONNECTIONS_TABLE } from "../shared/table";
import { GenerationError } from "./errors";

/**
 * Key prefix of usage items. `#` can occur neither in a session id (`[A-Za-z0-9:._-]`,
 * validateSessionId) nor in a connection id, so a usage item never collides with a session,
 * connection lookup (`#connection#`) or ask ledger (`#asks#`) item.
 */
export const TOKEN_USAGE_KEY_PREFIX = "#tokens#";

/** The largest daily budget the setting accepts (a billion tokens). */
export const MAX_TOKEN_BUDGET_PER_DAY = 1_000_000_000;

/** Usage items outlive their day by this much, so a day's tally can still be read the morning after. */
export const TOKEN_USAGE_TTL_SECONDS = 2 * 86_400;

/** Shown to the asker whose budget is spent; Lex reads it out as the answer. */
export const BUDGET_MESSAGE =
  "Sorry, you have reached today's limit of answers on this service. Please come back tomorrow (the limit resets at midnight UTC).";

/** Whose budget an ask spends: its principal, else its session. */
export function budgetSubject(ask: { principal?: string; sessionId: string }): string {
  return ask.principal ? `principal:${ask.principal}` : `session:${ask.sessionId}`;
}

/** The UTC day (`YYYY-MM-DD`) an epoch millisecond falls in: budgets reset at midnight UTC. */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

export function usageItemKey(subject: string, day: string): string {
  return `${TOKEN_USAGE_KEY_PREFIX}${day}#${subject}`;
}

/**
 * The tokens an answer spends from a budget: everything the model read and wrote, cache reads
 * and writes included (Bedrock bills each; its `totalTokens` already sums them when present).
 */
export function tokensSpent(usage: Usage): number {
  const cached = (usage.cacheReadInputTokens ?? 0) + (usage.cacheWriteInputTokens ?? 0);
  return Math.max(usage.totalTokens, usage.inputTokens + usage.outputTokens + cached);
}

/** Prices in US dollars per million tokens, for the estimated cost shown with an answer. */
export interface TokenPrices {
  input: number;
  output: number;
}

/**
 * Parses `input,output` (US dollars per million tokens), as TOKEN_PRICES_USD_PER_MILLION holds
 * them; undefined when unset. Throws on anything else, naming the setting.
 */
export function parseTokenPrices(raw: string | undefined): TokenPrices | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  const parts = raw.split(",").map((part) => part.trim());
  const numbers = parts.map(Number);
  if (parts.length !== 2 || parts.some((part) => !/^\d+(\.\d+)?$/.test(part)) || numbers.some((n) => !Number.isFinite(n))) {
    throw new RangeError(`token prices must be "input,output" in US dollars per million tokens (e.g. "3,15"); got "${raw}"`);
  }
  return { input: numbers[0], output: numbers[1] };
}

/**
 * Estimated cost of an answer in US dollars, rounded to a millionth of a dollar. Cache reads
 * and writes are priced as input: Bedrock prices them differently per model, so the estimate
 * is an upper bound for cache reads and a lower bound for cache writes.
 */
export function estimateCostUsd(usage: Usage, prices: TokenPrices): number {
  const input = usage.inputTokens + (usage.cacheReadInputTokens ?? 0) + (usage.cacheWriteInputTokens ?? 0);
  return Math.round(input * prices.input + usage.outputTokens * prices.output) / 1_000_000;
}

export interface TokenBudget {
  /** Throws GenerationError `budget` when the subject has spent today's budget. */
  check(subject: string): Promise<void>;
  /** Adds an answer's usage to the subject's tally of today. */
  record(subject: string, usage: Usage): Promise<void>;
}

export interface DynamoTokenBudgetOptions {
  readonly tableName: string;
  /** Tokens one subject may spend per UTC day. */
  readonly tokensPerDay: number;
  /** @default documentClient() */
  readonly client?: DynamoDBDocumentClient;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

/**
 * The budget in the connections table: one item per subject and day. The check is a read
 * before the answer, the record an atomic ADD after it, so answers running at the same time
 * may together overshoot the budget by what they spend; the next ask is refused.
 */
export class DynamoTokenBudget implements TokenBudget {
  private readonly now: () => number;

  constructor(private readonly options: DynamoTokenBudgetOptions) {
    if (!Number.isSafeInteger(options.tokensPerDay) || options.tokensPerDay < 1) {
      throw new RangeError(`token budget: tokensPerDay must be a positive integer, got ${options.tokensPerDay}`);
    }
    this.now = options.now ?? Date.now;
  }

  private client(): DynamoDBDocumentClient {
    return this.options.client ?? documentClient();
  }

  async check(subject: string): Promise<void> {
    const output = await this.client().send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { [CONNECTIONS_TABLE.hashKey]: usageItemKey(subject, utcDay(this.now())) },
        ProjectionExpression: "spentTokens",
      }),
    );
    const spent = output.Item?.spentTokens;
    if (typeof spent === "number" && spent >= this.options.tokensPerDay) {
      throw new GenerationError("budget", BUDGET_MESSAGE, false, `${subject} spent ${spent} of ${this.options.tokensPerDay} tokens today`);
    }
  }

  async record(subject: string, usage: Usage): Promise<void> {
    const now = this.now();
    await this.client().send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: { [CONNECTIONS_TABLE.hashKey]: usageItemKey(subject, utcDay(now)) },
        UpdateExpression:
          "ADD spentTokens :spent, inputTokens :input, outputTokens :output, cacheReadInputTokens :cacheRead, cacheWriteInputTokens :cacheWrite, answers :one SET #ttl = :ttl",
        ExpressionAttributeNames: { "#ttl": CONNECTIONS_TABLE.ttlAttribute },
        ExpressionAttributeValues: {
          ":spent": tokensSpent(usage),
          ":input": usage.inputTokens,
          ":output": usage.outputTokens,
          ":cacheRead": usage.cacheReadInputTokens ?? 0,
          ":cacheWrite": usage.cacheWriteInputTokens ?? 0,
          ":one": 1,
          ":ttl": Math.floor(now / 1000) + TOKEN_USAGE_TTL_SECONDS,
        },
      }),
    );
  }
}
