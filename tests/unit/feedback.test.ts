/**
 * Feedback (issue 24, item 3) without the stack: what a client may send, when the engine leaves
 * a record (only at an answer's end, only for a known asker, before `end` goes out), and the
 * store's keys and expiry against dynalite.
 */
import { expect } from "chai";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { answer, type AnswerRequest } from "../../functions/fulfillment/engine";
import { FEEDBACK_MESSAGES, feedbackRoute, httpFeedback, meterFeedback } from "../../functions/fulfillment/feedback";
import { DynamoFeedbackStore, feedbackItemKey, MAX_RECORDED_ANSWER_CHARS, sourcesOf, type AnswerRecord, type FeedbackKey, type FeedbackStore } from "../../functions/fulfillment/feedback-store";
import type { Generator } from "../../functions/fulfillment/generate";
import { MAX_FEEDBACK_COMMENT_CHARS, parseFeedbackMessage, parseHttpFeedback } from "../../functions/shared/feedback";
import { ProtocolError } from "../../functions/shared/protocol";
import { ManualClock, quietLogs, recordingOpener, type RecordedStream } from "./fulfillment-fakes";
import { useLocalDynamo } from "./local-dynamo";
import { FakeTransport } from "./stream-fakes";

class RecordingStore implements FeedbackStore {
  readonly records: AnswerRecord[] = [];
  /** What the stream had ended when each record was written. */
  readonly endedBefore: boolean[] = [];
  constructor(private readonly streams?: RecordedStream[]) {}
  async recordAnswer(record: AnswerRecord): Promise<void> {
    this.records.push(record);
    this.endedBefore.push(this.streams?.some((s) => s.ended !== undefined) ?? false);
  }
  async rate(): Promise<{ state: "unknown" }> {
    return { state: "unknown" };
  }
}

const citation = { text: "cited", sources: [{ uri: "s3://docs/a.pdf", title: "A" }, { uri: "s3://docs/a.pdf" }, { uri: "https://example.com/b" }] };

function generator(fail = false): Generator {
  return {
    streamsItself: false,
    async generate(_request, sink) {
      sink.delta("An answer.");
      if (fail) throw new Error("boom");
      return { text: "An answer.", stopReason: "end_turn", citations: [citation], usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 } };
    },
  };
}

const ask: AnswerRequest = { question: "Why?", sessionId: "s-1", principal: "cognito:us-east-1:x", mode: "llm", requestId: "r-1" };

describe("feedback: what a client may send", () => {
  it("takes up or down with an optional comment, trimmed, of at most MAX_FEEDBACK_COMMENT_CHARS", () => {
    expect(parseFeedbackMessage(JSON.stringify({ action: "feedback", requestId: "r-1", rating: "up" }))).to.deep.equal({ action: "feedback", requestId: "r-1", rating: "up" });
    expect(parseFeedbackMessage(JSON.stringify({ action: "feedback", requestId: "r-1", rating: "down", comment: "  wrong  " }))).to.deep.include({ comment: "wrong" });
    expect(parseFeedbackMessage(JSON.stringify({ action: "feedback", requestId: "r-1", rating: "down", comment: "   " }))).to.not.have.property("comment");
    expect(parseHttpFeedback({ sessionId: "s-1", requestId: "r-1", rating: "up" })).to.deep.equal({ sessionId: "s-1", requestId: "r-1", rating: "up" });
    const refused = (body: Record<string, unknown>) => () => parseHttpFeedback({ sessionId: "s-1", requestId: "r-1", ...body });
    expect(refused({ rating: "5" })).to.throw(ProtocolError, "rating must be one of: up, down");
    expect(refused({ rating: "up", comment: 7 })).to.throw(ProtocolError, "comment must be a string");
    expect(refused({ rating: "up", comment: "x".repeat(MAX_FEEDBACK_COMMENT_CHARS + 1) })).to.throw(ProtocolError, "comment is longer than");
    expect(refused({ rating: "up", requestId: "bad id" })).to.throw(ProtocolError, "requestId is required");
    expect(() => parseHttpFeedback({ requestId: "r-1", rating: "up" })).to.throw(ProtocolError, "sessionId is required");
  });

  it("refuses every rating with a clear message when the stack keeps no feedback", async () => {
    const result = await httpFeedback({ id: "iam:arn:aws:iam::1:user/u", kind: "iam" }, { sessionId: "s-1", requestId: "r-1", rating: "up" }, {});
    expect(result.statusCode).to.equal(400);
    expect(JSON.parse(result.body).error).to.deep.equal({ code: "bad_request", message: FEEDBACK_MESSAGES.off, retryable: false });
  });

  it("answers POST /feedback with 403 for a session bound to another identity, and 503 (retryable) when the table cannot be reached", async () => {
    const guest = { id: "cognito:us-east-1:11111111-2222-3333-4444-555555555555", kind: "cognito" as const, cognitoIdentityId: "us-east-1:11111111-2222-3333-4444-555555555555" };
    const failing: FeedbackStore = {
      recordAnswer: async () => undefined,
      rate: async () => {
        throw Object.assign(new Error("timeout"), { name: "TimeoutError" });
      },
    };
    const otherSession = await httpFeedback(guest, { sessionId: "us-east-1:99999999-2222-3333-4444-555555555555", requestId: "r-1", rating: "up" }, { feedback: failing });
    expect(otherSession.statusCode).to.equal(403);
    expect(JSON.parse(otherSession.body).error.code).to.equal("forbidden");
    const down = await httpFeedback(guest, { sessionId: "s-1", requestId: "r-1", rating: "up" }, { feedback: failing });
    expect(down.statusCode).to.equal(503);
    expect(JSON.parse(down.body).error).to.deep.equal({ code: "internal", message: FEEDBACK_MESSAGES.unavailable, retryable: true });
  });

  it("tells a format=text connection a refusal's message as text, and posts it no ack", async () => {
    const transport = new FakeTransport();
    const accepting: FeedbackStore = { recordAnswer: async () => undefined, rate: async () => ({ state: "accepted", replaced: false }) };
    const row = { sessionId: "s-1", connectionId: "c-1", principal: "cognito:a", format: "text" as const, connectedAt: 0, ttl: 0 };
    const metrics = { addDimension: () => undefined, addMetric: () => undefined, publishStoredMetrics: () => undefined };
    const body = JSON.stringify({ action: "feedback", requestId: "r-1", rating: "up" });
    expect((await feedbackRoute(row, body, { feedback: accepting, metrics }, transport)).statusCode).to.equal(200);
    expect((await feedbackRoute(row, body, { metrics }, transport)).statusCode).to.equal(400);
    expect(transport.accepted.get("c-1")).to.deep.equal([FEEDBACK_MESSAGES.off]);
  });

  it("counts a rating as FeedbackUp or FeedbackDown", () => {
    const added: string[] = [];
    const sink = { addDimension: () => undefined, addMetric: (name: string) => void added.push(name), publishStoredMetrics: () => undefined };
    meterFeedback("up", sink);
    meterFeedback("down", sink);
    expect(added).to.deep.equal(["FeedbackUp", "FeedbackDown"]);
  });
});

