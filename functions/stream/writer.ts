/**
 * The stream writer: delivers one answer to every connection of its session while it is
 * generated (design.md, "Streaming semantics"). Each connection has one post in flight and a
 * frame budget (a minimum interval between its posts); whatever arrives meanwhile is coalesced
 * into its next frame, so the added latency stays within one interval plus one post round trip
 * whatever the model's pace, posts stay few, and a slow connection never slows another. The AWS side (connections store, @connections transport) is injected.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { ConnectionsStore } from "../shared/connections";
import { recipients } from "../shared/session-state";
import { Journal, eventsAfter, type JournalEvent, type JournalInput } from "./journal";
import type { AnswerKey, JournalStore } from "./journal-store";
import { PlainTextRenderer } from "./plain-text";
import { metrics as defaultMetrics } from "../shared/metrics";
import { logger as defaultLogger } from "../shared/observability";
import { envelope, type AnswerSource, type Citation, type ErrorCode, type ProgressStage, type Usage } from "../shared/protocol";
import type { ConnectionRow, StreamFormat } from "../shared/table";
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  endsWithHighSurrogate,
  fitEnvelope,
  minFrameBytes,
  takeCitationEnvelope,
  takeDeltaEnvelope,
  takeTextFrame,
} from "./frames";
import {
  PostError,
  type AnswerStream,
  type OpenStream,
  type PostFailureKind,
  type StreamOpener,
  type StreamReport,
  type StreamTransport,
} from "./types";

export interface StreamWriterOptions {
  /** Largest frame posted, in bytes; text is split to fit. @default 32768 (API Gateway's frame size) */
  readonly maxFrameBytes: number;
  /** Largest `end` envelope, in bytes; a longer `final` is cut to fit. @default 131072 (API Gateway's message limit) */
  readonly maxMessageBytes: number;
  /**
   * The frame budget: minimum milliseconds between the starts of two posts to one connection,
   * per format. The first delta still goes out at once and `start` does not count; text that
   * arrives meanwhile waits at most one interval plus one post round trip. Every post counts
   * against the account's 10,000 requests/s API Gateway limit, so pacing is what lets one
   * account stream many answers at once. Defaults chosen from `npm run bench` (bench/RESULTS.md,
   * "Frame budget: the trade-off curve"): both are the shortest measured interval at which an
   * answer costs at most a fifth of QnABot's posts at 50 deltas/s; json 120 ms (the chat page
   * reveals text smoothly between frames), text 150 ms, which also keeps Lex Web UI's displayed
   * text within about a second of generation (its display trails frame arrivals by 500 ms and
   * one whole frame: bench/lex-web-ui-display.ts).
   * @default { text: 150, json: 120 }
   */
  readonly flushIntervalMs: Readonly<Record<StreamFormat, number>>;
  /**
   * Most code points in the last frame of a `format=text` connection, split off the text still
   * queued when the answer ends (0: no split). Lex Web UI never displays a stream's last frame
   * (clients.md, "Frames"), so a small last frame leaves little text unshown, at the cost of
   * one more post. @default 1
   */
  readonly textTailCodePoints: number;
  /**
   * Retries of a throttled (429) or failed post before its connection is dropped from the stream.
   * @connections shares the account's request rate with every API Gateway call, so the bounds
   * ride out a throttling storm of a few seconds (exponential backoff, full jitter, as AWS's
   * SDKs do) instead of leaving a client without its answer. @default 10
   */
  readonly maxRetries: number;
  /** Full-jitter backoff: retry n waits random() * min(retryCapMs, retryBaseMs * 2^n) ms. @default 25 */
  readonly retryBaseMs: number;
  /** Upper bound of one backoff wait, in ms. @default 1000 */
  readonly retryCapMs: number;
  /**
   * Milliseconds between checkpoints of a resumable answer's journal (journal-store.ts): how
   * long a client that reconnected waits for the rest. Each checkpoint is one UpdateItem.
   * @default 1000
   */
  readonly checkpointMs: number;
  /** Receives each answer's report once it ended. @default streamReporter(): one EMF emission and one INFO log */
  readonly report: (report: StreamReport, stream: OpenStream) => void;
}

