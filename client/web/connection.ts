/**
 * One tab's WebSocket to the streaming API: fetches a freshly signed URL for every
 * connection, pings on open and every 9 minutes (idle timeout 10 min), renews before the
 * 2 h connection limit, reconnects after any drop with capped jittered backoff, and never
 * holds two sockets at once. Answers in flight survive a drop: the next socket sends
 * `resume` with the last `seq` seen of each, so the rest arrives exactly once. `cancel`
 * stops one. A refusal that retrying cannot change (the signed-URL endpoint answering 4xx)
 * ends in `failed`: the answers in flight are reported lost with the server's reason. An
 * answer the page knew before a reload is `adopt`ed and resumed like one a drop cut. Timers,
 * randomness and sockets are injected, so it is pure enough to test with a fake clock.
 */
import type { AnswerMode, Envelope } from "../../functions/shared/protocol";
import { backoffDelay, type BackoffOptions } from "./backoff";
import { FrameError, parseEnvelope } from "./envelope";
import { parseFeedbackReply, type FeedbackReply } from "./feedback";
import type { FeedbackRating } from "../../functions/shared/feedback";
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
  | "stopped"
  /** Refused for good (`lastError` says why): retrying cannot help, a reload of the page may. */
  | "failed";

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
  /** Requests that will get no more envelopes: the manager stopped, or the drop lasted past `resumeWithinMs`. */
  | { type: "lost"; requestIds: string[]; reason: string }
  /** The server refused to resume a request after a drop (`not_found`: ended too long ago, or unknown). */
  | { type: "resume-failed"; requestId: string; message: string }
  /** The server's reply to a `feedback` action. */
  | { type: "feedback"; reply: FeedbackReply };

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
  /**
   * How long after a drop answers in flight are still resumed; later they are reported lost.
   * The server keeps an ended answer for a resume for 10 minutes. @default 600000
   */
  readonly resumeWithinMs?: number;
}

/** `ask` was called while no socket is open. */
export class NotConnectedError extends Error {
  constructor() {
    super("not connected: wait for the connection to be ready");
    this.name = "NotConnectedError";
  }
}

const PING = JSON.stringify({ action: "ping" });

/**
 * The signed-URL endpoint refused in a way retrying cannot change: a 4xx other than 408 and
 * 429 (a page the server no longer knows even after loading it again, a session another page
 * holds, a bad session id).
 */
