/**
 * Numbered citation markers: each citation's sources get the number they have in the answer's
 * sources list, and the marker (`[1]`, `[1][2]`) goes right after the part of the answer the
 * citation supports, so a reader sees which sentence which source backs. Pure.
 */
import type { Citation } from "../shared/protocol";
import { sanitizeOutput, type OutputPolicy } from "./output-safety";

/** Where one citation's markers go: after `end` (a UTF-16 offset in the text), the source numbers in order. */
export interface MarkerPlacement {
  end: number;
  numbers: number[];
}

/**
 * Finds where each citation's supported text ends in `text` (as generated, or as the output
 * sanitizer left it), searching on from the previous citation since they come in answer order;
 * a citation whose text cannot be found gets no marker rather than a wrong one.
 */
export function placeMarkers(
  text: string,
  citations: readonly Citation[],
  numberOf: (uri: string) => number | undefined,
  policy?: OutputPolicy,
): MarkerPlacement[] {
  const byEnd = new Map<number, number[]>();
  let cursor = 0;
  for (const citation of citations) {
    const cited = citation.text.trim();
    if (cited === "") continue;
    const numbers = citation.sources.map((s) => numberOf(s.uri)).filter((n): n is number => n !== undefined);
    if (numbers.length === 0) continue;
    const end = findEnd(text, cited, cursor) ?? findEnd(text, sanitizeOutput(cited, policy).trim(), cursor);
    if (end === undefined) continue;
    cursor = end;
    const at = byEnd.get(end) ?? [];
    for (const n of numbers) if (!at.includes(n)) at.push(n);
    byEnd.set(end, at);
  }
  return [...byEnd].map(([end, numbers]) => ({ end, numbers: numbers.sort((a, b) => a - b) })).sort((a, b) => a.end - b.end);
}

function findEnd(text: string, cited: string, from: number): number | undefined {
  if (cited === "") return undefined;
  let at = text.indexOf(cited, from);
  if (at < 0) at = text.indexOf(cited);
  return at < 0 ? undefined : at + cited.length;
}

/** The text with each placement's markers inserted, each rendered by `marker`. */
export function insertMarkers(text: string, placements: readonly MarkerPlacement[], marker: (n: number) => string): string {
  let out = "";
  let from = 0;
  for (const { end, numbers } of placements) {
    out += text.slice(from, end) + " " + numbers.map(marker).join("");
    from = end;
  }
  return out + text.slice(from);
}
