import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { expect } from "chai";
import { Journal } from "../../functions/stream/journal";
import { DynamoJournalStore, MAX_JOURNAL_BYTES, RESUME_WINDOW_SECONDS, answerKey, type AnswerKey } from "../../functions/stream/journal-store";
import { useLocalDynamo } from "./local-dynamo";

const START_MS = 1_750_000_000_000;
let sequence = 0;
const key = (principal = "iam:arn:aws:iam::123456789012:user/alice"): AnswerKey => ({ sessionId: "s", principal, requestId: `r-${++sequence}` });

describe("journal store: answers kept for a resume (over the wire against dynalite)", () => {
  const dynamo = useLocalDynamo();
  let clock: number;
  let store: DynamoJournalStore;
  beforeEach(() => {
    clock = START_MS;
    store = new DynamoJournalStore({ tableName: dynamo.local.connectionsTable, client: dynamo.client, now: () => clock });
  });

  function journalOf(text: string, ended: boolean): Journal {
    const journal = new Journal();
    journal.append({ type: "delta", text });
    if (ended) journal.append({ type: "end", final: text, stopReason: "end_turn" });
    return journal;
  }

  it("registers a resume of a running answer and hands it to the writer at its next checkpoint", async () => {
    const answer = key();
    await store.open(answer);
    expect(await store.resume(answer, "new=", 3)).to.deep.equal({ state: "attached" });
    expect(await store.checkpoint(answer, journalOf("Hello", false).events, false)).to.deep.equal({ resumers: { "new=": 3 }, cancelled: false });
  });

  it("answers a resume of an ended answer with its events, and keeps it for the resume window only", async () => {
    const answer = key();
    await store.open(answer);
    const journal = journalOf("Hello", true);
    await store.checkpoint(answer, journal.events, true);
    expect(await store.resume(answer, "new=", 2)).to.deep.equal({ state: "ended", events: journal.events });
    const { Item } = await dynamo.client.send(new GetCommand({ TableName: dynamo.local.connectionsTable, Key: { sessionId: answerKey(answer) } }));
    expect(Item?.ttl).to.equal(START_MS / 1000 + RESUME_WINDOW_SECONDS);
    clock += (RESUME_WINDOW_SECONDS + 1) * 1000;
    expect(await store.resume(answer, "new=", 2)).to.deep.equal({ state: "unknown" });
  });

  it("never lets another principal resume an answer, nor one that does not exist", async () => {
    const answer = key();
    await store.open(answer);
    expect(await store.resume({ ...answer, principal: "iam:arn:aws:iam::123456789012:user/mallory" }, "m=", 0)).to.deep.equal({ state: "unknown" });
    expect(await store.resume(key(), "x=", 0)).to.deep.equal({ state: "unknown" });
  });

  it("keeps no events of an answer too long for one item, and says so to a resume", async () => {
    const answer = key();
    await store.open(answer);
    await store.checkpoint(answer, journalOf("x".repeat(MAX_JOURNAL_BYTES + 1), true).events, true);
    expect(await store.resume(answer, "new=", 0)).to.deep.equal({ state: "too_long" });
  });

  it("carries a cancel of a running answer to the writer's next checkpoint; an ended or unknown answer is not cancelled", async () => {
    const answer = key();
    await store.open(answer);
    expect(await store.cancel(answer)).to.equal(true);
    expect((await store.checkpoint(answer, journalOf("Hel", false).events, false)).cancelled).to.equal(true);
    await store.checkpoint(answer, journalOf("Hel", true).events, true);
    expect(await store.cancel(answer)).to.equal(false);
    expect(await store.cancel(key())).to.equal(false);
  });

  it("cancels, but never resumes, a cancel-only answer (the streaming function URL's: its stream is the HTTP response)", async () => {
    const answer = key();
    await store.open(answer, { resumable: false });
    expect(await store.resume(answer, "ws=", 0)).to.deep.equal({ state: "unknown" });
    expect(await store.cancel(answer)).to.equal(true);
    expect(await store.checkpoint(answer, [], false)).to.deep.equal({ resumers: {}, cancelled: true });
    await store.checkpoint(answer, [], true);
    expect(await store.resume(answer, "ws=", 0)).to.deep.equal({ state: "unknown" });
  });

  it("checkpoints nothing, and finds no resumer, for an answer whose item was never made", async () => {
    expect(await store.checkpoint(key(), journalOf("x", false).events, false)).to.deep.equal({ resumers: {}, cancelled: false });
  });
});
