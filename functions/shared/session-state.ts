/**
 * One session of the connections table as pure state: who has claimed it, its open
 * connections, and who may receive its answers (design.md, "Security model"). Pure, so every
 * rule is tested without DynamoDB; dynamo-connections.ts reads the item, applies one change
 * and writes it back conditionally on its version.
 *
 * Real clients send short random session ids (stock Lex Web UI: `lex-web-ui-` + 4 hex
 * digits, clients.md), so two principals claiming one id is an ordinary event. A claim
 * outlives its connection by CLAIM_GRACE_SECONDS because Lex Web UI never reconnects: a user
 * whose socket closed keeps asking Lex under the same id, and a newcomer with that id must
 * not receive those answers. While two or more principals hold claims, the session is
 * contested: an answer whose asker is unknown (a Lex code hook carries no caller identity)
 * reaches nobody, and an answer whose asker is known reaches only the asker's connections.
 */
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
   * `connectionId`. Absent while the session is contested or has no connection, so such a
   * hook never reaches another principal's socket.
   */
  connectionId?: string;
  /** Epoch seconds; DynamoDB TTL: the latest claim's end. */
  ttl: number;
  /** Optimistic-concurrency counter: every write is conditional on the version it read. */
  version: number;
}

/** A session as the stream writer and the doors see it at one instant. */
export interface SessionView {
  /** Principals holding an unexpired claim. */
  claimants: string[];
  /** True while two or more principals hold claims: unidentified askers stream to nobody. */
  contested: boolean;
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

export function view(state: SessionState, nowSeconds: number): SessionView {
  const live = prune(state, nowSeconds);
  const claimants = Object.keys(live.claims).sort();
  const connections = Object.entries(live.connections)
    .map(([connectionId, entry]) => ({ sessionId: live.sessionId, connectionId, ...entry }))
    .sort((a, b) => a.connectedAt - b.connectedAt || a.connectionId.localeCompare(b.connectionId));
  return { claimants, contested: claimants.length > 1, connections };
}

/**
 * The connections an answer may reach. A known asker reaches only its own connections; an
 * unknown asker (Lex, a hook) reaches the session's connections only while one principal
 * holds it, since then that principal is the only one who can have asked.
 */
export function recipients(session: SessionView, asker?: string): ConnectionRow[] {
  if (asker !== undefined) return session.connections.filter((row) => row.principal === asker);
  if (session.contested) return [];
  return session.connections;
}

export interface Connect {
  connectionId: string;
  principal: string;
  format: StreamFormat;
  /** Epoch milliseconds. */
  connectedAt: number;
}

export class SessionFullError extends Error {
  constructor(readonly sessionId: string) {
    super(`session ${sessionId} already has ${MAX_CONNECTIONS_PER_SESSION} open connections`);
    this.name = "SessionFullError";
  }
}

/** The state after a connect: the connection recorded, the principal's claim extended. */
export function addConnection(state: SessionState, connect: Connect, times: ClaimTimes): SessionState {
  const nowSeconds = Math.floor(connect.connectedAt / 1000);
  const live = prune(state, nowSeconds);
  if (
    live.connections[connect.connectionId] === undefined &&
    Object.keys(live.connections).length >= MAX_CONNECTIONS_PER_SESSION
  ) {
    throw new SessionFullError(state.sessionId);
  }
  const ttl = nowSeconds + times.connectionTtlSeconds;
  const claimUntil = ttl + (times.claimGraceSeconds ?? CLAIM_GRACE_SECONDS);
  return {
    sessionId: live.sessionId,
    claims: { ...live.claims, [connect.principal]: Math.max(live.claims[connect.principal] ?? 0, claimUntil) },
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

/** The item to write for a state, with the fields plain readers use derived from it. */
export function toItem(state: SessionState, nowSeconds: number, version: number): SessionItem {
  const current = view(state, nowSeconds);
  const latest = current.contested ? undefined : current.connections[current.connections.length - 1];
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
