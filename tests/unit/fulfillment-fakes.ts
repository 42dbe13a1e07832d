/**
 * Test doubles for the fulfillment function: a manual clock for the stall/time bounds, SDK
 * clients whose `send` returns the real response shapes (event streams as async iterables
 * that may throw in-stream exceptions or hang), a recording StreamOpener, and memory.
 */
import type { Citation, ErrorCode, Usage } from "../../functions/shared/protocol";
import type { AnswerStream, OpenStream, StreamOpener, StreamReport } from "../../functions/stream/types";
import type { Clock } from "../../functions/shared/clock";
import { appendTurn, type ConversationMemory, type MemoryLimits, type MemoryState } from "../../functions/fulfillment/memory";
import type { Turn } from "../../functions/fulfillment/generate";
import { logger } from "../../functions/shared/observability";

/** A clock that moves only on advance(), firing due timers in order. */
export class ManualClock implements Clock {
  t = 1_700_000_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, timer]) => timer.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].callback();
    }
    this.t = target;
  }

  get pending(): number {
    return this.timers.size;
  }
}

/** An SDK-style error: what the SDK throws for a service or in-stream exception. */
export function sdkError(name: string, status?: number): Error {
  const error = new Error(`${name} from the fake service`) as Error & { $metadata?: object; $fault?: string };
  error.name = name;
  if (status !== undefined) error.$metadata = { httpStatusCode: status };
  return error;
}

/** A step of a fake event stream: an event, an in-stream exception, or a hang. */
export type StreamStep<T> = { event: T } | { throws: Error } | { hang: () => void };

/**
 * An event stream as the SDK exposes it. A `hang` step never resolves; its callback runs on
 * the next macrotask (after the reader armed its timers), typically to advance the clock.
 */
export function eventStream<T>(steps: StreamStep<T>[]): AsyncIterable<T> & { returned: boolean } {
  const stream = {
    returned: false,
    [Symbol.asyncIterator]() {
      let index = 0;
      return {
        next(): Promise<IteratorResult<T>> {
          const step = steps[index++];
          if (!step) return Promise.resolve({ done: true, value: undefined });
          if ("event" in step) return Promise.resolve({ done: false, value: step.event });
          if ("throws" in step) return Promise.reject(step.throws);
          setImmediate(step.hang);
          return new Promise<IteratorResult<T>>(() => undefined);
        },
        return(): Promise<IteratorResult<T>> {
          stream.returned = true;
          return Promise.resolve({ done: true, value: undefined });
        },
      };
    },
  };
  return stream;
}

export interface SentCommand {
  name: string;
  input: unknown;
  abortSignal?: AbortSignal;
}

/**
 * A client whose `send` records each command and answers with `respond(commandName, input)`.
 * Cast to the adapter's client interface at the call site.
 */
export function fakeClient(respond: (name: string, input: any, call: number) => unknown) {
  const sent: SentCommand[] = [];
  return {
    sent,
    async send(command: { constructor: { name: string }; input: unknown }, options?: { abortSignal?: AbortSignal }) {
      sent.push({ name: command.constructor.name, input: command.input, abortSignal: options?.abortSignal });
      const answer = respond(command.constructor.name, command.input, sent.length);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

export interface RecordedStream {
  open: OpenStream;
  deltas: string[];
  citations: Citation[][];
  guardrails: string[];
  ended?: { final: string; stopReason: string; usage?: Usage };
  failed?: { code: ErrorCode; message: string; retryable: boolean };
}

function report(connections: number): StreamReport {
  return { ttftMs: 0, totalMs: 0, deltas: 0, frames: 0, bytes: 0, connections, gone: 0, retries: 0, posts: 0 };
}

/** A StreamOpener that records everything an answer writes. */
export function recordingOpener(options: { connections?: number; failOpen?: Error; cancelled?: AbortSignal } = {}) {
  const streams: RecordedStream[] = [];
  const opener: StreamOpener = async (open) => {
    if (options.failOpen) throw options.failOpen;
    const recorded: RecordedStream = { open, deltas: [], citations: [], guardrails: [] };
    streams.push(recorded);
    const stream: AnswerStream = {
      delta: (text) => void recorded.deltas.push(text),
      citation: (citations) => void recorded.citations.push(citations),
      guardrail: (action) => void recorded.guardrails.push(action),
      end: async (result) => {
        recorded.ended = result;
        return report(options.connections ?? 1);
      },
      fail: async (error) => {
        recorded.failed = error;
        return report(options.connections ?? 1);
      },
      liveConnections: options.connections ?? 1,
      cancelled: options.cancelled,
    };
    return stream;
  };
  return { opener, streams };
}

/** Memory in a Map, keyed like the DynamoDB item (session, owner). */
export class MapMemory implements ConversationMemory {
  readonly items = new Map<string, { owner: string; state: MemoryState }>();
  readonly saves: { sessionId: string; owner: string; state: MemoryState; until?: number }[] = [];
  failLoad?: Error;

  async load(sessionId: string, owner: string): Promise<MemoryState> {
    if (this.failLoad) throw this.failLoad;
    const item = this.items.get(sessionId);
    return item && item.owner === owner ? item.state : { turns: [] };
  }

  async append(sessionId: string, owner: string, turn: Turn, limits: MemoryLimits, kbSessionId?: string, until?: number): Promise<void> {
    const item = this.items.get(sessionId);
    const state = appendTurn(item && item.owner === owner ? item.state : { turns: [] }, turn, limits, kbSessionId);
    this.saves.push({ sessionId, owner, state, ...(until === undefined ? {} : { until }) });
    if (!item || item.owner === owner) this.items.set(sessionId, { owner, state });
  }
}

/** Keeps the Powertools logger quiet during a suite (its JSON lines are not what is tested). */
export function quietLogs(): void {
  let level: string;
  before(() => {
    level = logger.getLevelName();
    logger.setLogLevel("SILENT");
  });
  after(() => logger.setLogLevel(level as Parameters<typeof logger.setLogLevel>[0]));
}
