/**
 * One session of the connections table as pure state: who has claimed it, its open
 * connections, and who may receive its answers (design.md, "Security model"). Pure, so every
 * rule is tested without DynamoDB; dynamo-connections.ts reads the item, applies one change
 * and writes it back conditionally on its version.
 *
 * An answer whose asker is known (WebSocket `ask`, `POST /ask`) reaches only the asker's
 * connections. An answer whose asker is unknown (a Lex code hook carries no caller identity,
 * and Lex lets anyone ask under any session id, clients.md) may reach a session's connections
 * only when its id is bound to an identity (principal.ts, isBoundSessionId): then only that
 * identity can hold it. On an unbound id (stock Lex Web UI guests: `lex-web-ui-` + 4 hex
 * digits) it reaches nobody, unless the operator turned on `unboundSessionStreaming`
 * (SessionPolicy). In that mode the claims decide: a claim outlives its connection by
 * CLAIM_GRACE_SECONDS because Lex Web UI never reconnects (a user whose socket closed keeps
 * asking Lex under the same id, and a newcomer with that id must not receive those answers),
 * and while two or more principals hold claims the session is contested and such an answer
 * reaches nobody.
 */
import { isBoundSessionId } from "./principal";
import type { ConnectionRow, StreamFormat } from "./table";

/** How long a claim outlives the connect that made it, beyond the connection's own lifetime. */
export const CLAIM_GRACE_SECONDS = 2 * 60 * 60;

/** Connections one session may hold: bounds the item (DynamoDB's 400 KB) and a client's fan-out. */
export const MAX_CONNECTIONS_PER_SESSION = 50;

export interface ConnectionEntry {
  principal: string;
  format: StreamFormat;
  /** Epoch milliseconds. */
  connectedAt: number;
  /** Epoch seconds after which the socket is closed for sure (API Gateway's 2 h limit). */
  ttl: number;
}

export interface SessionState {
  sessionId: string;
  /** Principal → epoch seconds its claim ends. */
  claims: Record<string, number>;
  /** Connection id → its entry. */
  connections: Record<string, ConnectionEntry>;
}

/** What the table holds for a session: the state plus what is derived for plain readers. */
export interface SessionItem extends SessionState {
  /**
   * The latest live connection, for a QnABot 7.4 hook's `GetItem {sessionId}` →
   * `connectionId`. Present only while an unknown asker may be streamed to (a bound id, or an
   * unbound one with `unboundSessionStreaming` on, uncontested), so such a hook never reaches
   * another principal's socket.
   */
  connectionId?: string;
  /** Epoch seconds; DynamoDB TTL: the latest claim's end. */
  ttl: number;
  /** Optimistic-concurrency counter: every write is conditional on the version it read. */
  version: number;
}

/** What the operator allows for sessions whose id is not bound to an identity. */
export interface SessionPolicy {
  /**
   * Lets an answer whose asker is unknown (the Lex door, QnABot-style hooks) reach the
   * connections of an unbound session id while one principal alone claims it. Anyone can ask
   * Lex under any id, so that principal receives whatever anyone asks under the id.
   * @default false
   */
  readonly unboundSessionStreaming?: boolean;
}

/** A session as the stream writer and the doors see it at one instant. */
export interface SessionView {
  /** Principals holding an unexpired claim. */
  claimants: string[];
  /** Principal → epoch seconds its claim ends, for the claimants. */
  claimEnds: Record<string, number>;
  /** True while two or more principals hold claims: unidentified askers stream to nobody. */
  contested: boolean;
  /**
   * True when an answer whose asker is unknown may reach this session's connections: the id is
   * bound to an identity, or the policy allows unbound ids; and the session is not contested.
   */
  openToUnknownAsker: boolean;
  /** Open connections, of every claimant. */
  connections: ConnectionRow[];
}

export interface ClaimTimes {
  /** Seconds a connection lives (its socket cannot outlive API Gateway's 2 h). */
  connectionTtlSeconds: number;
  /** Seconds a claim outlives its connection. @default CLAIM_GRACE_SECONDS */
  claimGraceSeconds?: number;
}

