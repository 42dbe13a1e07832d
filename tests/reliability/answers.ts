/**
 * Answers that survive what happens around them (issue 11, findings 3–6): a json client that
 * drops mid-answer and resumes gets the rest exactly once; a connection row never expires
 * while its socket may be open, and a claim outlives its connections; concurrent asks in one
 * session all land in memory; a requestId reused while in flight is refused. Each scenario
 * runs over the wire (or against the stack's own DynamoDB) and returns its row of
 * RELIABILITY.md.
 */
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { expect } from "chai";
import { parseStackConfig } from "../../components/config";
import { DEFAULT_MEMORY_LIMITS, DynamoMemory } from "../../functions/fulfillment/memory";
import { LEDGER_MESSAGES, RESUMES_PER_CONNECTION } from "../../functions/shared/ask-ledger";
import { DynamoConnectionsStore } from "../../functions/shared/dynamo-connections";
import { MAX_REPLAYS_PER_ANSWER } from "../../functions/stream/journal-store";
import { CLAIM_GRACE_SECONDS } from "../../functions/shared/session-state";
import type { Envelope } from "../../functions/shared/protocol";
import type { LocalStack } from "../../local/stack";
import { journalPositions } from "../unit/stream-fakes";
import type { Figure } from "./figures";
import { connect, seededRandom, startReliabilityStack } from "./harness";

/** An answer long enough to be dropped in the middle of, with a surrogate pair to split. */
export const ANSWER_DELTAS = Array.from({ length: 40 }, (_, i) => `part${i} ${i % 9 === 0 ? "😀 " : ""}`);
const ANSWER = ANSWER_DELTAS.join("");

export interface AnswersEnv {
  readonly stack: LocalStack;
  close(): Promise<void>;
}

export async function startAnswersEnv(): Promise<AnswersEnv> {
  const stack = await startReliabilityStack({
    bedrockBehavior: { deltas: ANSWER_DELTAS, deltasPerSecond: 400, firstTokenDelayMs: 0 },
    env: { STREAM_CHECKPOINT_MS: "50", STREAM_JSON_FLUSH_MS: "10" },
  });
  return { stack, close: () => stack.close() };
}

function deltaText(envelopes: readonly Envelope[]): string {
  return envelopes.map((e) => (e.type === "delta" ? e.text : "")).join("");
}

let sequence = 0;

/** `drops` answers each dropped after a random number of envelopes (seeded), then resumed on a new socket. */
export async function resumeAfterDrops(env: AnswersEnv, drops: number, seed: number): Promise<Figure> {
  const random = seededRandom(seed);
  let duringAnswer = 0;
  for (let i = 0; i < drops; i++) {
    const sessionId = `resume-${++sequence}`;
    const requestId = `r-${sequence}`;
    const first = await connect(env.stack, sessionId);
    const dropAfter = 1 + Math.floor(random() * 30);
    await first.ask(requestId, "A long answer, please.");
    await first.until(() => first.of(requestId).length >= dropAfter || first.terminal(requestId) !== undefined, `${dropAfter} envelopes`);
    const all = first.of(requestId);
    const terminal = all.findIndex((e) => e.type === "end" || e.type === "error");
    const seen = all.slice(0, terminal < 0 ? dropAfter : Math.min(dropAfter, terminal));
    if (terminal < 0) duringAnswer++;
    await first.terminate();
    const afterSeq = seen[seen.length - 1].seq;

    const second = await connect(env.stack, sessionId);
    await second.send(JSON.stringify({ action: "resume", requestId, afterSeq }));
    await second.settled(requestId);
    const rest = second.of(requestId);
    await second.close();
    expect(rest.every((e) => e.seq > afterSeq), `drop ${i}: nothing at or before afterSeq again`).to.equal(true);
    expect(deltaText(seen) + deltaText(rest), `drop ${i}: seen + resumed = the answer`).to.equal(ANSWER);
    expect(rest[rest.length - 1]?.type, `drop ${i}: ends`).to.equal("end");
  }
  return {
    section: "Answers",
    check: "Resume after a dropped connection",
    tried: `${drops} json answers, each socket dropped after a random number of envelopes (seed ${seed}; ${duringAnswer} while the answer streamed, the rest after it ended), then resumed on a new socket with the last seq seen`,
    result: `every answer whole: seen + resumed = the generated text, ${drops}/${drops}; nothing lost, nothing repeated, no second start`,
  };
}