/** Options as given: any left out (or one format of the frame budget) take their defaults. */
export type StreamWriterSettings = Partial<Omit<StreamWriterOptions, "flushIntervalMs">> & {
  readonly flushIntervalMs?: Partial<Record<StreamFormat, number>>;
};

/** Time as the writer sees it; injected so tests run on a fake clock. */
export interface StreamClock {
  /** Milliseconds, monotonic. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The slice of Powertools' logger the writer uses. */
export interface StreamLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export interface StreamWriterDeps {
  /** Finds the session's connections and deletes the rows of gone ones. */
  readonly store: Pick<ConnectionsStore, "listSession" | "remove">;
  /** Posts frames (PostToConnection). */
  readonly transport: StreamTransport;
  /** @default the documented defaults of each option */
  readonly options?: StreamWriterSettings;
  /** @default performance.now() and timers */
  readonly clock?: StreamClock;
  /** Source of the backoff jitter, in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** @default the Powertools logger of observability.ts */
  readonly logger?: StreamLogger;
  /** Keeps answers whose asker is known for a resume; undefined: no resume. */
  readonly journal?: JournalStore;
}

const systemClock: StreamClock = { now: () => performance.now(), sleep: (ms) => sleep(ms) };

/**
 * What the reporter needs of a Powertools Metrics instance, written out so the published types
 * of `qnabot-streaming/stream` name no Powertools type (a consumer need not have them).
 */
export interface MetricsSink {
  addMetric(name: string, unit: string, value: number): void;
  publishStoredMetrics(): void;
}

/** Reports an answer as one EMF emission and one INFO log line (figures only, never text). */
export function streamReporter(
  sink: { metrics: MetricsSink; logger: StreamLogger } = {
    metrics: defaultMetrics,
    logger: defaultLogger,
  },
): StreamWriterOptions["report"] {
  return (report, stream) => {
    const { metrics } = sink;
    // Without a delta there is no first token to time; a 0 would skew the statistic.
    if (report.deltas > 0) metrics.addMetric("StreamTtftMs", MetricUnit.Milliseconds, report.ttftMs);
    metrics.addMetric("StreamDurationMs", MetricUnit.Milliseconds, report.totalMs);
    metrics.addMetric("StreamDeltas", MetricUnit.Count, report.deltas);
    metrics.addMetric("StreamFrames", MetricUnit.Count, report.frames);
    metrics.addMetric("StreamPosts", MetricUnit.Count, report.posts);
    metrics.addMetric("StreamBytes", MetricUnit.Bytes, report.bytes);
    metrics.addMetric("StreamConnections", MetricUnit.Count, report.connections);
    metrics.addMetric("StreamGoneConnections", MetricUnit.Count, report.gone);
    metrics.addMetric("StreamRetries", MetricUnit.Count, report.retries);
    metrics.publishStoredMetrics();
    sink.logger.info("answer streamed", { sessionId: stream.sessionId, requestId: stream.requestId, ...report });
  };
}

/**
 * How long the writer keeps trying to close a json connection it gave up posting to. A close
 * is the last word a client can get when posts keep failing; a count of retries (the posts'
 * 10) left 57% of closes failed under a storm failing 95% of calls (issue 21), so the close
 * tries for a span of time, with short waits: about 150 attempts in 30 s.
 */
export const CLOSE_BUDGET_MS = 30_000;
/** Upper bound of one wait between close attempts (full jitter), in ms. */
export const CLOSE_RETRY_CAP_MS = 250;

/** Retries of one post before its connection is given up (StreamWriterOptions.maxRetries). */
export const DEFAULT_POST_RETRIES = 10;

/** The frame budget's defaults (StreamWriterOptions.flushIntervalMs). */
export const DEFAULT_FLUSH_INTERVAL_MS: Readonly<Record<StreamFormat, number>> = { text: 150, json: 120 };

const DEFAULTS: Omit<StreamWriterOptions, "report"> = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  flushIntervalMs: DEFAULT_FLUSH_INTERVAL_MS,
  textTailCodePoints: 1,
  maxRetries: DEFAULT_POST_RETRIES,
  retryBaseMs: 25,
  retryCapMs: 1000,
  checkpointMs: 1000,
};