export function emptySession(sessionId: string): SessionState {
  return { sessionId, claims: {}, connections: {} };
}

/** The state without expired claims and connections (DynamoDB deletes expired items only lazily). */
export function prune(state: SessionState, nowSeconds: number): SessionState {
  const claims = Object.fromEntries(Object.entries(state.claims).filter(([, until]) => until >= nowSeconds));
  const connections = Object.fromEntries(
    Object.entries(state.connections).filter(([, entry]) => entry.ttl >= nowSeconds && claims[entry.principal] !== undefined),
  );
  return { sessionId: state.sessionId, claims, connections };
}

export function view(state: SessionState, nowSeconds: number, policy: SessionPolicy = {}): SessionView {
  const live = prune(state, nowSeconds);
  const claimants = Object.keys(live.claims).sort();
  const connections = Object.entries(live.connections)
    .map(([connectionId, entry]) => ({ sessionId: live.sessionId, connectionId, ...entry }))
    .sort((a, b) => a.connectedAt - b.connectedAt || a.connectionId.localeCompare(b.connectionId));
  const contested = claimants.length > 1;
  const openToUnknownAsker = !contested && (isBoundSessionId(state.sessionId) || policy.unboundSessionStreaming === true);
  return { claimants, claimEnds: { ...live.claims }, contested, openToUnknownAsker, connections };
}

/**
 * The connections an answer may reach. A known asker reaches only its own connections; an
 * unknown asker (Lex, a hook) reaches the session's connections only when the session is open
 * to it (SessionView.openToUnknownAsker).
 */
export function recipients(session: SessionView, asker?: string): ConnectionRow[] {
  if (asker !== undefined) return session.connections.filter((row) => row.principal === asker);
  return session.openToUnknownAsker ? session.connections : [];
}

/** Prefix of the memory owner of a Lex-door conversation: never a principal (`cognito:…`, `iam:…`), so never one's own memory. */
export const LEX_MEMORY_PREFIX = "lex:";

/** Who the Lex door answers as (see lexAudience). */
export interface LexAudience {
  /** Stream the answer to the session's connections (the writer checks the session again when it opens). */
  stream: boolean;
  /** Whose conversation memory the answer reads and extends; false: none. */
  memoryOwner: string | false;
  /** Epoch seconds the memory must not outlive: the claim it belongs to ends then. */
  memoryUntil?: number;
  /** Why the answer is neither streamed nor remembered, when it is not. */
  withheld?: "unbound" | "contested" | "unclaimed";
}

/**
 * Who a Lex question under `sessionId` is answered as. Lex passes no caller identity and lets
 * anyone ask under any session id, so whoever is answered as the session's owner is whoever
 * asked: the answer and the memory it reads go to that owner only where an owner is proven.
 * - A bound id (a Cognito identity id): its identity's connections and its Lex memory.
 * - An unbound id, policy off (the default): no stream, no memory.
 * - An unbound id, policy on: while one principal alone claims it, that principal's
 *   connections and a Lex memory of its own that ends with its claim; contested or unclaimed,
 *   neither (either could hold another principal's words).
 * `session` is undefined when it could not be read: treated as contested.
 */
export function lexAudienceOf(sessionId: string, session: SessionView | undefined, policy: SessionPolicy = {}): LexAudience {
  if (isBoundSessionId(sessionId)) return { stream: true, memoryOwner: `${LEX_MEMORY_PREFIX}cognito:${sessionId}` };
  if (policy.unboundSessionStreaming !== true) return { stream: false, memoryOwner: false, withheld: "unbound" };
  if (!session || session.contested) return { stream: false, memoryOwner: false, withheld: "contested" };
  const [claimant] = session.claimants;
  if (claimant === undefined) return { stream: false, memoryOwner: false, withheld: "unclaimed" };
  return { stream: true, memoryOwner: `${LEX_MEMORY_PREFIX}${claimant}`, memoryUntil: session.claimEnds[claimant] };
}