/**
 * The attack's `connectionTtlSeconds: 60`: the config now refuses it, and a principal's claim
 * outlives its connections, so no one takes an owner's session over while it may still ask.
 */
export async function connectionLifetime(env: AnswersEnv): Promise<Figure> {
  const attack: Record<string, string> = { connectionTtlSeconds: "60" };
  expect(() => parseStackConfig((key) => attack[key])).to.throw(/7200/);
  const client = DynamoDBDocumentClient.from(env.stack.dynamo.client);
  let now = Date.now();
  const store = new DynamoConnectionsStore({ tableName: env.stack.dynamo.connectionsTable, ttlSeconds: 7200, client, now: () => now });
  const sessionId = `lifetime-${++sequence}`;
  const owner = "iam:arn:aws:iam::000000000000:user/owner";
  const other = "iam:arn:aws:iam::000000000000:user/other";
  await store.register({ sessionId, connectionId: "owner=", principal: owner, format: "json" });
  // Past API Gateway's 2 h limit the socket is gone for sure; the claim is not.
  now += (7200 + 1) * 1000;
  expect((await store.listSession(sessionId)).connections, "the connection has expired").to.deep.equal([]);
  await store.register({ sessionId, connectionId: "other=", principal: other, format: "json" });
  const contested = await store.listSession(sessionId);
  expect(contested.contested, "a newcomer contests the session instead of taking it over").to.equal(true);
  now += CLAIM_GRACE_SECONDS * 1000;
  const after = await store.listSession(sessionId);
  expect(after.claimants, "the owner's claim ends after its grace").to.deep.equal([other]);
  return {
    section: "Answers",
    check: "Connection lifetime (connectionTtlSeconds: 60)",
    tried: "the attack's connectionTtlSeconds 60; a connection 2 h + 1 s old; another principal connecting then; the owner's claim after its grace",
    result: `60 refused (at least 7200, API Gateway's connection limit); an expired connection no longer listed, its owner's claim kept ${CLAIM_GRACE_SECONDS / 3600} h more: the newcomer contests the session (no takeover, no 403 for the owner), and holds it alone once the claim ends`,
  };
}

/** `counts` concurrent asks in one session, each appending a turn (the attack: 5 asks left 1 turn). */
export async function memoryRace(env: AnswersEnv, counts: readonly number[]): Promise<Figure> {
  const client = DynamoDBDocumentClient.from(env.stack.dynamo.client);
  const memory = new DynamoMemory({ tableName: env.stack.dynamo.memoryTable, ttlSeconds: 3600, client });
  const landed: string[] = [];
  for (const count of counts) {
    const sessionId = `race-${count}-${++sequence}`;
    const limits = { turns: count, ...DEFAULT_MEMORY_LIMITS };
    await Promise.all(Array.from({ length: count }, (_, i) => memory.append(sessionId, "iam:racer", { question: `q${i}`, answer: `a${i}` }, limits)));
    const turns = (await memory.load(sessionId, "iam:racer")).turns;
    expect(turns.map((t) => t.question).sort(), `${count} concurrent asks`).to.deep.equal(Array.from({ length: count }, (_, i) => `q${i}`).sort());
    landed.push(`${turns.length}/${count}`);
  }
  return {
    section: "Answers",
    check: "Concurrent asks in one session (memory)",
    tried: `${counts.join(" and ")} asks of one session appending their turns at once`,
    result: `turns kept: ${landed.join(", ")} (each append conditional on the item's version, retried)`,
  };
}

/**
 * Issue 21, finding 4: 300 tiny `resume` frames of one ended answer made the server replay
 * 78.7 MB to one socket. Now each connection has RESUMES_PER_CONNECTION resumes and each answer
 * MAX_REPLAYS_PER_ANSWER replays (docs/protocol.md, "Resuming an answer").
 */
