/**
 * What a reliability check reports: one row of RELIABILITY.md. Checks throw on the first
 * violation (with fast-check's seed and path when they fuzz); a returned figure means it held.
 */
export type Section = "Bad input" | "Faults" | "Fair use" | "No silent hang" | "Answers" | "Load" | "Security" | "Side doors";

export interface Figure {
  readonly section: Section;
  /** What was checked, e.g. "$connect (query, headers, identity)". */
  readonly check: string;
  /** What was tried: cases, seed, faults injected. */
  readonly tried: string;
  /** What came out: outcome counts, frames lost, rows leaked. */
  readonly result: string;
}

/** `{ 400: 12, 200: 3 }` → "400×12, 200×3", largest first. */
export function countsText(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([key, n]) => `${key}×${n}`)
    .join(", ");
}

export function tally(counts: Record<string, number>, key: string | number): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
