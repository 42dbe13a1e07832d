/**
 * One tab's WebSocket to the streaming API: fetches a freshly signed URL for every
 * connection, pings on open and every 9 minutes (idle timeout 10 min), renews before the
 * 2 h connection limit, reconnects after any drop with capped jittered backoff, and never
 * holds two sockets at once. Timers, randomness and sockets are injected, so it is pure
 * enough to test with a fake clock.
 */
import type { AnswerMode, Envelope } from "../../functions/shared/protocol";
import { backoffDelay, type BackoffOptions } from "./backoff";
import { FrameError, parseEnvelope } from "./envelope";
import { randomId } from "./ids";
import type { SignedUrl } from "./signed-url";
import type { SocketFactory, SocketHandle } from "./socket";
import { systemClock, type Clock } from "../../functions/shared/clock";

export type ConnectionStatus =
  /** Not started. */
  | "idle"
  /** Getting a signed URL or opening the socket. */
  | "connecting"
  | "ready"
  /** Backing off after a failure; `retryAt` says until when. */
  | "waiting"
  /** Stopped by the page; no further reconnects. */
  | "stopped";

export interface ConnectionSnapshot {
  status: ConnectionStatus;
  sessionId?: string;
  label?: string;
  /** Sockets opened so far: 2 after the first reconnect. */
  opened: number;
  /** Clock time the current socket opened; what happened before it is history. */
  readyAt?: number;
  /** Consecutive failures since the last stable connection. */
  failures: number;
  lastError?: string;
  /** Clock time of the next attempt while `waiting`. */
  retryAt?: number;
}

export type ConnectionEvent =
  | { type: "state"; state: ConnectionSnapshot }
  | { type: "envelope"; envelope: Envelope }
  | { type: "bad-frame"; message: string }
  /** Requests asked on a socket that closed before their `end` or `error`. */
  | { type: "lost"; requestIds: string[]; reason: string };

export interface ConnectionOptions {
  /** A freshly signed URL for each connection attempt (the signature is short-lived). */
  readonly getSignedUrl: () => Promise<SignedUrl>;
  readonly createSocket: SocketFactory;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default Math.random */
  readonly random?: () => number;
  /** @default randomId() */
  readonly newRequestId?: () => string;
  /** Keep-alive period, under API Gateway's 10 min idle timeout. @default 540000 (9 min) */
  readonly pingIntervalMs?: number;
  /**
   * Age at which an idle connection is replaced by a freshly signed one, ahead of the 2 h
   * limit; with an answer in flight the renewal waits for it to finish. @default 6600000 (110 min)
   */
  readonly renewAfterMs?: number;
  /** A connection that lived this long resets the backoff. @default 30000 */
  readonly stableAfterMs?: number;
  /** How long a closing socket may take before it is given up on. @default 5000 */
  readonly closeTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
}

/** `ask` was called while no socket is open. */
export class NotConnectedError extends Error {
  constructor() {
    super("not connected: wait for the connection to be ready");
    this.name = "NotConnectedError";
  }
}

const PING = JSON.stringify({ action: "ping" });

interface Live {
  socket: SocketHandle;
  opened: boolean;
  openedAt: number;
  /** Set once the socket is given up on, so its late events are ignored. */
  done: boolean;
  errorMessage?: string;
}

export class ConnectionManager {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly newRequestId: () => string;
  private readonly listeners = new Set<(event: ConnectionEvent) => void>();
  private readonly pending = new Set<string>();
  private snapshot: ConnectionSnapshot = { status: "idle", opened: 0, failures: 0 };
  private live?: Live;
  /** Bumped by stop() so an in-flight signed-URL fetch does not open a socket afterwards. */
  private generation = 0;
  private renewing = false;
  private renewWhenIdle = false;
  private pingTimer?: unknown;
  private renewTimer?: unknown;
  private retryTimer?: unknown;
  private closeTimer?: unknown;

  constructor(private readonly options: ConnectionOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.newRequestId = options.newRequestId ?? (() => randomId());
  }

  get state(): ConnectionSnapshot {
    return this.snapshot;
  }

  /** Requests asked on the current socket that have not ended yet. */
  get inFlight(): readonly string[] {
    return [...this.pending];
  }