export async function resumeFlood(env: AnswersEnv, frames: number): Promise<Figure> {
  const sessionId = `flood-${++sequence}`;
  const requestId = `r-${sequence}`;
  const asker = await connect(env.stack, sessionId);
  await asker.ask(requestId, "A long answer, please.");
  await asker.settled(requestId);
  const answerBytes = asker.messages.reduce((sum, m) => sum + Buffer.byteLength(m.text), 0);
  await asker.close();

  const flooder = await connect(env.stack, sessionId);
  await Promise.all(Array.from({ length: frames }, () => flooder.send(JSON.stringify({ action: "resume", requestId, afterSeq: 0 }))));
  const refusals = () => flooder.of(requestId).filter((e) => e.type === "error");
  const ends = () => flooder.of(requestId).filter((e) => e.type === "end");
  // Every frame is one route invocation: on a loaded machine 300 of them take a while.
  await flooder.until(() => refusals().length + ends().length >= frames, `${frames} replies to ${frames} resumes`, 60_000 + frames * 200);
  const replayed = ends().length;
  const byCode: Record<string, number> = {};
  for (const e of refusals()) byCode[(e as { message: string }).message] = (byCode[(e as { message: string }).message] ?? 0) + 1;
  const received = flooder.messages.reduce((sum, m) => sum + Buffer.byteLength(m.text), 0);
  expect(replayed, "replays of the ended answer").to.equal(Math.min(frames, MAX_REPLAYS_PER_ANSWER));
  expect(refusals().every((e) => (e as { code: string }).code === "busy"), "every other resume refused as busy").to.equal(true);
  expect(byCode[LEDGER_MESSAGES.resumesUsed], "refused: the connection's resumes used").to.equal(Math.max(0, frames - RESUMES_PER_CONNECTION));
  // Another connection of the same caller gets no more replays of that answer.
  const second = await connect(env.stack, sessionId);
  await second.send(JSON.stringify({ action: "resume", requestId, afterSeq: 0 }));
  const refusal = await second.settled(requestId);
  expect(refusal, "the answer's replays are used on every connection").to.deep.include({ type: "error", code: "busy" });
  await Promise.all([flooder.close(), second.close()]);
  return {
    section: "Answers",
    check: "A flood of `resume` frames",
    tried: `${frames} resume frames of one ended answer (${(answerBytes / 1024).toFixed(1)} KB) on one socket, then one more on another socket`,
    result: `${replayed} replays (the answer's ${MAX_REPLAYS_PER_ANSWER}), ${frames - replayed} refused busy; ${(received / 1024).toFixed(1)} KB sent to the flooding socket (bound: ${MAX_REPLAYS_PER_ANSWER} × the answer + one refusal per frame); the second socket refused`,
  };
}

/** The same requestId asked twice on one socket while the first is in flight. */
export async function duplicateRequestId(env: AnswersEnv, pairs: number): Promise<Figure> {
  let refused = 0;
  for (let i = 0; i < pairs; i++) {
    const client = await connect(env.stack, `duplicate-${++sequence}`);
    const requestId = `same-${sequence}`;
    // A slow first answer: the second ask certainly arrives while it is in flight.
    env.stack.bedrock!.enqueue({ deltasPerSecond: 20, deltas: ANSWER_DELTAS.slice(0, 8) });
    await client.ask(requestId, "First.");
    await client.ask(requestId, "Second, same id.");
    const refusalOf = () => client.envelopes().find((e) => (e as { refusedRequestId?: string }).refusedRequestId === requestId);
    await client.until(() => refusalOf() !== undefined && client.of(requestId).some((e) => e.type === "end"), "the answer and the refusal");
    // Issue 21, finding 8: the refusal names the id only as refusedRequestId, with no requestId
    // and no seq, so a client that routes or de-duplicates by requestId/seq keeps the live answer.
    expect(refusalOf(), "the second ask is refused, outside the answer").to.deep.equal({
      v: 1,
      type: "error",
      refusedRequestId: requestId,
      code: "bad_request",
      message: `requestId ${requestId} is already being answered on this connection; use a new requestId.`,
      retryable: false,
    });
    const answer = client.of(requestId);
    expect(answer.filter((e) => e.type === "error"), "no error in the answer").to.deep.equal([]);
    expect(answer.map((e) => e.seq), "one answer's seq, strictly increasing").to.deep.equal(journalPositions(answer));
    expect(answer.filter((e) => e.type === "start"), "one start").to.have.length(1);
    expect(deltaText(answer), "the first answer, whole").to.equal(ANSWER_DELTAS.slice(0, 8).join(""));
    refused++;
    await client.close();
  }
  return {
    section: "Answers",
    check: "A requestId reused while in flight",
    tried: `${pairs} sockets, each asking twice with one requestId before the first answer ended`,
    result: `the second ask refused with bad_request ${refused}/${pairs}, as an envelope with refusedRequestId and no requestId or seq; the first answer's seq strictly increasing, one start, no error`,
  };
}