function isPermanent(error: unknown): boolean {
  const status = (error as { status?: unknown } | undefined)?.status;
  return typeof status === "number" && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** What the manager knows of one answer in flight. */
interface InFlight {
  /** Highest `seq` received: what a resume continues after. -1 before `start`. */
  lastSeq: number;
  /** Set while a `resume` is outstanding: the `afterSeq` it was sent with. */
  resumedAfter?: number;
  /** "wanted": to send once the answer has started (its journal exists only then) and a socket is open. */
  cancel: "no" | "wanted" | "sent";
}

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
  private readonly pending = new Map<string, InFlight>();
  /** Clock time of the drop that left answers waiting for a resume. */
  private droppedAt?: number;
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
    return [...this.pending.keys()];
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

  /**
   * Takes over an answer asked before (by this tab before a reload): it is resumed after
   * `lastSeq` on the next socket (at once when one is open), so its rest arrives exactly once.
   * `cancel` true: it was being stopped, and the stop is sent again once it resumed.
   */
  adopt(requestId: string, lastSeq: number, cancel = false): void {
    if (this.pending.has(requestId) || this.snapshot.status === "stopped" || this.snapshot.status === "failed") return;
    const answer: InFlight = { lastSeq, cancel: cancel ? "wanted" : "no" };
    this.pending.set(requestId, answer);
    if (this.snapshot.status === "ready" && this.live) this.resumeOne(this.live, requestId, answer);
  }

  /**
   * Forgets an answer in flight without telling the server (no socket to tell it on): no
   * envelope of it is reported any more, and no resume asks for it. False when not in flight.
   */
  abandon(requestId: string): boolean {
    return this.pending.delete(requestId);
  }

  /**
   * Sends an `ask` and returns its requestId; envelopes for it arrive as events. `reasoning`
   * asks for the model's reasoning too (sent only when true, so a stack that predates it sees the same ask).
   */
  ask(question: string, mode: AnswerMode, options: { reasoning?: boolean } = {}): string {
    if (this.snapshot.status !== "ready" || !this.live) throw new NotConnectedError();
    const requestId = this.newRequestId();
    this.live.socket.send(JSON.stringify({ action: "ask", requestId, question, mode, ...(options.reasoning ? { reasoning: true } : {}) }));
    this.pending.set(requestId, { lastSeq: -1, cancel: "no" });
    return requestId;
  }

  /** Rates an answer that ended; the reply arrives as a `feedback` event. */
  feedback(requestId: string, rating: FeedbackRating, comment: string): void {
    if (this.snapshot.status !== "ready" || !this.live) throw new NotConnectedError();
    const trimmed = comment.trim();
    this.live.socket.send(JSON.stringify({ action: "feedback", requestId, rating, ...(trimmed === "" ? {} : { comment: trimmed }) }));
  }

  /**
   * Asks the server to stop generating an answer in flight; it ends with `end` (stopReason
   * `cancelled`) and the text so far. Sent at once when the answer has started and a socket
   * is open, otherwise as soon as both hold. False when the answer is not in flight.
   */
  cancel(requestId: string): boolean {
    const answer = this.pending.get(requestId);
    if (!answer) return false;
    if (answer.cancel === "no") answer.cancel = "wanted";
    this.sendWantedCancel(requestId, answer);
    return true;
  }

  private sendWantedCancel(requestId: string, answer: InFlight): void {
    if (answer.cancel !== "wanted" || answer.lastSeq < 0 || answer.resumedAfter !== undefined) return;
    if (this.snapshot.status !== "ready" || !this.live) return;
    this.live.socket.send(JSON.stringify({ action: "cancel", requestId }));
    answer.cancel = "sent";
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
      if (generation !== this.generation) return;
      if (isPermanent(error)) this.fail(`The server refused a new connection: ${(error as Error).message}`);
      else this.retryLater(`Could not get a signed URL: ${(error as Error).message}`);
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
    this.resumeAll(live);
    const ping = () => {
      live.socket.send(PING);
      this.pingTimer = this.clock.setTimeout(ping, this.options.pingIntervalMs ?? 9 * 60_000);
    };
    this.pingTimer = this.clock.setTimeout(ping, this.options.pingIntervalMs ?? 9 * 60_000);
    this.renewTimer = this.clock.setTimeout(() => this.renew(), this.options.renewAfterMs ?? 110 * 60_000);
  }

  private received(data: unknown): void {
    const feedback = parseFeedbackReply(data);
    if (feedback) {
      this.emit({ type: "feedback", reply: feedback });
      return;
    }
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(data);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.emit({ type: "bad-frame", message: error.message });
      return;
    }
    const answer = this.pending.get(envelope.requestId);
    if (answer && envelope.type === "error" && envelope.seq <= (answer.resumedAfter ?? answer.lastSeq)) {
      // Not part of the answer (its seq is not past what was seen): the refusal of a resume or a cancel.
      if (answer.resumedAfter === undefined) return; // a cancel that came too late: the answer's own end is on its way
      this.pending.delete(envelope.requestId);
      this.emit({ type: "resume-failed", requestId: envelope.requestId, message: envelope.message });
      this.renewIfIdle();
      return;
    }
    let finished = false;
    if (answer && envelope.seq > answer.lastSeq) {
      answer.lastSeq = envelope.seq;
      answer.resumedAfter = undefined;
      finished = envelope.type === "end" || envelope.type === "error";
      if (finished) this.pending.delete(envelope.requestId);
      else this.sendWantedCancel(envelope.requestId, answer);
    }
    this.emit({ type: "envelope", envelope });
    if (finished) this.renewIfIdle();
  }

  private renewIfIdle(): void {
    if (this.renewWhenIdle && this.pending.size === 0) this.beginRenewal();
  }

  /** On a new socket: asks for the rest of every answer a drop cut, after the last `seq` seen. */
  private resumeAll(live: Live): void {
    const droppedAt = this.droppedAt;
    this.droppedAt = undefined;
    if (this.pending.size === 0) return;
    if (droppedAt !== undefined && this.clock.now() - droppedAt > (this.options.resumeWithinMs ?? 600_000)) {
      this.reportLost("The connection was down too long to resume the answer");
      return;
    }
    for (const [requestId, answer] of this.pending) this.resumeOne(live, requestId, answer);
  }

  private resumeOne(live: Live, requestId: string, answer: InFlight): void {
    // `start` (seq 0) carries nothing, so an answer not seen to start resumes after it.
    const afterSeq = Math.max(answer.lastSeq, 0);
    live.socket.send(JSON.stringify({ action: "resume", requestId, afterSeq }));
    answer.resumedAfter = afterSeq;
    if (answer.cancel === "sent") answer.cancel = "wanted";
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
    // Answers in flight wait for the next socket, which resumes them.
    if (this.pending.size > 0) this.droppedAt ??= this.clock.now();
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

  /** No more attempts: the answers in flight end with the reason. */
  private fail(reason: string): void {
    this.clearTimers();
    this.update({ status: "failed", lastError: reason, retryAt: undefined });
    this.reportLost(reason);
  }

  private reportLost(reason: string): void {
    if (this.pending.size === 0) return;
    const requestIds = [...this.pending.keys()];
    this.pending.clear();
    this.droppedAt = undefined;
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
