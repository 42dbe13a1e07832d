/**
 * Runs a benchmark's runs over a few concurrent slots. Slots start staggered so the sessions
 * of one group never tick in lockstep; each slot runs its share one after another.
 */
import { setTimeout as sleep } from "node:timers/promises";

export async function runSlots(count: number, slots: number, staggerMs: number, run: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(slots, count)) }, async (_, slot) => {
      await sleep(slot * staggerMs);
      while (next < count) await run(next++);
    }),
  );
}
