/**
 * How long this process could not run its event loop: a 100 ms interval whose ticks come late
 * adds up their lateness. A timer that measures someone else's silence (the stream guard's
 * stall bound) subtracts this, so a loop busy with other work (hundreds of answers on one
 * process, a starved CPU) is not taken for a model that went quiet. The rest of issue 21's
 * false stalls under load came before Bedrock's response (the stall bound now starts with it:
 * functions/fulfillment/converse.ts).
 */
const TICK_MS = 100;

let total = 0;
let lastTick = 0;
let sampler: ReturnType<typeof setInterval> | undefined;

/** Milliseconds of event-loop lag since the first call, the current tick's lateness included. */
export function loopLagMs(): number {
  const now = performance.now();
  if (sampler === undefined) {
    lastTick = now;
    sampler = setInterval(() => {
      const at = performance.now();
      total += Math.max(0, at - lastTick - TICK_MS);
      lastTick = at;
    }, TICK_MS);
    // Never keeps a process (or a Lambda invocation) alive by itself.
    sampler.unref();
  }
  return total + Math.max(0, now - lastTick - TICK_MS);
}
