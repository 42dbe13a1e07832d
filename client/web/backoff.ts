/** Reconnect delays: exponential, capped, with "equal jitter" so tabs that lost one gateway spread out. */
export interface BackoffOptions {
  /** Delay scale of the first retry. @default 500 */
  readonly baseMs?: number;
  /** Upper bound of any delay. @default 30000 */
  readonly maxMs?: number;
}

/**
 * Half the capped exponential delay is fixed, half random: never near zero (no hot loop
 * against a gateway that accepts and drops), never above the cap.
 */
export function backoffDelay(attempt: number, random: () => number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
