/**
 * Key schemas of the DynamoDB tables, exported from one place so the deployed tables
 * (components/) and the local emulator's tables (local/) are created alike.
 */

/**
 * Connections table, keyed by `sessionId` alone so a QnABot 7.4 hook's
 * `GetItem {sessionId}` → `connectionId` works unchanged (clients.md). Its items:
 * - the session item (`sessionId` = the session id): the principals that claimed the session,
 *   its open connections, and `connectionId`, the latest live connection, present only where an
 *   answer whose asker is unknown may stream to it (see session-state.ts, toItem);
 * - a lookup item per connection (`sessionId` = CONNECTION_KEY_PREFIX + connection id), so
 *   `$disconnect` and the `ask` route, which know only the connection id, find its session
 *   with one GetItem;
 * - a claims item per Cognito identity (PRINCIPAL_CLAIMS_KEY_PREFIX + principal) with
 *   `unboundSessionStreaming` on (dynamo-connections.ts).
 */
export const CONNECTIONS_TABLE = {
  hashKey: "sessionId",
  ttlAttribute: "ttl",
  attributes: [{ name: "sessionId", type: "S" }],
} as const;

/**
 * Key prefix of connection lookup items. `#` can occur neither in a session id
 * (`[A-Za-z0-9:._-]`) nor in an API Gateway connection id, so no key ever collides.
 */
export const CONNECTION_KEY_PREFIX = "#connection#";

/**
 * Key prefix of a principal's claims item (the unbound session ids it holds, counted with
 * `unboundSessionStreaming` on). `#` occurs in no session id, so it never collides with one.
 */
export const PRINCIPAL_CLAIMS_KEY_PREFIX = "#claims#";

export type StreamFormat = "text" | "json";

/** One open connection, as the stores and the writer see it. */
export interface ConnectionRow {
  sessionId: string;
  connectionId: string;
  /** Canonical principal of the caller that opened the connection (see principal.ts). */
  principal: string;
  format: StreamFormat;
  /** Epoch milliseconds. */
  connectedAt: number;
  /** Epoch seconds after which the connection is treated as closed (API Gateway's 2 h limit). */
  ttl: number;
}

/** Conversation memory table (QnA stack): one row per session holding the last N turns. */
export const MEMORY_TABLE = {
  hashKey: "sessionId",
  ttlAttribute: "ttl",
  attributes: [{ name: "sessionId", type: "S" }],
} as const;
