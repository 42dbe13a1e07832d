/**
 * Cuts answer text into model-like deltas: a word with its trailing whitespace, long words
 * in pieces. Cuts fall between code points, never inside a surrogate pair, so every delta
 * is valid text on its own and the deltas concatenate to the input exactly.
 */

/** Longest delta in code points; longer words are cut into pieces of this size. */
export const MAX_DELTA_CODE_POINTS = 8;

export function splitIntoDeltas(text: string, maxCodePoints = MAX_DELTA_CODE_POINTS): string[] {
  if (!Number.isInteger(maxCodePoints) || maxCodePoints < 1) throw new RangeError("maxCodePoints must be a positive integer");
  const deltas: string[] = [];
  for (const piece of text.match(/\s+|\S+\s*/gu) ?? []) {
    const codePoints = Array.from(piece);
    for (let i = 0; i < codePoints.length; i += maxCodePoints) {
      deltas.push(codePoints.slice(i, i + maxCodePoints).join(""));
    }
  }
  return deltas;
}

/** A rough token count (about four characters per token), for usage figures. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(Array.from(text).length / 4));
}
