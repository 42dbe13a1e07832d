/**
 * Test doubles for the stream writer: an in-memory connections store that keeps the
 * contract of functions/shared/connections.ts, a transport whose posts settle when the test
 * says so, a fake clock and a recording logger.
 */
import type { ConnectionsStore, RegisterConnection } from "../../functions/shared/connections";
import { ProtocolError } from "../../functions/shared/protocol";
import {
  SessionFullError,
  addConnection,
  emptySession,
  removeConnection,
  view,
  type SessionPolicy,
  type SessionState,
  type SessionView,
} from "../../functions/shared/session-state";
import type { ConnectionRow } from "../../functions/shared/table";
import type { PostError, StreamTransport } from "../../functions/stream/types";
import type { StreamClock, StreamLogger } from "../../functions/stream/writer";

/** The DynamoDB store's semantics (the same pure session-state.ts), kept in Maps. */
export class MemoryConnectionsStore implements ConnectionsStore {
  readonly sessions = new Map<string, SessionState>();
  readonly removed: { sessionId: string; connectionId: string }[] = [];
  /** When set, remove() rejects with it (after recording the call). */
  failRemove?: Error;

  private readonly ttlSeconds: number;
  private readonly policy: SessionPolicy;

  /** Defaults as the DynamoDB store's: `unboundSessionStreaming` off. */
  constructor(options: { ttlSeconds?: number } & SessionPolicy = {}) {
    this.ttlSeconds = options.ttlSeconds ?? 7200;
    this.policy = { unboundSessionStreaming: options.unboundSessionStreaming };
  }

  async register(connection: RegisterConnection): Promise<ConnectionRow> {
    const connectedAt = Date.now();
    const state = this.sessions.get(connection.sessionId) ?? emptySession(connection.sessionId);
    try {
      this.sessions.set(connection.sessionId, addConnection(state, { ...connection, connectedAt }, { connectionTtlSeconds: this.ttlSeconds }));
    } catch (error) {
      if (!(error instanceof SessionFullError)) throw error;
      this.sessions.set(connection.sessionId, error.withClaim);
      throw new ProtocolError("busy", error.message, 429, true);
    }
    return { ...connection, connectedAt, ttl: Math.floor(connectedAt / 1000) + this.ttlSeconds };
  }

  async find(connectionId: string): Promise<ConnectionRow | undefined> {
    for (const state of this.sessions.values()) {
      const row = view(state, nowSeconds(), this.policy).connections.find((r) => r.connectionId === connectionId);
      if (row) return row;
    }
    return undefined;
  }

  async listSession(sessionId: string): Promise<SessionView> {
    return view(this.sessions.get(sessionId) ?? emptySession(sessionId), nowSeconds(), this.policy);
  }

  async remove(key: { sessionId: string; connectionId: string }): Promise<boolean> {
    this.removed.push(key);
    if (this.failRemove) throw this.failRemove;
    const state = this.sessions.get(key.sessionId);
    if (!state || !state.connections[key.connectionId]) return false;
    this.sessions.set(key.sessionId, removeConnection(state, key.connectionId, nowSeconds()));
    return true;
  }