function resolveOptions(given: StreamWriterSettings = {}): StreamWriterOptions {
  const options = {
    ...DEFAULTS,
    report: given.report ?? streamReporter(),
    ...stripUndefined(given),
    flushIntervalMs: { ...DEFAULTS.flushIntervalMs, ...stripUndefined(given.flushIntervalMs ?? {}) },
  };
  const integers = ["maxFrameBytes", "maxMessageBytes", "maxRetries", "textTailCodePoints"] as const;
  for (const name of integers) {
    if (!Number.isSafeInteger(options[name]) || options[name] < 0) {
      throw new RangeError(`stream writer: ${name} must be a non-negative integer, got ${options[name]}`);
    }
  }
  const durations = [
    ["flushIntervalMs.text", options.flushIntervalMs.text],
    ["flushIntervalMs.json", options.flushIntervalMs.json],
    ["retryBaseMs", options.retryBaseMs],
    ["retryCapMs", options.retryCapMs],
    ["checkpointMs", options.checkpointMs],
  ] as const;
  for (const [name, value] of durations) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`stream writer: ${name} must be a non-negative number of ms, got ${value}`);
    }
  }
  if (options.maxMessageBytes < options.maxFrameBytes) {
    throw new RangeError("stream writer: maxMessageBytes must be at least maxFrameBytes");
  }
  return options;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function writerOf(deps: Omit<StreamWriterDeps, "store"> & Partial<Pick<StreamWriterDeps, "store">>): Writer {
  return {
    store: deps.store,
    transport: deps.transport,
    options: resolveOptions(deps.options),
    clock: deps.clock ?? systemClock,
    random: deps.random ?? Math.random,
    logger: deps.logger ?? defaultLogger,
    journal: deps.journal,
  };
}

/** Creates the function that opens one answer's stream; build it once per process and reuse it. */
export function createStreamOpener(deps: StreamWriterDeps): StreamOpener {
  const writer = writerOf(deps);
  return async (open) => {
    if (minFrameBytes(open.requestId) > writer.options.maxFrameBytes) {
      throw new RangeError(
        `stream writer: maxFrameBytes ${writer.options.maxFrameBytes} cannot hold a delta of request ${open.requestId}`,
      );
    }
    const openedAt = writer.clock.now();
    const [rows, key] = await Promise.all([connectionsOf(open, writer), openJournal(open, writer)]);
    return new Stream(open, rows, writer, openedAt, key);
  };
}

/**
 * Opens an answer's stream to one given target instead of a session's connections: the HTTP
 * response of a streaming function URL (sse.ts), with the same framing, positions and
 * backpressure as a WebSocket lane. Nothing is listed or resumable; with a `journal`, the
 * answer of a known asker gets a cancel-only item, so the asker can stop it by requestId.
 */
export async function openDirectStream(deps: Omit<StreamWriterDeps, "store">, open: OpenStream, target: Target): Promise<AnswerStream> {
  const writer = writerOf(deps);
  const openedAt = writer.clock.now();
  const key = await openJournal(open, writer, false);
  return new Stream(open, [target], writer, openedAt, key, false);
}

/**
 * Streams the rest of an ended answer to one connection that resumed it: the events after
 * `afterSeq`, framed and paced like the live stream. Resolves once they are posted.
 */
export async function replayAnswer(
  deps: Omit<StreamWriterDeps, "journal">,
  replay: { sessionId: string; requestId: string; connectionId: string; events: readonly JournalEvent[]; afterSeq: number },
): Promise<void> {
  const writer = writerOf(deps);
  const stream = new Stream({ sessionId: replay.sessionId, requestId: replay.requestId }, [], writer, writer.clock.now());
  await stream.replay(replay.events, replay.connectionId, replay.afterSeq);
}

/** Creates the journal item of an answer whose asker is known; undefined when there is none to keep. */
async function openJournal(open: OpenStream, writer: Writer, resumable = true): Promise<AnswerKey | undefined> {
  if (!writer.journal || open.principal === undefined) return undefined;
  const key: AnswerKey = { sessionId: open.sessionId, principal: open.principal, requestId: open.requestId };
  try {
    await writer.journal.open(key, { resumable });
    return key;
  } catch (error) {
    writer.logger.warn("the answer's journal could not be created; it cannot be resumed", { requestId: open.requestId, error });
    return undefined;
  }
}