describe("feedback: the record an answer leaves", () => {
  quietLogs();

  it("is written once the answer is generated and before its end is streamed, with question, final answer, model and distinct sources", async () => {
    const { opener, streams } = recordingOpener();
    const store = new RecordingStore(streams);
    await answer(ask, { generators: { llm: generator() }, stallMs: 20_000, clock: new ManualClock(), openStream: opener, models: { llm: "m-1" }, feedback: store });
    expect(store.records).to.have.length(1);
    expect(store.endedBefore).to.deep.equal([false]);
    expect(store.records[0]).to.deep.include({ sessionId: "s-1", principal: ask.principal, requestId: "r-1", question: "Why?", mode: "llm", model: "m-1", stopReason: "end_turn" });
    expect(store.records[0].answer).to.equal(streams[0].ended!.final);
    expect(store.records[0].sources).to.deep.equal([{ uri: "s3://docs/a.pdf", title: "A" }, { uri: "https://example.com/b" }]);
  });

  it("is not written for an answer that failed, nor for one without a known asker (the Lex door)", async () => {
    const store = new RecordingStore();
    await answer(ask, { generators: { llm: generator(true) }, stallMs: 20_000, clock: new ManualClock(), feedback: store });
    await answer({ ...ask, principal: undefined }, { generators: { llm: generator() }, stallMs: 20_000, clock: new ManualClock(), feedback: store });
    expect(store.records).to.deep.equal([]);
  });

  it("keeps at most MAX_RECORDED_SOURCES distinct sources", () => {
    const many = [{ text: "t", sources: Array.from({ length: 80 }, (_, i) => ({ uri: `https://e.com/${i}` })) }];
    expect(sourcesOf(many)).to.have.length(50);
  });
});

describe("feedback: DynamoFeedbackStore", () => {
  const dynamo = useLocalDynamo();
  let now = Date.UTC(2026, 11, 7, 12);
  const store = () => new DynamoFeedbackStore({ tableName: dynamo.local.connectionsTable, ttlDays: 2, client: dynamo.client, now: () => now });
  const key: FeedbackKey = { sessionId: "s-1", principal: "cognito:a", requestId: "r-1" };
  const record: AnswerRecord = { ...key, question: "Q", answer: "A".repeat(MAX_RECORDED_ANSWER_CHARS + 10), mode: "llm", sources: [], stopReason: "end_turn" };

  it("rates only a recorded answer of the same principal, session and requestId, until its TTL passes", async () => {
    expect(await store().rate(key, { requestId: "r-1", rating: "up" })).to.deep.equal({ state: "unknown" });
    await store().recordAnswer(record);
    expect(await store().rate({ ...key, principal: "cognito:b" }, { requestId: "r-1", rating: "up" })).to.deep.equal({ state: "unknown" });
    expect(await store().rate({ ...key, sessionId: "s-2" }, { requestId: "r-1", rating: "up" })).to.deep.equal({ state: "unknown" });
    expect(await store().rate(key, { requestId: "r-1", rating: "up", comment: "ok" })).to.deep.equal({ state: "accepted", replaced: false });
    expect(await store().rate(key, { requestId: "r-1", rating: "down" })).to.deep.equal({ state: "accepted", replaced: true });
    // Each rating keeps the record ttlDays more; past that it is gone, even before DynamoDB deletes it.
    now += 2 * 86_400_000 + 1000;
    expect(await store().rate(key, { requestId: "r-1", rating: "up" })).to.deep.equal({ state: "unknown" });
  });

  it("keeps a long answer cut to MAX_RECORDED_ANSWER_CHARS, marked answerTruncated", async () => {
    await store().recordAnswer({ ...record, requestId: "r-long" });
    const item = (await dynamo.client.send(new GetCommand({ TableName: dynamo.local.connectionsTable, Key: { sessionId: feedbackItemKey({ ...key, requestId: "r-long" }) } }))).Item!;
    expect((item.answer as string).length).to.equal(MAX_RECORDED_ANSWER_CHARS);
    expect(item.answerTruncated).to.equal(true);
  });
});
