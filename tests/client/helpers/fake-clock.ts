/** A manual clock for the connection manager: timers run only when a test advances time. */
import type { Clock } from "../../../functions/shared/clock";

export class FakeClock implements Clock {
  private current = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): number {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers set and not yet run or cleared. */
  pending(): number {
    return this.timers.size;
  }

  /** Moves time forward, running due timers in time order (including ones they set). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.current = next[1].at;
      next[1].callback();
    }
    this.current = target;
  }
}

/** Lets pending promise callbacks (a signed-URL fetch, a queued close) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