/**
 * A 413 fails the same way however often it is sent. A frame that may have arrived is sent
 * again only as an envelope: its `seq` lets the client drop the copy, while a raw text frame
 * sent twice would show the client the same words twice.
 */
function retriable(format: StreamFormat, kind: PostFailureKind): boolean {
  if (kind === "throttled" || kind === "other") return true;
  return kind === "unknown" && format === "json";
}

/**
 * A json client the writer gave up on would wait for an `end` that never comes: its socket
 * is closed instead, so it reconnects and resumes. A text client (Lex Web UI) is left open:
 * Lex's final answer ends its wait, and it never reconnects.
 */
async function closeUnreachable(writer: Writer, requestId: string, connectionId: string): Promise<void> {
  const { transport, options, clock, random } = writer;
  const giveUpAt = clock.now() + CLOSE_BUDGET_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      await transport.close(connectionId);
      writer.logger.warn("connection closed: the stream could not reach it", { requestId, connectionId });
      return;
    } catch (error) {
      // A storm that failed the posts may fail the closes too: they keep trying for CLOSE_BUDGET_MS.
      const kind = error instanceof PostError ? error.kind : "unknown";
      if ((kind !== "throttled" && kind !== "other" && kind !== "unknown") || clock.now() >= giveUpAt) {
        writer.logger.warn("closing an unreachable connection failed", { requestId, connectionId, error: describe(error) });
        return;
      }
      await clock.sleep(random() * Math.min(CLOSE_RETRY_CAP_MS, options.retryBaseMs * 2 ** attempt));
    }
  }
}

/**
 * Posts one frame that is no part of an answer's stream (the refusal of an ask, a resume or a
 * cancel) under the stream's policy: retried as a stream frame is, and a json connection it
 * cannot reach is closed. Posted once, a refusal was lost to the first 429 of a storm and its
 * client waited for ever (issue 21). Resolves true when the frame was delivered.
 */
export async function postRefusal(
  deps: Omit<StreamWriterDeps, "store" | "journal">,
  target: Pick<ConnectionRow, "connectionId" | "format">,
  requestId: string,
  data: Uint8Array,
): Promise<boolean> {
  const writer = writerOf(deps);
  const { transport, options, clock, random } = writer;
  const { connectionId, format } = target;
  for (let attempt = 0; ; attempt++) {
    try {
      await transport.post(connectionId, data);
      return true;
    } catch (error) {
      const kind: PostFailureKind = error instanceof PostError ? error.kind : "unknown";
      if (retriable(format, kind) && attempt < options.maxRetries) {
        await clock.sleep(random() * Math.min(options.retryCapMs, options.retryBaseMs * 2 ** attempt));
        continue;
      }
      writer.logger.warn("refusal could not be posted", { requestId, connectionId, reason: kind, error: describe(error) });
      if (format === "json" && kind !== "gone" && kind !== "forbidden") await closeUnreachable(writer, requestId, connectionId);
      return false;
    }
  }
}

interface Writer {
  readonly journal?: JournalStore;
  /** Absent for a direct stream: it has no connection rows. */
  readonly store?: StreamWriterDeps["store"];
  readonly transport: StreamTransport;
  readonly options: StreamWriterOptions;
  readonly clock: StreamClock;
  readonly random: () => number;
  readonly logger: StreamLogger;
}

type Target = Pick<ConnectionRow, "connectionId" | "format">;

/** The connections the answer may reach (session-state.ts, `recipients`). */
async function connectionsOf(open: OpenStream, writer: Writer): Promise<Target[]> {
  const { sessionId, requestId, principal } = open;
  try {
    const session = await writer.store!.listSession(sessionId);
    if (principal === undefined && session.contested) {
      writer.logger.warn("answer not streamed: the session is claimed by several principals and the asker is unknown", {
        sessionId,
        requestId,
        claimants: session.claimants.length,
      });
    }
    return recipients(session, principal);
  } catch (error) {
    // The answer matters more than its stream: it still completes, streamed to the asker alone, if any.
    writer.logger.error("listing the session's connections failed; the answer streams to the asker only", {
      sessionId,
      requestId,
      error,
    });
    return open.asker ? [open.asker] : [];
  }
}

/** What a lane posts: `start`, or a journal event (its `end` is the frame's `seq`). */
type Item = { type: "start" } | JournalEvent;

