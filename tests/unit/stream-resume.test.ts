import { expect } from "chai";
import type { JournalEvent } from "../../functions/stream/journal";
import type { AnswerKey, CheckpointNews, JournalStore, ResumeOutcome } from "../../functions/stream/journal-store";
import { PostError } from "../../functions/stream/types";
import { createStreamOpener, replayAnswer } from "../../functions/stream/writer";
import { drain, FakeClock, FakeTransport, journalPositions, MemoryConnectionsStore, RecordingLogger } from "./stream-fakes";

const SESSION = "session-resume";
const ALICE = "iam:arn:aws:iam::123456789012:user/alice";

/** The journal store's contract in memory: checkpoints hand back resumers registered since. */
class MemoryJournal implements JournalStore {
  readonly opened: AnswerKey[] = [];
  readonly checkpoints: { events: JournalEvent[]; ended: boolean }[] = [];
  pending: Record<string, number> = {};
  cancelled = false;

  async open(key: AnswerKey): Promise<void> {
    this.opened.push(key);
  }

  async checkpoint(_key: AnswerKey, events: readonly JournalEvent[], ended: boolean): Promise<CheckpointNews> {
    this.checkpoints.push({ events: events.map((e) => ({ ...e })), ended });
    const resumers = this.pending;
    this.pending = {};
    return { resumers, cancelled: this.cancelled };
  }

  async cancel(): Promise<boolean> {
    throw new Error("not used by the writer");
  }

  async resume(): Promise<ResumeOutcome> {
    throw new Error("not used by the writer");
  }
}

async function setup(respond?: ConstructorParameters<typeof FakeTransport>[0]) {
  const store = new MemoryConnectionsStore();
  const [old] = await store.seed(SESSION, ALICE, ["json"]);
  const transport = new FakeTransport(respond);
  const clock = new FakeClock(false);
  const journal = new MemoryJournal();
  const logger = new RecordingLogger();
  const opener = createStreamOpener({
    store,
    transport,
    clock,
    logger,
    journal,
    random: () => 0,
    options: { report: () => undefined, flushIntervalMs: { json: 0, text: 0 }, checkpointMs: 1000 },
  });
  return { store, old, transport, clock, journal, logger, opener };
}

function textOf(envelopes: Record<string, unknown>[]): string {
  return envelopes.flatMap((e) => (e.type === "delta" ? [e.text as string] : [])).join("");
}