export interface Connect {
  connectionId: string;
  principal: string;
  format: StreamFormat;
  /** Epoch milliseconds. */
  connectedAt: number;
}

export class SessionFullError extends Error {
  constructor(
    readonly sessionId: string,
    /**
     * The state to write anyway: the refused principal's claim recorded, so a session an
     * attacker filled with its own sockets becomes contested rather than staying theirs.
     */
    readonly withClaim: SessionState,
  ) {
    super(`session ${sessionId} already has ${MAX_CONNECTIONS_PER_SESSION} open connections`);
    this.name = "SessionFullError";
  }
}

/** The state after a connect: the connection recorded, the principal's claim extended. Throws SessionFullError. */
export function addConnection(state: SessionState, connect: Connect, times: ClaimTimes): SessionState {
  const nowSeconds = Math.floor(connect.connectedAt / 1000);
  const live = prune(state, nowSeconds);
  const ttl = nowSeconds + times.connectionTtlSeconds;
  const claimUntil = ttl + (times.claimGraceSeconds ?? CLAIM_GRACE_SECONDS);
  const claims = { ...live.claims, [connect.principal]: Math.max(live.claims[connect.principal] ?? 0, claimUntil) };
  if (
    live.connections[connect.connectionId] === undefined &&
    Object.keys(live.connections).length >= MAX_CONNECTIONS_PER_SESSION
  ) {
    throw new SessionFullError(state.sessionId, { ...live, claims });
  }
  return {
    sessionId: live.sessionId,
    claims,
    connections: {
      ...live.connections,
      [connect.connectionId]: { principal: connect.principal, format: connect.format, connectedAt: connect.connectedAt, ttl },
    },
  };
}

/** The state without the connection; claims stay until they expire. */
export function removeConnection(state: SessionState, connectionId: string, nowSeconds: number): SessionState {
  const live = prune(state, nowSeconds);
  const { [connectionId]: _removed, ...connections } = live.connections;
  return { ...live, connections };
}

/** True when nothing in the state is worth keeping: the item can be deleted. */
export function isEmpty(state: SessionState): boolean {
  return Object.keys(state.claims).length === 0 && Object.keys(state.connections).length === 0;
}

/**
 * The item to write for a state, with the fields plain readers use derived from it:
 * `connectionId` is offered only where an unknown asker may be streamed to
 * (SessionView.openToUnknownAsker), since a QnABot-style hook never knows who asked.
 */
export function toItem(state: SessionState, nowSeconds: number, version: number, policy: SessionPolicy = {}): SessionItem {
  const current = view(state, nowSeconds, policy);
  const latest = current.openToUnknownAsker ? current.connections[current.connections.length - 1] : undefined;
  const ttl = Math.max(nowSeconds, ...Object.values(state.claims));
  return {
    sessionId: state.sessionId,
    claims: { ...state.claims },
    connections: { ...state.connections },
    ...(latest ? { connectionId: latest.connectionId } : {}),
    ttl,
    version,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads an item back; fields that are not what this module writes are ignored, never trusted. */
export function fromItem(
  sessionId: string,
  item: Record<string, unknown> | undefined,
): { state: SessionState; version?: number; exists: boolean } {
  if (!item) return { state: emptySession(sessionId), exists: false };
  const claims: Record<string, number> = {};
  if (isRecord(item.claims)) {
    for (const [principal, until] of Object.entries(item.claims)) if (typeof until === "number") claims[principal] = until;
  }
  const connections: Record<string, ConnectionEntry> = {};
  if (isRecord(item.connections)) {
    for (const [connectionId, entry] of Object.entries(item.connections)) {
      if (!isRecord(entry)) continue;
      const { principal, format, connectedAt, ttl } = entry;
      if (typeof principal !== "string" || (format !== "text" && format !== "json")) continue;
      if (typeof connectedAt !== "number" || typeof ttl !== "number") continue;
      connections[connectionId] = { principal, format, connectedAt, ttl };
    }
  }
  const version = typeof item.version === "number" ? item.version : undefined;
  return { state: { sessionId, claims, connections }, version, exists: true };
}