interface Frame {
  data: Uint8Array;
  /** Carries answer text (times the first token). */
  text: boolean;
}

/** One connection's share of the stream: only what is not posted yet. */
class Lane {
  /** Pending items; consecutive deltas are merged into one. */
  readonly queue: Item[] = [];
  live = true;
  busy = false;
  running: Promise<void> = Promise.resolve();
  frames = 0;
  hasText = false;
  lastPostAt = -Infinity;
  /** Set once the answer ended: the rest goes out without waiting for the frame budget. */
  closing = false;
  /** A `text` lane's markdown, turned into prose as it arrives (Lex Web UI shows frames as plain text). */
  readonly prose = new PlainTextRenderer();

  constructor(
    readonly connectionId: string,
    readonly format: StreamFormat,
  ) {}
}

const encoder = new TextEncoder();

/** The envelope with its header's `seq` changed: the first `"seq":` is the header's (envelope() writes it before any payload). */
function withSeq(frame: string, from: number, to: number): string {
  return from === to ? frame : frame.replace(`"seq":${from},`, `"seq":${to},`);
}

function describe(error: unknown): string | undefined {
  return error === undefined ? undefined : error instanceof Error ? error.message : String(error);
}

class Stream implements AnswerStream {
  /** The answer in positions (journal.ts): every json `seq`; its events kept only for a resume. */
  private readonly journal: Journal;
  private readonly lanes: Lane[];
  private live: number;
  /** Connections that resumed this answer (journal-store.ts), each attached once. */
  private readonly resumed = new Set<string>();
  private checkpoints: Promise<void> = Promise.resolve();
  /** Aborted when the asker cancels (journaled answers only). */
  private readonly cancellation?: AbortController;
  /** A trailing high surrogate, held until its low half arrives. */
  private held = "";
  private closed = false;
  private finished?: Promise<StreamReport>;
  /** Wakes lanes waiting out the frame budget when the answer ends. */
  private wake!: () => void;
  private readonly ended = new Promise<void>((resolve) => (this.wake = resolve));
  private readonly removals: Promise<void>[] = [];
  private firstDeltaAt?: number;
  private firstTextAt?: number;
  private deltas = 0;
  private frames = 0;
  private posts = 0;
  private bytes = 0;
  private gone = 0;
  private retries = 0;

  constructor(
    private readonly open: OpenStream,
    rows: Target[],
    private readonly writer: Writer,
    private readonly openedAt: number,
    private readonly key?: AnswerKey,
    /** False for a cancel-only journal (a direct stream): its checkpoints carry no events and attach nobody. */
    private readonly resumable = true,
  ) {
    // Only a resumable answer keeps its events; a replay restores an ended one's.
    this.journal = new Journal(key !== undefined && resumable);
    this.lanes = rows.map((row) => new Lane(row.connectionId, row.format === "json" ? "json" : "text"));
    this.live = this.lanes.length;
    for (const lane of this.lanes) {
      if (lane.format === "json") this.enqueue(lane, { type: "start" });
    }
    if (key) {
      this.cancellation = new AbortController();
      this.checkpoints = this.checkpointLoop(key);
    }
  }

  get cancelled(): AbortSignal | undefined {
    return this.cancellation?.signal;
  }

  get liveConnections(): number {
    return this.live;
  }

  delta(text: string): void {
    if (this.closed || typeof text !== "string" || text.length === 0) return;
    this.deltas++;
    this.firstDeltaAt ??= this.writer.clock.now();
    let complete = this.held ? this.held + text : text;
    this.held = "";
    if (endsWithHighSurrogate(complete)) {
      this.held = complete.slice(-1);
      complete = complete.slice(0, -1);
    }
    if (complete) this.push({ type: "delta", text: complete });
  }

  citation(citations: Citation[]): void {
    if (this.closed || !Array.isArray(citations) || citations.length === 0) return;
    this.push({ type: "citation", citations });
  }

  guardrail(action: string): void {
    if (this.closed || typeof action !== "string") return;
    this.push({ type: "guardrail", action });
  }

  reasoning(text: string): void {
    if (this.closed || typeof text !== "string" || text.length === 0) return;
    this.push({ type: "reasoning", text });
  }

