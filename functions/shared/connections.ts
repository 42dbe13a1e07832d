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
   * the owner row goes too. Returns the deleted row.
   */
  remove(connectionId: string): Promise<ConnectionRow | undefined>;
}
