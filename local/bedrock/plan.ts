/**
 * Decides what a request answers: the behaviour's scripted deltas, or the stand-in model's
 * retrieval answer cut into deltas. Citations are placed after the delta that completes
 * the text they cite, as a knowledge base streams them.
 */
import { composeAnswer } from "./answer";
import type { BedrockBehavior } from "./behavior";
import { splitIntoDeltas } from "./deltas";
import type { DocumentIndex } from "./retrieval";

export interface PlannedReference {
  readonly uri: string;
  readonly text: string;
  /** Stable id of the passage, reported as `x-amz-bedrock-kb-chunk-id`. */
  readonly chunkId: string;
}

export interface PlannedCitation {
  /** Index of the delta after which the citation is sent (always a valid index; -1 only without deltas). */
  readonly afterDelta: number;
  /** The cited part of the answer. */
  readonly text: string;
  /** UTF-16 offset of `text` in the answer. */
  readonly start: number;
  readonly references: readonly PlannedReference[];
}

export interface PlannedAnswer {
  readonly text: string;
  readonly deltas: readonly string[];
  readonly citations: readonly PlannedCitation[];
}

/** `cited`: the operation cites its sources (RetrieveAndGenerate), so the text does not list them. */
export function planAnswer(behavior: BedrockBehavior, index: DocumentIndex, question: string, options: { cited?: boolean } = {}): PlannedAnswer {
  if (behavior.deltas) {
    const deltas = behavior.deltas;
    const text = deltas.join("");
    const last = deltas.length - 1;
    const citations = (behavior.citations ?? []).map((c, n): PlannedCitation => {
      const cited = c.text ?? text;
      return {
        afterDelta: c.afterDelta !== undefined && c.afterDelta >= 0 && c.afterDelta <= last ? c.afterDelta : last,
        text: cited,
        start: Math.max(0, text.indexOf(cited)),
        references: c.references.map((r, m) => ({ uri: r.uri, text: r.text, chunkId: `scripted-${n}-${m}` })),
      };
    });
    return { text, deltas, citations };
  }
  const answer = composeAnswer(index, question, { listSources: !options.cited });
  const deltas = splitIntoDeltas(answer.text);
  const deltaEnds: number[] = [];
  deltas.reduce((end, d) => {
    deltaEnds.push(end + d.length);
    return end + d.length;
  }, 0);
  const citations = answer.citations.map(
    (c): PlannedCitation => ({
      afterDelta: Math.max(0, deltaEnds.findIndex((end) => end >= c.end)),
      text: answer.text.slice(c.start, c.end),
      start: c.start,
      references: [
        { uri: c.passage.document.uri, text: c.passage.text, chunkId: `${c.passage.document.file}#${c.passage.index}` },
      ],
    }),
  );
  return { text: answer.text, deltas, citations };
}
