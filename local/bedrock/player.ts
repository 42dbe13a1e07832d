/**
 * Plays an event plan onto a response at a model-like pace: first-token delay, evenly
 * spaced deltas, and the injected in-stream faults (an exception, a stall or a reset after N
 * deltas).
 * Every wait is abortable and unref'd, so a closed client or emulator frees it at once.
 */
import { once } from "node:events";
import type { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { InjectedStall } from "./behavior";

/** Frames are encoded as they are due, so a long answer costs nothing up front. */
export interface EventPlan {
  /** Frames sent before the first delta, once the first-token delay has passed. */
  opening(): readonly Uint8Array[];
  readonly deltaCount: number;
  /** Delta i's frame, then any frames due right after it (citations). */
  delta(i: number): readonly Uint8Array[];
  /** Frames after the last delta (late enough to report the stream's latency). */
  closing(): readonly Uint8Array[];
}

export interface Pace {
  /** 0 = no spacing. */
  readonly deltasPerSecond: number;
  readonly firstTokenDelayMs: number;
  /** `performance.now()` when the request arrived; the first-token delay counts from it. */
  readonly startedAt: number;
}

export interface PlayOptions extends Pace {
  /** An exception frame to end the stream with after some deltas. */
  readonly exception?: { readonly afterDeltas: number; readonly frame: Uint8Array };
  readonly stall?: InjectedStall;
  /** Deltas after which playing stops, leaving the response open for the caller to reset. */
  readonly resetAfterDeltas?: number;
  readonly signal: AbortSignal;
  /** Called after each delta's frames are written. */
  onDelta(): void;
}

export type PlayResult = "completed" | "stream-error" | "reset";

/** Resolves when the plan is played; rejects with an AbortError when the signal fires first. */
export async function play(plan: EventPlan, res: Writable, options: PlayOptions): Promise<PlayResult> {
  const { signal } = options;
  const write = async (frames: readonly Uint8Array[]) => {
    for (const frame of frames) {
      signal.throwIfAborted();
      if (!res.write(frame)) await once(res, "drain", { signal });
    }
  };
  const interval = options.deltasPerSecond > 0 ? 1000 / options.deltasPerSecond : 0;
  const total = plan.deltaCount;
  const stallAt = options.stall ? Math.min(options.stall.afterDeltas, total) : -1;
  const errorAt = options.exception ? Math.min(options.exception.afterDeltas, total) : -1;
  const resetAt = options.resetAfterDeltas === undefined ? -1 : Math.min(options.resetAfterDeltas, total);

  await waitUntil(options.startedAt + options.firstTokenDelayMs, signal);
  await write(plan.opening());
  // Delta i is due at firstDeltaAt + i * interval, so timer drift does not accumulate.
  let firstDeltaAt = performance.now();
  for (let i = 0; i <= total; i++) {
    if (i === stallAt) {
      await pause(options.stall?.forMs, signal);
      firstDeltaAt = performance.now() - i * interval;
    }
    if (i === errorAt && options.exception) {
      await write([options.exception.frame]);
      res.end();
      return "stream-error";
    }
    if (i === resetAt) return "reset";
    if (i === total) break;
    if (interval > 0) await waitUntil(firstDeltaAt + i * interval, signal);
    await write(plan.delta(i));
    options.onDelta();
  }
  await write(plan.closing());
  res.end();
  return "completed";
}

/** Waits until a `performance.now()` instant; rejects with an AbortError on abort. */
export async function waitUntil(at: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const ms = at - performance.now();
  if (ms > 0) await sleep(ms, undefined, { signal, ref: false });
}

/** Waits `ms`, or until the signal fires when `ms` is undefined; rejects with an AbortError on abort. */
export async function pause(ms: number | undefined, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  if (ms !== undefined) {
    await sleep(ms, undefined, { signal, ref: false });
    return;
  }
  await new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
}
