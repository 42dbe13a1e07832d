import { expect } from "chai";
import fc from "fast-check";
import { Journal, eventsAfter, startOf, type JournalEvent, type JournalInput } from "../../functions/stream/journal";

const citation = (n: number) => ({ text: `c${n}`, sources: [{ uri: `s3://docs/${n}.md` }] });

function textOf(events: readonly JournalEvent[]): string {
  return events.map((e) => (e.type === "delta" ? e.text : "")).join("");
}

describe("stream journal: positions and resume", () => {
  it("gives each text unit, citation and event the next position, merging consecutive text", () => {
    const journal = new Journal();
    expect(journal.append({ type: "delta", text: "ab" })).to.deep.equal({ type: "delta", text: "ab", end: 2 });
    expect(journal.append({ type: "delta", text: "c" })).to.deep.equal({ type: "delta", text: "c", end: 3 });
    journal.append({ type: "citation", citations: [citation(1), citation(2)] });
    journal.append({ type: "guardrail", action: "INTERVENED" });
    journal.append({ type: "end", final: "abc", stopReason: "end_turn" });
    expect(journal.events.map((e) => [e.type, startOf(e), e.end])).to.deep.equal([
      ["delta", 0, 3],
      ["citation", 3, 5],
      ["guardrail", 5, 6],
      ["end", 6, 7],
    ]);
    expect(journal.position).to.equal(7);
  });

  it("counts positions without keeping text when it need not retain the answer", () => {
    const journal = new Journal(false);
    expect(journal.append({ type: "delta", text: "abc" })).to.deep.equal({ type: "delta", text: "abc", end: 3 });
    expect(journal.append({ type: "end", final: "abc", stopReason: "end_turn" }).end).to.equal(4);
    expect(journal.events).to.deep.equal([]);
  });

  it("replays after a position inside text or citations exactly the unseen part", () => {
    const journal = new Journal();
    journal.append({ type: "delta", text: "hello 😀 world" });
    journal.append({ type: "citation", citations: [citation(1), citation(2)] });
    journal.append({ type: "error", code: "stalled", message: "stalled", retryable: true });
    const rest = eventsAfter(journal.events, 6);
    expect(rest[0]).to.deep.equal({ type: "delta", text: "😀 world", end: 14 });
    expect(eventsAfter(journal.events, 15)).to.deep.equal([
      { type: "citation", citations: [citation(2)], end: 16 },
      { type: "error", code: "stalled", message: "stalled", retryable: true, end: 17 },
    ]);
    expect(eventsAfter(journal.events, 17)).to.deep.equal([]);
    expect(eventsAfter(journal.events, 0)).to.deep.equal(journal.events);
  });

  it("loses and repeats nothing for any answer cut at any position (property)", () => {
    const input: fc.Arbitrary<JournalInput> = fc.oneof(
      fc.string({ minLength: 1, maxLength: 12, unit: "grapheme" }).map((text) => ({ type: "delta" as const, text })),
      fc.integer({ min: 1, max: 3 }).map((n) => ({ type: "citation" as const, citations: Array.from({ length: n }, (_, i) => citation(i)) })),
      fc.constant({ type: "guardrail" as const, action: "INTERVENED" }),
    );
    fc.assert(
      fc.property(fc.array(input, { maxLength: 30 }), fc.nat(), (inputs, cut) => {
        const journal = new Journal();
        for (const event of inputs) journal.append(event);
        journal.append({ type: "end", final: "x", stopReason: "end_turn" });
        const at = cut % (journal.position + 1);
        const seen = textOf(journal.events).slice(0, Math.max(0, Math.min(at, textLengthBefore(journal.events, at))));
        const rest = eventsAfter(journal.events, at);
        expect(seen + textOf(rest)).to.equal(textOf(journal.events));
        // Every replayed event lies wholly after the cut, and they end where the answer ends.
        for (const event of rest) expect(startOf(event)).to.be.at.least(at);
        expect(rest.at(-1)?.end).to.equal(at === journal.position ? undefined : journal.position);
      }),
    );
  });
});

/** Text units at positions up to `at`. */
function textLengthBefore(events: readonly JournalEvent[], at: number): number {
  let length = 0;
  for (const event of events) {
    if (event.type !== "delta") continue;
    length += Math.max(0, Math.min(event.end, at) - startOf(event));
  }
  return length;
}