  progress(stage: ProgressStage): void {
    if (this.closed) return;
    this.push({ type: "progress", stage });
  }

  end(result: { final: string; stopReason: string; usage?: Usage; sources?: AnswerSource[] }): Promise<StreamReport> {
    const sources = result.sources && result.sources.length > 0 ? { sources: result.sources } : {};
    return this.finish({ type: "end", final: result.final, stopReason: result.stopReason, usage: result.usage, ...sources });
  }

  fail(error: { code: ErrorCode; message: string; retryable: boolean }): Promise<StreamReport> {
    return this.finish({ type: "error", code: error.code, message: error.message, retryable: error.retryable });
  }

  private finish(last: JournalInput): Promise<StreamReport> {
    if (!this.finished) {
      this.closed = true;
      this.finished = this.settle(last);
    }
    return this.finished;
  }

  private async settle(last: JournalInput): Promise<StreamReport> {
    // A surrogate still held has no partner coming: send it as it is rather than lose it.
    if (this.held) this.push({ type: "delta", text: this.held });
    this.held = "";
    // Nothing more will coalesce: waiting out the frame budget would only delay the end.
    for (const lane of this.lanes) lane.closing = true;
    this.wake();
    this.push(last);
    await this.checkpoints;
    // The ended journal; a resume registered up to now is attached here, later ones replay it themselves.
    if (this.key) await this.checkpoint(this.key, true);
    await Promise.all(this.lanes.map((lane) => lane.running));
    await Promise.all(this.removals);
    const report: StreamReport = {
      ttftMs: this.ttftMs(),
      totalMs: Math.round(this.writer.clock.now() - this.openedAt),
      deltas: this.deltas,
      frames: this.frames,
      posts: this.posts,
      bytes: this.bytes,
      connections: this.lanes.length,
      gone: this.gone,
      retries: this.retries,
    };
    try {
      this.writer.options.report(report, this.open);
    } catch (error) {
      this.writer.logger.error("reporting the stream failed", { requestId: this.open.requestId, error });
    }
    return report;
  }

  /** Replays an ended answer's journal to one resumed connection (replayAnswer). */
  async replay(events: readonly JournalEvent[], connectionId: string, afterSeq: number): Promise<void> {
    this.journal.restore(events);
    this.closed = true;
    this.attach({ [connectionId]: afterSeq });
    await Promise.all(this.lanes.map((lane) => lane.running));
    await Promise.all(this.removals);
  }

  /** Writes the journal every checkpointMs while the answer runs: connections that resumed it are attached, a cancel stops it. */
  private async checkpointLoop(key: AnswerKey): Promise<void> {
    while (!this.closed) {
      await Promise.race([this.writer.clock.sleep(this.writer.options.checkpointMs), this.ended]);
      if (this.closed) return;
      await this.checkpoint(key, false);
    }
  }

  private async checkpoint(key: AnswerKey, ended: boolean): Promise<void> {
    try {
      const news = await this.writer.journal!.checkpoint(key, this.journal.events, ended);
      if (this.resumable) this.attach(news.resumers);
      if (news.cancelled && !this.cancellation!.signal.aborted) this.cancellation!.abort();
    } catch (error) {
      this.writer.logger.warn("the answer's journal could not be written; a resume may miss it", { requestId: key.requestId, error });
    }
  }

  /** Streams the rest of the answer, after the seq each saw last, to connections that resumed it. */
  private attach(resumers: Record<string, number>): void {
    for (const [connectionId, afterSeq] of Object.entries(resumers)) {
      if (this.resumed.has(connectionId)) continue;
      this.resumed.add(connectionId);
      if (this.lanes.some((lane) => lane.live && lane.connectionId === connectionId)) continue;
      const lane = new Lane(connectionId, "json");
      lane.closing = this.closed;
      this.lanes.push(lane);
      this.live++;
      for (const event of eventsAfter(this.journal.events, afterSeq)) this.enqueue(lane, event);
    }
  }

  /** To the first text delivered; without one, to the first delta (the model's own pace), else to now. */
  private ttftMs(): number {
    return Math.round((this.firstTextAt ?? this.firstDeltaAt ?? this.writer.clock.now()) - this.openedAt);
  }

