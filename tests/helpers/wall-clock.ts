/**
 * Moves the process's wall clock ahead: what a test sees when the tests before it took that long
 * (a busy machine's full run has taken 8 minutes). Tests that set an emulator's clock use it to
 * prove they read the time when they run, not when mocha loaded their file (issue 23).
 */

/**
 * Shifts `Date.now()` and `new Date()` by `ms` until the returned function is called. Mocha
 * keeps its own reference to the real `Date`, so its timeouts are not affected.
 */
export function shiftWallClock(ms: number): () => void {
  const RealDate = globalThis.Date;
  class ShiftedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(RealDate.now() + ms);
      else super(...(args as [string | number | Date]));
    }

    static override now(): number {
      return RealDate.now() + ms;
    }
  }
  globalThis.Date = ShiftedDate as DateConstructor;
  return () => {
    globalThis.Date = RealDate;
  };
}
