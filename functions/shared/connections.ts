/**
 * The connections store: what the connection function, the doors and the stream writer need
 * from the connections table (see table.ts for its items, session-state.ts for the rules).
 * Implemented over DynamoDB in dynamo-connections.ts; an interface so pure modules can be
 * tested with an in-memory one.
 */
import type { SessionView } from "./session-state";
import type { ConnectionRow, StreamFormat } from "./table";

export interface RegisterConnection {
  sessionId: string;
  connectionId: string;
  principal: string;
  format: StreamFormat;
}

/**
 * DynamoDB actions each side uses, so the IAM policies (components/) grant exactly these.
 * Every change to a session is GetItem (consistent) then PutItem conditional on the version
 * read (or DeleteItem when nothing is left), retried on a lost race; a connection's lookup
 * item is PutItem/GetItem/DeleteItem. No Query, no index, no transaction: each step is atomic
 * on one item, and dynalite, the local emulator, has no transactions.
 */
export const CONNECTION_FUNCTION_TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"] as const;
/**
 * What a streaming function (fulfillment, a custom LLM hook) needs: find, listSession,
 * remove, and the ask ledger's UpdateItem (ask-ledger.ts). GetItem is also all a QnABot 7.4
 * hook needs (`GetItem {sessionId}` → `connectionId`).
 */
export const STREAMING_FUNCTION_TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"] as const;

export interface ConnectionsStore {
  /**
   * Records a connection and extends its principal's claim on the session. Whether the
   * principal may claim the session at all is checked before (principal.ts).
   * Throws ProtocolError("busy") when the session holds its maximum of connections (the claim
   * is recorded all the same, so the session becomes contested), and, with
   * `unboundSessionStreaming`, when a Cognito identity already holds its maximum of unbound ids.
   */
  register(connection: RegisterConnection): Promise<ConnectionRow>;
  /** The connection's row, or undefined when unknown or expired. */
  find(connectionId: string): Promise<ConnectionRow | undefined>;
  /** The session's claimants, whether it is contested, and its open connections. */
  listSession(sessionId: string): Promise<SessionView>;
  /**
   * Deletes a connection (no-op when already gone); its principal's claim stays until it
   * expires. Resolves true when this call removed the connection.
   */
  remove(key: { sessionId: string; connectionId: string }): Promise<boolean>;
}