  /** Registers `count` connections of one principal; returns their ids. */
  async seed(sessionId: string, principal: string, formats: ConnectionRow["format"][]): Promise<string[]> {
    const ids = formats.map((_, i) => `${sessionId}-c${i}`);
    for (const [i, format] of formats.entries()) {
      await this.register({ sessionId, connectionId: ids[i], principal, format });
    }
    return ids;
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export interface PostCall {
  readonly connectionId: string;
  readonly data: Uint8Array;
  /** The frame decoded as UTF-8 (fatal: a split character would throw). */
  readonly text: string;
  settled: boolean;
  resolve(): void;
  reject(error: PostError): void;
}

/** What a post does when it arrives: accepted, held until the test settles it, or refused. */
export type PostOutcome = "ok" | "hold" | PostError;

const utf8 = new TextDecoder("utf-8", { fatal: true });

export class FakeTransport implements StreamTransport {
  readonly calls: PostCall[] = [];
  /** Frames accepted, per connection, in order. */
  readonly accepted = new Map<string, string[]>();
  /** Posts that started while another post to the same connection was in flight. */
  overlaps = 0;
  /** Connections closed (DeleteConnection), in order. */
  readonly closed: string[] = [];
  /** When set, close() rejects with it (after recording the call). */
  failClose?: Error;
  private readonly inFlight = new Map<string, number>();

  /** @param respond decides each post's fate; by default every post is accepted at once. */
  constructor(public respond: (call: PostCall) => PostOutcome = () => "ok") {}

  async close(connectionId: string): Promise<void> {
    this.closed.push(connectionId);
    if (this.failClose) throw this.failClose;
  }

  post(connectionId: string, data: Uint8Array): Promise<void> {
    const flying = (this.inFlight.get(connectionId) ?? 0) + 1;
    if (flying > 1) this.overlaps++;
    this.inFlight.set(connectionId, flying);
    return new Promise<void>((resolve, reject) => {
      const settle = () => {
        call.settled = true;
        this.inFlight.set(connectionId, (this.inFlight.get(connectionId) ?? 1) - 1);
      };
      const call: PostCall = {
        connectionId,
        data: data.slice(),
        text: utf8.decode(data),
        settled: false,
        resolve: () => {
          if (call.settled) return;
          settle();
          const frames = this.accepted.get(connectionId) ?? [];
          frames.push(call.text);
          this.accepted.set(connectionId, frames);
          resolve();
        },
        reject: (error) => {
          if (call.settled) return;
          settle();
          reject(error);
        },
      };
      this.calls.push(call);
      const outcome = this.respond(call);
      if (outcome === "ok") call.resolve();
      else if (outcome !== "hold") call.reject(outcome);
    });
  }

  pending(): PostCall[] {
    return this.calls.filter((c) => !c.settled);
  }

  callsTo(connectionId: string): PostCall[] {
    return this.calls.filter((c) => c.connectionId === connectionId);
  }

  framesOf(connectionId: string): string[] {
    return this.accepted.get(connectionId) ?? [];
  }

  /** Accepted json frames of a connection, parsed. */
  envelopesOf(connectionId: string): Record<string, unknown>[] {
    return this.framesOf(connectionId).map((f) => JSON.parse(f) as Record<string, unknown>);
  }
}

/**
 * A clock that only moves when told. With `auto`, a sleep advances time by its length at
 * once (so retries run without waiting); otherwise it resolves on advance().
 */
export class FakeClock implements StreamClock {
  t = 0;
  readonly sleeps: number[] = [];
  private timers: { at: number; resolve: () => void }[] = [];

  constructor(private readonly auto = true) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    if (this.auto) {
      this.t += ms;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.timers.push({ at: this.t + ms, resolve }));
  }

  advance(ms: number): void {
    this.t += ms;
    const due = this.timers.filter((timer) => timer.at <= this.t);
    this.timers = this.timers.filter((timer) => timer.at > this.t);
    for (const timer of due) timer.resolve();
  }
}

export interface LogEntry {
  level: "info" | "warn" | "error";
  message: string;
  attributes: Record<string, unknown>;
}

export class RecordingLogger implements StreamLogger {
  readonly entries: LogEntry[] = [];
  info(message: string, attributes: Record<string, unknown>): void {
    this.entries.push({ level: "info", message, attributes });
  }
  warn(message: string, attributes: Record<string, unknown>): void {
    this.entries.push({ level: "warn", message, attributes });
  }
  error(message: string, attributes: Record<string, unknown>): void {
    this.entries.push({ level: "error", message, attributes });
  }
}

/** Lets every pending promise callback run (microtasks drain before setImmediate fires). */
export function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The `seq` each envelope must carry (journal.ts): `start` 0, then the text units, citations
 * and events before and including it, counted.
 */
export function journalPositions(envelopes: readonly object[]): number[] {
  let position = 0;
  return envelopes.map((envelope) => {
    const e = envelope as { type?: unknown; text?: unknown; citations?: unknown };
    if (e.type === "delta" || e.type === "reasoning") position += (e.text as string).length;
    else if (e.type === "citation") position += (e.citations as unknown[]).length;
    else if (e.type !== "start") position += 1;
    return position;
  });
}