describe("stream writer: resumable answers", () => {
  it("streams the rest after the seq a reconnected client saw, exactly once, at the next checkpoint", async () => {
    const { old, transport, clock, journal, opener } = await setup();
    const stream = await opener({ sessionId: SESSION, principal: ALICE, requestId: "r-1" });
    expect(journal.opened).to.deep.equal([{ sessionId: SESSION, principal: ALICE, requestId: "r-1" }]);
    stream.delta("Hello");
    await drain();
    const seenByOld = transport.envelopesOf(old);
    const lastSeq = seenByOld.at(-1)!.seq as number;
    // The old socket dies; the client reconnects and resumes after the last seq it saw.
    transport.respond = (call) => (call.connectionId === old ? new PostError("gone", "GoneException", 410) : "ok");
    stream.delta(", world");
    journal.pending = { "new=": lastSeq };
    clock.advance(1000);
    await drain();
    expect(textOf(seenByOld)).to.equal("Hello");
    expect(textOf(transport.envelopesOf("new=")), "streamed before the answer ends").to.equal(", world");
    stream.delta("!");
    await stream.end({ final: "Hello, world!", stopReason: "end_turn" });
    const resumed = transport.envelopesOf("new=");
    expect(resumed[0].type, "no second start").to.equal("delta");
    expect(textOf(seenByOld) + textOf(resumed)).to.equal("Hello, world!");
    expect(resumed.at(-1)).to.deep.include({ type: "end", final: "Hello, world!" });
    // The resumed connection's seqs continue the answer's positions.
    expect(resumed.map((e) => e.seq)).to.deep.equal(journalPositions([...seenByOld, ...resumed]).slice(seenByOld.length));
    expect(journal.checkpoints.at(-1)?.ended).to.equal(true);
  });

  it("attaches a resume registered before the final checkpoint, and ignores one for a connection already streaming", async () => {
    const { old, transport, journal, opener } = await setup();
    const stream = await opener({ sessionId: SESSION, principal: ALICE, requestId: "r-2" });
    stream.delta("abc");
    await drain();
    journal.pending = { "late=": 0, [old]: 0 };
    await stream.end({ final: "abc", stopReason: "end_turn" });
    expect(transport.envelopesOf("late=").map((e) => e.type)).to.deep.equal(["delta", "end"]);
    expect(textOf(transport.envelopesOf("late="))).to.equal("abc");
    expect(transport.envelopesOf(old).map((e) => e.type)).to.deep.equal(["start", "delta", "end"]);
  });

  it("signals a cancel read at a checkpoint, once", async () => {
    const { clock, journal, opener } = await setup();
    const stream = await opener({ sessionId: SESSION, principal: ALICE, requestId: "r-c" });
    expect(stream.cancelled?.aborted).to.equal(false);
    journal.cancelled = true;
    clock.advance(1000);
    await drain();
    expect(stream.cancelled?.aborted).to.equal(true);
    await stream.end({ final: "", stopReason: "cancelled" });
  });

  it("keeps no journal for an answer whose asker is unknown (a Lex code hook)", async () => {
    const { journal, opener } = await setup();
    const stream = await opener({ sessionId: SESSION, requestId: "r-3" });
    stream.delta("x");
    await stream.end({ final: "x", stopReason: "end_turn" });
    expect(journal.opened).to.deep.equal([]);
    expect(journal.checkpoints).to.deep.equal([]);
    expect(stream.cancelled).to.equal(undefined);
  });

  it("replays an ended answer after any seq, so what was seen and what is replayed make the answer", async () => {
    const { old, transport, opener } = await setup();
    const stream = await opener({ sessionId: SESSION, principal: ALICE, requestId: "r-4" });
    stream.delta("The answer is ");
    stream.citation([{ text: "cited", sources: [{ uri: "s3://docs/a.md" }] }]);
    stream.delta("42 😀.");
    await stream.end({ final: "The answer is 42 😀.", stopReason: "end_turn" });
    const whole = transport.envelopesOf(old);
    const events = replayEventsFrom(whole);
    for (const afterSeq of [0, 3, 14, 15, 17, 20]) {
      const replayTransport = new FakeTransport();
      await replayAnswer(
        { store: new MemoryConnectionsStore(), transport: replayTransport, options: { report: () => undefined } },
        { sessionId: SESSION, requestId: "r-4", connectionId: "again=", events, afterSeq },
      );
      const replayed = replayTransport.envelopesOf("again=");
      const seenText = textUpTo(whole, afterSeq);
      expect(seenText + textOf(replayed), `after ${afterSeq}`).to.equal("The answer is 42 😀.");
      expect(replayed.at(-1)?.type).to.equal("end");
      for (const e of replayed) expect(e.seq as number).to.be.greaterThan(afterSeq);
    }
  });

  it("closes a json connection it gives up on, so the client reconnects instead of waiting; leaves a text one open", async () => {
    const store = new MemoryConnectionsStore();
    const [json, text] = await store.seed(SESSION, ALICE, ["json", "text"]);
    const transport = new FakeTransport(() => new PostError("throttled", "LimitExceededException", 429));
    const logger = new RecordingLogger();
    const opener = createStreamOpener({
      store,
      transport,
      clock: new FakeClock(),
      logger,
      random: () => 0,
      options: { report: () => undefined, maxRetries: 2 },
    });
    const stream = await opener({ sessionId: SESSION, principal: ALICE, requestId: "r-5" });
    stream.delta("lost");
    await stream.end({ final: "lost", stopReason: "end_turn" });
    expect(transport.closed).to.deep.equal([json]);
    expect(transport.closed).to.not.include(text);
    expect(logger.entries.some((e) => e.message === "connection closed: the stream could not reach it")).to.equal(true);
  });

  it("retries a throttled close with the same budget, so a storm cannot leave the client waiting", async () => {
    const store = new MemoryConnectionsStore();
    const [json] = await store.seed(SESSION, ALICE, ["json"]);
    const transport = new FakeTransport(() => new PostError("throttled", "LimitExceededException", 429));
    let closes = 0;
    transport.close = async (connectionId) => {
      transport.closed.push(connectionId);
      if (++closes < 3) throw new PostError("throttled", "LimitExceededException", 429);
    };
    const logger = new RecordingLogger();
    const opener = createStreamOpener({ store, transport, clock: new FakeClock(), logger, random: () => 0, options: { report: () => undefined, maxRetries: 3 } });
    const stream = await opener({ sessionId: SESSION, principal: ALICE, requestId: "r-6" });
    stream.delta("lost");
    await stream.end({ final: "lost", stopReason: "end_turn" });
    expect(transport.closed).to.deep.equal([json, json, json]);
    expect(logger.entries.some((e) => e.message === "connection closed: the stream could not reach it")).to.equal(true);
  });
});

/** The journal events an ended answer's envelopes stand for (start excluded). */
function replayEventsFrom(envelopes: Record<string, unknown>[]): JournalEvent[] {
  const events: JournalEvent[] = [];
  for (const e of envelopes) {
    const end = e.seq as number;
    if (e.type === "delta") {
      const tail = events.at(-1);
      if (tail?.type === "delta") {
        tail.text += e.text as string;
        tail.end = end;
      } else events.push({ type: "delta", text: e.text as string, end });
    } else if (e.type === "citation") events.push({ type: "citation", citations: e.citations as never, end });
    else if (e.type === "end") events.push({ type: "end", final: e.final as string, stopReason: e.stopReason as string, end });
  }
  return events;
}

/** The text a client holds once it saw every position up to `afterSeq`. */
function textUpTo(envelopes: Record<string, unknown>[], afterSeq: number): string {
  let text = "";
  for (const e of envelopes) {
    if (e.type !== "delta") continue;
    const chunk = e.text as string;
    const start = (e.seq as number) - chunk.length;
    text += chunk.slice(0, Math.max(0, Math.min(chunk.length, afterSeq - start)));
  }
  return text;
}
