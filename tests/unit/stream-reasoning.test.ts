import { expect } from "chai";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parseEnvelope } from "../../client/web/envelope";
import { Journal, eventsAfter, type JournalEvent } from "../../functions/stream/journal";
import type { AnswerKey, CheckpointNews, JournalStore, ResumeOutcome } from "../../functions/stream/journal-store";
import { createStreamOpener } from "../../functions/stream/writer";
import { drain, FakeClock, FakeTransport, journalPositions, MemoryConnectionsStore, RecordingLogger } from "./stream-fakes";

const SESSION = "session-reasoning";
const ALICE = "iam:arn:aws:iam::123456789012:user/alice";
const THOUGHT = "The user asks about streaming; the docs cover it.";

/** Keeps every checkpoint, and registers one resumer at the first. */
class MemoryJournal implements JournalStore {
  readonly checkpoints: JournalEvent[][] = [];
  pending: Record<string, number> = {};
  async open(): Promise<void> {}
  async checkpoint(_key: AnswerKey, events: readonly JournalEvent[]): Promise<CheckpointNews> {
    this.checkpoints.push(events.map((e) => ({ ...e })));
    const resumers = this.pending;
    this.pending = {};
    return { resumers, cancelled: false };
  }
  async cancel(): Promise<boolean> {
    throw new Error("not used by the writer");
  }
  async resume(): Promise<ResumeOutcome> {
    throw new Error("not used by the writer");
  }
}

async function setup(formats: ("json" | "text")[]) {
  const store = new MemoryConnectionsStore();
  const ids = await store.seed(SESSION, ALICE, formats);
  const transport = new FakeTransport();
  const journal = new MemoryJournal();
  const logger = new RecordingLogger();
  const clock = new FakeClock(false);
  const opener = createStreamOpener({
    store,
    transport,
    clock,
    logger,
    journal,
    random: () => 0,
    options: { report: () => undefined, flushIntervalMs: { json: 0, text: 0 }, textTailCodePoints: 0, checkpointMs: 1000 },
  });
  const stream = await opener({ sessionId: SESSION, principal: ALICE, requestId: "r-1" });
  return { ids, transport, journal, logger, clock, stream };
}

describe("stream writer: reasoning and progress envelopes", () => {
  it("sends progress and reasoning to json connections only, with seqs that count their positions", async () => {
    const { ids, transport, stream } = await setup(["json", "text"]);
    const [json, text] = ids;
    stream.progress!("retrieving");
    stream.progress!("generating");
    stream.reasoning!("The user asks ");
    stream.reasoning!("about streaming; the docs cover it.");
    stream.delta("Streaming ");
    stream.delta("works.");
    await stream.end({ final: "Streaming works.", stopReason: "end_turn" });

    const envelopes = transport.envelopesOf(json);
    expect(envelopes.map((e) => e.type)).to.include.members(["start", "progress", "reasoning", "delta", "end"]);
    expect(envelopes.filter((e) => e.type === "progress").map((e) => e.stage)).to.deep.equal(["retrieving", "generating"]);
    expect(envelopes.filter((e) => e.type === "reasoning").map((e) => e.text).join("")).to.equal(THOUGHT);
    expect(envelopes.filter((e) => e.type === "delta").map((e) => e.text).join("")).to.equal("Streaming works.");
    expect(envelopes.map((e) => e.seq)).to.deep.equal(journalPositions(envelopes));
    const seqs = envelopes.map((e) => e.seq as number);
    expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).to.equal(seqs.length);

    // Lex Web UI shows every frame as answer text: neither the stages nor the reasoning reach it.
    expect(transport.framesOf(text).join("")).to.equal("Streaming works.");
  });

  it("never writes the reasoning or a stage to the journal store, and a resume gets the answer without them", async () => {
    const { ids, transport, journal, clock, stream } = await setup(["json"]);
    stream.progress!("retrieving");
    stream.reasoning!(THOUGHT);
    stream.delta("Hello");
    await drain();
    const seen = transport.envelopesOf(ids[0]);
    const afterSeq = seen.at(-1)!.seq as number;
    stream.reasoning!("More thinking between the text.");
    stream.delta(", world");
    journal.pending = { "new=": afterSeq };
    clock.advance(1000);
    await drain();
    await stream.end({ final: "Hello, world", stopReason: "end_turn" });

    for (const events of journal.checkpoints) {
      expect(events.map((e) => e.type)).to.not.include.members(["reasoning", "progress"]);
      expect(JSON.stringify(events)).to.not.contain("thinking").and.not.contain(THOUGHT);
    }
    const resumed = transport.envelopesOf("new=");
    expect(resumed.map((e) => e.type)).to.deep.equal(["delta", "end"]);
    expect(resumed[0].text).to.equal(", world");
  });
});

describe("journal: reasoning and progress take positions but are not kept", () => {
  it("keeps two deltas apart across a reasoning gap, so a resume inside either is exact", () => {
    const journal = new Journal();
    journal.append({ type: "delta", text: "ab" });
    journal.append({ type: "reasoning", text: "xyz" });
    journal.append({ type: "progress", stage: "generating" });
    journal.append({ type: "delta", text: "cd" });
    expect(journal.events).to.deep.equal([
      { type: "delta", text: "ab", end: 2 },
      { type: "delta", text: "cd", end: 8 },
    ]);
    expect(journal.position).to.equal(8);
    const text = (afterSeq: number) => eventsAfter(journal.events, afterSeq).map((e) => (e.type === "delta" ? e.text : "")).join("");
    expect(text(1)).to.equal("bcd");
    expect(text(4), "inside the reasoning: the rest of the text").to.equal("cd");
    expect(text(7)).to.equal("d");
  });
});

describe("docs/protocol.md: the reasoning and progress examples", () => {
  it("are envelopes the page's parser takes, whose seqs are their journal positions", () => {
    const doc = readFileSync(path.join(__dirname, "../../docs/protocol.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Reasoning and progress"), doc.indexOf("\n## ", doc.indexOf("## Reasoning and progress") + 1));
    const envelopes = [...section.matchAll(/^(\{"v":1.*\})$/gm)].map((match) => parseEnvelope(match[1]));
    expect(envelopes.map((e) => e.type)).to.include.members(["start", "reasoning", "delta", "progress"]);
    for (const requestId of new Set(envelopes.map((e) => e.requestId))) {
      const answer = envelopes.filter((e) => e.requestId === requestId);
      // The progress example starts after its (unshown) start.
      const shown = answer[0].type === "start" ? answer : [{ type: "start" }, ...answer];
      expect(answer.map((e) => e.seq), requestId).to.deep.equal(journalPositions(shown).slice(shown.length - answer.length));
    }
  });
});