  /** Records the event in the journal (kept, for a resume, even with no connection left) and queues it. */
  private push(input: JournalInput): void {
    const event = this.journal.append(input);
    for (const lane of this.lanes) {
      if (lane.live) this.enqueue(lane, event);
    }
  }

  private enqueue(lane: Lane, item: Item): void {
    let queued = item;
    if (lane.format === "text") {
      // Lex Web UI shows every text frame as plain text: only answer text, as readable prose
      // (its markdown markers dropped; the final Lex answer keeps them), and a readable error reach it.
      const prose = item.type === "delta" ? lane.prose.push(item.text) : item.type === "end" || item.type === "error" ? lane.prose.flush() : "";
      if (item.type === "error") queued = { type: "delta", text: `${prose}${lane.hasText || prose ? "\n\n" : ""}Error: ${item.message}`, end: item.end };
      else if (prose && item.type !== "start") queued = { type: "delta", text: prose, end: item.end };
      else return;
    }
    if (queued.type === "delta" || queued.type === "reasoning") {
      if (queued.type === "delta") lane.hasText = true;
      const tail = lane.queue[lane.queue.length - 1];
      if (tail?.type === queued.type) {
        tail.text += queued.text;
        tail.end = queued.end;
      } else lane.queue.push({ ...queued });
    } else {
      lane.queue.push({ ...queued });
    }
    if (!lane.busy) {
      lane.busy = true;
      lane.running = this.pump(lane);
    }
  }

  private async pump(lane: Lane): Promise<void> {
    const { clock, options } = this.writer;
    try {
      while (lane.live && lane.queue.length > 0) {
        const wait = lane.lastPostAt + options.flushIntervalMs[lane.format] - clock.now();
        if (wait > 0 && !lane.closing) await Promise.race([clock.sleep(wait), this.ended]);
        const frame = this.nextFrame(lane);
        if (frame) await this.deliver(lane, frame);
      }
    } catch (error) {
      this.writer.logger.error("stream writer failed on a connection", {
        requestId: this.open.requestId,
        connectionId: lane.connectionId,
        error,
      });
      this.drop(lane, "other");
    } finally {
      lane.busy = false;
    }
  }

  /**
   * Takes the next frame off the lane's queue: as much coalesced text as fits, or one envelope.
   * A json frame's `seq` is the journal position of the last thing it carries.
   */
  private nextFrame(lane: Lane): Frame | undefined {
    const { requestId } = this.open;
    const { maxFrameBytes, maxMessageBytes } = this.writer.options;
    const item = lane.queue[0];
    if (item.type === "start") {
      lane.queue.shift();
      return this.frame(lane, JSON.stringify(envelope("start", requestId, 0, {})), false, false);
    }
    if (item.type === "delta") {
      if (lane.format === "text") {
        const tail = lane.closing && lane.queue.length === 1 ? this.writer.options.textTailCodePoints : 0;
        const [frame, rest] = takeTextFrame(item.text, maxFrameBytes, tail);
        this.keep(lane, item, rest);
        return this.frame(lane, frame, true);
      }
      // Sized with the largest seq it can carry; the seq of what fits has no more digits.
      const [probe, rest] = takeDeltaEnvelope(requestId, item.end, item.text, maxFrameBytes);
      this.keep(lane, item, rest);
      return this.frame(lane, withSeq(probe, item.end, item.end - rest.length), true);
    }
    if (item.type === "reasoning") {
      // Never reaches a text lane (enqueue); not answer text, so it does not time the first token.
      const [probe, rest] = takeDeltaEnvelope(requestId, item.end, item.text, maxFrameBytes, "reasoning");
      this.keep(lane, item, rest);
      return this.frame(lane, withSeq(probe, item.end, item.end - rest.length), false);
    }
    if (item.type === "citation") {
      const [probe, rest] = takeCitationEnvelope(requestId, item.end, item.citations, maxFrameBytes);
      this.keep(lane, item, rest);
      if (probe !== undefined) return this.frame(lane, withSeq(probe, item.end, item.end - rest.length), false);
      this.writer.logger.warn("a citation too large for any frame was skipped", { requestId });
      return undefined;
    }
    lane.queue.shift();
    const seq = item.end;
    switch (item.type) {
      case "progress":
        // Like `start`, a stage does not count for the frame budget: it must not delay the first delta.
        return this.frame(lane, JSON.stringify(envelope("progress", requestId, seq, { stage: item.stage })), false, false);
      case "guardrail": {
        const guardrail = envelope("guardrail", requestId, seq, { action: item.action });
        return this.frame(lane, fitEnvelope(guardrail, "action", maxFrameBytes).frame, false);
      }
      case "error": {
        const { code, message, retryable } = item;
        const error = envelope("error", requestId, seq, { code, message, retryable });
        return this.frame(lane, fitEnvelope(error, "message", maxFrameBytes).frame, false);
      }
      case "end": {
        const { final, stopReason, usage, sources } = item;
        const metrics = {
          ttftMs: this.ttftMs(),
          totalMs: Math.round(this.writer.clock.now() - this.openedAt),
          deltas: this.deltas,
          frames: lane.frames + 1,
        };
        const { frame, cut } = fitEnvelope(envelope("end", requestId, seq, { final, stopReason, usage, ...(sources ? { sources } : {}), metrics }), "final", maxMessageBytes);
        if (cut) this.writer.logger.warn("the final answer was cut to fit one message", { requestId });
        return this.frame(lane, frame, false);
      }
    }
  }

