/**
 * Key schemas of the DynamoDB tables, exported from one place so the deployed tables
 * (components/) and the local emulator's tables (local/) are created alike.
 */

/** Connections table: one row per open WebSocket, several per session, plus one owner row per session. */
export const CONNECTIONS_TABLE = {
  hashKey: "sessionId",
  rangeKey: "connectionId",
  ttlAttribute: "ttl",
  attributes: [
    { name: "sessionId", type: "S" },
    { name: "connectionId", type: "S" },
    { name: "socketId", type: "S" },
  ],
  /**
   * Finds a row by connection id alone (`$disconnect`, the `ask` route). Keyed on `socketId`,
   * a copy of the connection id that only connection rows carry: owner rows stay out of the
   * index, so their common range key never becomes one hot index partition.
   */
  connectionIndex: {
    name: "byConnectionId",
    hashKey: "socketId",
    projectionType: "ALL",
  },
} as const;

/**
 * Range key of the row that binds a session to the principal that first registered it.
 * `#` cannot occur in an API Gateway connection id, so it never collides with one.
 */
export const SESSION_OWNER_KEY = "#owner";

export type StreamFormat = "text" | "json";

/** A row per open connection. */
export interface ConnectionRow {
  sessionId: string;
  connectionId: string;
  /** Canonical principal of the caller that opened the connection (see principal.ts). */
  principal: string;
  format: StreamFormat;
  /** Epoch milliseconds. */
  connectedAt: number;
  /** Epoch seconds; DynamoDB TTL. */
  ttl: number;
}

/** The row that binds a session to its owner; `connections` counts its open connections. */
export interface SessionOwnerRow {
  sessionId: string;
  connectionId: typeof SESSION_OWNER_KEY;
  principal: string;
  connections: number;
  ttl: number;
}

/** Conversation memory table (QnA stack): one row per session holding the last N turns. */
export const MEMORY_TABLE = {
  hashKey: "sessionId",
  ttlAttribute: "ttl",
  attributes: [{ name: "sessionId", type: "S" }],
} as const;