  subscribe(listener: (event: ConnectionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts connecting; calling it again does nothing (one socket per manager). */
  start(): void {
    if (this.snapshot.status !== "idle") return;
    void this.connect();
  }

  /** Closes the socket for good; requests in flight are reported lost. */
  stop(): void {
    if (this.snapshot.status === "stopped") return;
    this.generation += 1;
    this.clearTimers();
    const live = this.live;
    this.live = undefined;
    if (live) {
      live.done = true;
      live.socket.close(1000, "client stopped");
    }
    this.reportLost("the connection was closed");
    this.update({ status: "stopped", retryAt: undefined });
  }

  /** Sends an `ask` and returns its requestId; envelopes for it arrive as events. */
  ask(question: string, mode: AnswerMode): string {
    if (this.snapshot.status !== "ready" || !this.live) throw new NotConnectedError();
    const requestId = this.newRequestId();
    this.live.socket.send(JSON.stringify({ action: "ask", requestId, question, mode }));
    this.pending.add(requestId);
    return requestId;
  }

  private emit(event: ConnectionEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  private update(patch: Partial<ConnectionSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    this.emit({ type: "state", state: this.snapshot });
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.update({ status: "connecting", retryAt: undefined });
    let signed: SignedUrl;
    try {
      signed = await this.options.getSignedUrl();
    } catch (error) {
      if (generation === this.generation) this.retryLater(`Could not get a signed URL: ${(error as Error).message}`);
      return;
    }
    if (generation !== this.generation) return;
    this.update({ sessionId: signed.sessionId, label: signed.label });
    let live: Live;
    try {
      live = {
        opened: false,
        openedAt: 0,
        done: false,
        // Socket events are asynchronous, so the handlers only ever see `live` assigned.
        socket: this.options.createSocket(signed.url, {
          open: () => {
            if (!live.done) this.opened(live);
          },
          message: (data) => {
            if (!live.done) this.received(data);
          },
          error: (message) => {
            live.errorMessage = message;
          },
          close: (code, reason) => {
            if (!live.done) this.closed(live, code, reason);
          },
        }),
      };
    } catch (error) {
      this.retryLater(`Could not open the socket: ${(error as Error).message}`);
      return;
    }
    this.live = live;
  }

  private opened(live: Live): void {
    live.opened = true;
    live.openedAt = this.clock.now();
    live.socket.send(PING);
    this.update({ status: "ready", opened: this.snapshot.opened + 1, readyAt: live.openedAt, lastError: undefined });
    const ping = () => {
      live.socket.send(PING);
      this.pingTimer = this.clock.setTimeout(ping, this.options.pingIntervalMs ?? 9 * 60_000);
    };
    this.pingTimer = this.clock.setTimeout(ping, this.options.pingIntervalMs ?? 9 * 60_000);
    this.renewTimer = this.clock.setTimeout(() => this.renew(), this.options.renewAfterMs ?? 110 * 60_000);
  }

  private received(data: unknown): void {
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(data);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.emit({ type: "bad-frame", message: error.message });
      return;
    }
    const finished = (envelope.type === "end" || envelope.type === "error") && this.pending.delete(envelope.requestId);
    this.emit({ type: "envelope", envelope });
    if (finished && this.renewWhenIdle && this.pending.size === 0) this.beginRenewal();
  }

  private renew(): void {
    if (this.pending.size > 0) this.renewWhenIdle = true;
    else this.beginRenewal();
  }

  private beginRenewal(): void {
    const live = this.live;
    if (!live) return;
    this.renewWhenIdle = false;
    this.renewing = true;
    this.update({ status: "connecting" });
    live.socket.close(1000, "renewing the signature");
    // A socket whose close handshake never completes must not block the renewal forever.
    this.closeTimer = this.clock.setTimeout(() => {
      if (!live.done) this.closed(live, 1006, "close handshake timed out");
    }, this.options.closeTimeoutMs ?? 5000);
  }

  private closed(live: Live, code: number, reason: string): void {
    live.done = true;
    if (this.live === live) this.live = undefined;
    this.clearTimers();
    const why = live.opened
      ? `Connection closed (code ${code}${reason ? `: ${reason}` : ""})`
      : `Could not connect${live.errorMessage ? `: ${live.errorMessage}` : ""}`;
    this.reportLost(why);
    if (this.renewing) {
      this.renewing = false;
      this.update({ failures: 0 });
      void this.connect();
      return;
    }
    if (live.opened && this.clock.now() - live.openedAt >= (this.options.stableAfterMs ?? 30_000)) {
      this.update({ failures: 0 });
    }
    this.retryLater(why);
  }

  private retryLater(reason: string): void {
    const delay = backoffDelay(this.snapshot.failures, this.random, this.options.backoff);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
    this.update({
      status: "waiting",
      failures: this.snapshot.failures + 1,
      lastError: reason,
      retryAt: this.clock.now() + delay,
    });
  }

  private reportLost(reason: string): void {
    if (this.pending.size === 0) return;
    const requestIds = [...this.pending];
    this.pending.clear();
    this.emit({ type: "lost", requestIds, reason });
  }

  private clearTimers(): void {
    for (const timer of [this.pingTimer, this.renewTimer, this.retryTimer, this.closeTimer]) {
      if (timer !== undefined) this.clock.clearTimeout(timer);
    }
    this.pingTimer = this.renewTimer = this.retryTimer = this.closeTimer = undefined;
    this.renewWhenIdle = false;
  }
}