  /** Leaves what did not fit at the head of the queue (its end is unchanged), or drops the item. */
  private keep<T extends { type: "delta" | "reasoning"; text: string } | { type: "citation"; citations: Citation[] }>(
    lane: Lane,
    item: T,
    rest: T extends { type: "citation" } ? Citation[] : string,
  ): void {
    if (rest.length === 0) {
      lane.queue.shift();
      return;
    }
    if (item.type !== "citation") item.text = rest as string;
    else item.citations = rest as Citation[];
  }

  /** `paced` frames count for the frame budget; `start` does not, so it never delays the first delta. */
  private frame(lane: Lane, serialized: string, text: boolean, paced = true): Frame {
    if (paced) lane.lastPostAt = this.writer.clock.now();
    return { data: encoder.encode(serialized), text };
  }

  /** Posts one frame, retrying throttles and transient failures; drops the connection when it cannot. */
  private async deliver(lane: Lane, frame: Frame): Promise<void> {
    const { transport, options, clock, random } = this.writer;
    for (let attempt = 0; ; attempt++) {
      this.posts++;
      try {
        await transport.post(lane.connectionId, frame.data);
      } catch (error) {
        const kind: PostFailureKind = error instanceof PostError ? error.kind : "unknown";
        if (!retriable(lane.format, kind) || attempt >= options.maxRetries) {
          this.drop(lane, kind, error);
          return;
        }
        this.retries++;
        await clock.sleep(random() * Math.min(options.retryCapMs, options.retryBaseMs * 2 ** attempt));
        continue;
      }
      lane.frames++;
      this.frames++;
      this.bytes += frame.data.byteLength;
      if (frame.text) this.firstTextAt ??= clock.now();
      return;
    }
  }


  /** Stops posting to a connection; a gone or forbidden one also loses its row. */
  private drop(lane: Lane, kind: PostFailureKind, error?: unknown): void {
    if (!lane.live) return;
    lane.live = false;
    lane.queue.length = 0;
    this.live--;
    const { sessionId, requestId } = this.open;
    const { connectionId } = lane;
    const gone = kind === "gone" || kind === "forbidden";
    const status = error instanceof PostError ? error.status : undefined;
    const details = { sessionId, requestId, connectionId, reason: kind, status, liveConnections: this.live };
    if (kind === "gone") this.writer.logger.info("connection gone; dropped from the stream", details);
    else this.writer.logger.warn("connection dropped from the stream", { ...details, error: describe(error) });
    if (gone) {
      this.gone++;
      this.removals.push(this.removeRow(connectionId));
    } else if (lane.format === "json") {
      this.removals.push(closeUnreachable(this.writer, this.open.requestId, connectionId));
    }
  }

  private async removeRow(connectionId: string): Promise<void> {
    const { sessionId, requestId } = this.open;
    if (!this.writer.store) return;
    try {
      await this.writer.store.remove({ sessionId, connectionId });
    } catch (error) {
      this.writer.logger.warn("removing a gone connection's row failed", { sessionId, requestId, connectionId, error });
    }
  }
}
