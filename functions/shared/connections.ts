/**
 * The connections store: what the connection function and the stream writer need from the
 * connections table. Implemented over DynamoDB in dynamo-connections.ts; an interface so
 * pure modules can be tested with an in-memory one.
 */
import type { ConnectionRow, StreamFormat } from "./table";

export interface RegisterConnection {
  sessionId: string;
  connectionId: string;
  principal: string;
  format: StreamFormat;
}

export interface SessionConnections {
  /** Principal that owns the session, when any connection registered it. */
  owner?: string;
  /** Open connections of the session whose principal is the owner. */
  connections: ConnectionRow[];
}

/**
 * DynamoDB actions each side uses, so the IAM policies (components/) grant exactly these.
 * register: a conditional UpdateItem of the owner row (binds the session, counts connections;
 * an owner row past its TTL, which DynamoDB may keep for days, is taken over by a second
 * conditional UpdateItem), then PutItem of the connection row; find: Query on the connectionId index; listSession:
 * Query on the table; remove: DeleteItem of the row, UpdateItem of the owner's count, and a
 * conditional DeleteItem of the owner row when the count reached zero. (No transactions:
 * each step is atomic on its own item, and dynalite, the local emulator, has none.)
 */
export const CONNECTION_FUNCTION_TABLE_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:Query",
] as const;
/** What a streaming function (fulfillment, a custom LLM hook) needs: find, listSession, remove. */
export const STREAMING_FUNCTION_TABLE_ACTIONS = [
  "dynamodb:Query",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
] as const;

export interface ConnectionsStore {
  /**
   * Records a connection, atomically binding the session to `principal` if unbound.
   * Throws ProtocolError("forbidden") when another principal owns the session.
   */
  register(connection: RegisterConnection): Promise<ConnectionRow>;
  /** The connection's row, or undefined when unknown. */
  find(connectionId: string): Promise<ConnectionRow | undefined>;
  /** The session's owner and its owner's open connections. */
  listSession(sessionId: string): Promise<SessionConnections>;
  /**
   * Deletes a connection row (no-op when already gone); when it was the session's last,
   * the owner row goes too. Resolves true when this call deleted the row.
   */
  remove(key: { sessionId: string; connectionId: string }): Promise<boolean>;
}
