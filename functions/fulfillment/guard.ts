/**
 * Bounds on waiting for Bedrock: a stall bound (no event for `stallMs` ends the stream as
 * `stalled` instead of leaving the client waiting for the Lambda timeout; the adapters apply
 * it once Bedrock's response has started) and the Lambda's
 * time budget (the answer ends with what it has before the function is killed). Both abort
 * the SDK call through its `abortSignal`. The clock is injected so tests are deterministic.
 */
import { AnswerCancelled, BudgetExhausted, GenerationError, MESSAGES } from "./errors";
import { systemClock, type Clock } from "../shared/clock";
import { loopLagMs } from "../shared/loop-lag";

/** Lag below this is timer noise, not time the loop could not read. */
const MIN_MISSED_MS = 50;

export interface GuardOptions {
  /** Longest wait for the next event. */
  stallMs: number;
  /** Epoch milliseconds by which generation must stop; undefined = no budget. */
  deadlineAt?: number;
  /** Aborted when the answer is no longer wanted (cancel, a reader gone): generation stops at once. */
  cancel?: AbortSignal;
  clock?: Clock;
  /**
   * Milliseconds the process's event loop could not run, cumulative: the stall bound is
   * extended by what it missed, so `stallMs` is silence while the loop was free to read.
   * @default loopLagMs (a 100 ms sampler); with an injected clock, none
   */
  lag?: () => number;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown } | { ok: "timeout" } | { ok: "cancelled" };

export class StreamGuard {
  private readonly controller = new AbortController();
  private readonly clock: Clock;
  /** Settles when the answer is cancelled: one listener for every step. */
  private readonly cancelled?: Promise<{ ok: "cancelled" }>;

  constructor(private readonly options: GuardOptions) {
    this.clock = options.clock ?? systemClock;
    // The SDK call stops reading (and Bedrock stops billing tokens) as soon as nobody wants the answer.
    const { cancel } = options;
    if (cancel) {
      this.cancelled = new Promise((resolve) => {
        const stop = () => {
          this.controller.abort();
          resolve({ ok: "cancelled" });
        };
        if (cancel.aborted) stop();
        else cancel.addEventListener("abort", stop, { once: true });
      });
    }
  }

  /** Pass as the SDK's `abortSignal`: aborted when a bound is hit. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * Waits for `promise` within the bounds. Throws GenerationError("stalled") when the stall
   * bound passes first (unless `stall` is false: a call that returns only when done, like a
   * custom LLM Lambda, has no events to wait for), BudgetExhausted when the deadline does.
   */
  private budgetLeft(): number {
    return this.options.deadlineAt === undefined ? Infinity : this.options.deadlineAt - this.clock.now();
  }

  async step<T>(promise: Promise<T>, bounds: { stall: boolean } = { stall: true }): Promise<T> {
    const budgetLeft = this.budgetLeft();
    const stallLeft = bounds.stall ? this.options.stallMs : Infinity;
    const wait = Math.min(budgetLeft, stallLeft);
    const { cancel } = this.options;
    if (cancel?.aborted) throw new AnswerCancelled();
    const settledOrCancelled = promise.then(
      (value): Settled<T> => ({ ok: true, value }),
      (error: unknown): Settled<T> => ({ ok: false, error }),
    );
    const outcome: Promise<Settled<T>> = this.cancelled ? Promise.race([settledOrCancelled, this.cancelled]) : settledOrCancelled;
    let settled: Settled<T>;
    if (wait <= 0) {
      settled = { ok: "timeout" };
    } else if (wait === Infinity) {
      settled = await outcome;
    } else {
      let handle: unknown;
      // An injected clock is a fake one: no loop of its own to lag.
      const lag = this.options.lag ?? (this.options.clock ? () => 0 : loopLagMs);
      let lagSeen = lag();
      const timer = new Promise<Settled<T>>((resolve) => {
        const fire = () => {
          // Time the loop was blocked is time an event may have arrived unread: wait that long again.
          const missed = lag() - lagSeen;
          lagSeen += missed;
          const budgetNow = this.budgetLeft();
          if (budgetLeft > stallLeft && missed >= MIN_MISSED_MS && budgetNow > 0) {
            handle = this.clock.setTimeout(fire, Math.min(missed, budgetNow));
            return;
          }
          resolve({ ok: "timeout" });
        };
        handle = this.clock.setTimeout(fire, wait);
      });
      settled = await Promise.race([outcome, timer]);
      this.clock.clearTimeout(handle);
    }
    if (settled.ok === true) return settled.value;
    if (settled.ok === "cancelled" || (settled.ok === false && cancel?.aborted)) throw new AnswerCancelled();
    if (settled.ok === false) throw settled.error;
    this.controller.abort();
    if (budgetLeft <= stallLeft || this.budgetLeft() <= 0) throw new BudgetExhausted();
    throw new GenerationError("stalled", MESSAGES.stalled, true, `no event for ${stallLeft} ms`);
  }

  /** Iterates an SDK event stream, each wait bounded by `step`. */
  async *events<T>(source: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
    const iterator = source[Symbol.asyncIterator]();
    let done = false;
    try {
      for (;;) {
        const next = await this.step(iterator.next());
        if (next.done) {
          done = true;
          return;
        }
        yield next.value;
      }
    } finally {
      if (!done) {
        this.controller.abort();
        // Not awaited: after an abort the source may settle late, or (a hung peer) never.
        void Promise.resolve()
          .then(() => iterator.return?.())
          .catch(() => undefined);
      }
    }
  }
}
