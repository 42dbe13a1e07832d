/**
 * An answer as one ordered journal of positions, so every `format=json` envelope's `seq` names
 * the same point of the answer on every connection, and a client that lost its connection can
 * ask for the rest after the last `seq` it saw (`resume`), exactly once. Pure.
 *
 * Positions: `start` is 0; each UTF-16 code unit of answer text, each citation, and each
 * guardrail, `end` or `error` event takes the next one. A frame's `seq` is the position of the
 * last thing it carries, so frames coalesced or split at any boundary still have strictly
 * increasing `seq`s, and a gap in `seq` means coalescing, never loss.
 *
 * `reasoning` (a UTF-16 code unit each, like answer text) and `progress` (one) take positions
 * too, so json `seq`s stay strictly increasing, but they are never retained: the model's
 * reasoning is never written to the journal store, and a resume does not replay it or a
 * progress stage (its positions are a gap to the resumed client).
 */
import type { AnswerSource, Citation, ErrorCode, ProgressStage, Usage } from "../shared/protocol";

/** Journal events; each carries the position it ends at. */
export type JournalEvent =
  | { type: "delta"; text: string; end: number }
  | { type: "citation"; citations: Citation[]; end: number }
  | { type: "guardrail"; action: string; end: number }
  | { type: "end"; final: string; stopReason: string; usage?: Usage; sources?: AnswerSource[]; end: number }
  | { type: "error"; code: ErrorCode; message: string; retryable: boolean; end: number }
  | { type: "reasoning"; text: string; end: number }
  | { type: "progress"; stage: ProgressStage; end: number };

/** Events that take positions but are never kept (see above). */
export function isTransient(event: { type: JournalEvent["type"] }): boolean {
  return event.type === "reasoning" || event.type === "progress";
}

type Unpositioned<T> = T extends unknown ? Omit<T, "end"> : never;
export type JournalInput = Unpositioned<JournalEvent>;

/** How many positions an event takes. */
export function span(event: JournalInput): number {
  if (event.type === "delta" || event.type === "reasoning") return event.text.length;
  if (event.type === "citation") return event.citations.length;
  return 1;
}

/** The position an event starts after. */
export function startOf(event: JournalEvent): number {
  return event.end - span(event);
}

export class Journal {
  /** Position of the last event; `start` is 0. */
  position = 0;
  readonly events: JournalEvent[] = [];

  /**
   * @param retain keep the events (a resumable answer, a replay); without it only positions
   * are counted, so an answer nobody can resume holds no copy of its text.
   */
  constructor(private readonly retain = true) {}

  /** Appends an event at the next positions (text merged into a trailing delta) and returns it positioned. */
  append(input: JournalInput): JournalEvent {
    this.position += span(input);
    const event = { ...input, end: this.position } as JournalEvent;
    if (!this.retain || isTransient(event)) return event;
    const tail = this.events[this.events.length - 1];
    // Only text with no gap before it joins the tail: a delta's positions must stay its text's.
    if (event.type === "delta" && tail?.type === "delta" && tail.end === startOf(event)) {
      tail.text += event.text;
      tail.end = event.end;
    } else {
      this.events.push(event);
    }
    return event;
  }

  /** Takes an ended answer's stored events as this journal's. */
  restore(events: readonly JournalEvent[]): void {
    this.events.splice(0, this.events.length, ...events.map((event) => ({ ...event })));
    this.position = events.length > 0 ? events[events.length - 1].end : 0;
  }
}

/**
 * The events after position `afterSeq`: those wholly after it, and the unseen part of one it
 * falls inside (text or citations cut at that position). Concatenating what a client saw up
 * to `afterSeq` with these gives the answer exactly.
 */
export function eventsAfter(events: readonly JournalEvent[], afterSeq: number): JournalEvent[] {
  const rest: JournalEvent[] = [];
  for (const event of events) {
    if (event.end <= afterSeq) continue;
    const seen = afterSeq - startOf(event);
    if (seen <= 0) rest.push({ ...event });
    else if (event.type === "delta") rest.push({ ...event, text: event.text.slice(seen) });
    else if (event.type === "citation") rest.push({ ...event, citations: event.citations.slice(seen) });
    else rest.push({ ...event });
  }
  return rest;
}
