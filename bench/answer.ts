/**
 * The long answer the benchmarks stream: model-like deltas of 3–6 characters (code points)
 * in mixed scripts (Latin, CJK, emoji outside the BMP, so UTF-16 surrogate pairs and 4-byte
 * UTF-8), the same for every run so every case streams identical bytes.
 */

const LATIN = "the stream writer coalesces deltas into frames while a post is in flight so latency stays bounded ".split(" ");
const CJK = Array.from("流式传输回答的每个片段都按顺序到达客户端不丢失也不重复");
const EMOJI = Array.from("🚀✨📡🧠💬🔁⚡️🌏");

/** Deterministic PRNG (mulberry32): the answer never changes between runs or machines. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` deltas of 3–6 code points each; every delta is whole code points, as Bedrock sends them. */
export function benchDeltas(count: number, seed = 7): string[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const deltas: string[] = [];
  let pending: string[] = [];
  while (deltas.length < count) {
    if (pending.length === 0) {
      const script = random();
      if (script < 0.6) pending = Array.from(`${pick(LATIN)} `);
      else if (script < 0.9) pending = Array.from({ length: 2 + Math.floor(random() * 5) }, () => pick(CJK));
      else pending = [pick(EMOJI), " "];
    }
    const size = 3 + Math.floor(random() * 4);
    const piece: string[] = [];
    while (piece.length < size) {
      if (pending.length === 0) pending = Array.from(`${pick(LATIN)} `);
      piece.push(pending.shift()!);
    }
    deltas.push(piece.join(""));
  }
  return deltas;
}
