/**
 * Feedback over the wire (issue 24, item 3): the local stack's real handlers against dynalite
 * and the Bedrock emulator, with feedback kept as `npm start -- --feedback-ttl-days 7` keeps it
 * (FEEDBACK_TTL_DAYS). An answer leaves a record (question, answer, model, sources) keyed by
 * its asker; the asker rates it over the WebSocket and over `POST /feedback`, and anyone else,
 * or any requestId that did not answer them, is refused.
 */
import { expect } from "chai";
import { PassThrough } from "node:stream";
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { main } from "../../client/cli";
import { EXIT } from "../../client/exit-codes";
import { FEEDBACK_MESSAGES } from "../../functions/fulfillment/feedback";
import { feedbackItemKey } from "../../functions/fulfillment/feedback-store";
import { MAX_FEEDBACK_COMMENT_CHARS } from "../../functions/shared/feedback";
import { localCognitoIdentity, type LocalCredential } from "../../local/gateway";
import { DEFAULT_LOCAL_MODEL_ID, startLocalStack, type LocalStack } from "../../local/stack";
import { parseStartArgs, USAGE, UsageError } from "../../local/start";
import { connect, FAST, last, postAsk, postFunctionUrl, postSignedJson, QUIET_ENV, type StackSocket } from "./stack-helpers";

const TTL_DAYS = 7;

/** A signed `POST` to the streaming function URL (service lambda) answered with JSON, as the CLI's --http sends one. */
async function functionUrlPost(stack: LocalStack, body: unknown, credential: LocalCredential): Promise<{ status: number; body: Record<string, unknown> }> {
  const { status, body: text } = await postFunctionUrl(stack, body, "application/json", credential);
  return { status, body: JSON.parse(text) as Record<string, unknown> };
}

/** `POST /feedback` signed with SigV4 (service execute-api) as `credential`, as an IAM caller's SDK would. */
function postFeedback(stack: LocalStack, body: unknown, credential: LocalCredential): Promise<{ status: number; body: Record<string, unknown> }> {
  return postSignedJson(stack, stack.feedbackUrl, body, credential);
}


/** The next feedback reply (ack or refusal) naming `requestId`, after the `skip` first ones. */
function feedbackReply(socket: StackSocket, requestId: string, skip = 0): Promise<Record<string, unknown>> {
  return socket.until((messages) => {
    const replies = messages
      .map((m) => JSON.parse(m.text) as Record<string, unknown>)
      .filter((frame) => (frame.type === "feedback" && frame.requestId === requestId) || frame.feedbackRequestId === requestId);
    return replies[skip];
  });
}

describe("npm start: feedback flag", () => {
  it("reads --feedback-ttl-days; keeps no feedback by default or with 0; refuses what is not a whole number of days", () => {
    expect(parseStartArgs([]).feedbackTtlDays).to.equal(undefined);
    expect(parseStartArgs(["--feedback-ttl-days", "0"]).feedbackTtlDays).to.equal(undefined);
    expect(parseStartArgs(["--feedback-ttl-days", "30"]).feedbackTtlDays).to.equal(30);
    expect(USAGE).to.include("--feedback-ttl-days");
    expect(() => parseStartArgs(["--feedback-ttl-days", "1.5"])).to.throw(UsageError, /^--feedback-ttl-days must be a whole number of days from 0 to 3650/);
    expect(() => parseStartArgs(["--feedback-ttl-days", "3651"])).to.throw(UsageError, /^--feedback-ttl-days must be a whole number/);
  });
});

describe("local stack: feedback on answers", () => {
  let stack: LocalStack;
  let table: DynamoDBDocumentClient;
  const asker = localCognitoIdentity({ allow: { connect: true, manageConnections: false } });
  const askerPrincipal = `cognito:${asker.identity.cognitoIdentityId}`;
  const other = localCognitoIdentity({ allow: { connect: true, manageConnections: false } });

  const record = async (sessionId: string, requestId: string, principal: string) =>
    (await table.send(new GetCommand({ TableName: stack.dynamo.connectionsTable, Key: { sessionId: feedbackItemKey({ sessionId, requestId, principal }) }, ConsistentRead: true }))).Item;

  before(async () => {
    stack = await startLocalStack({
      credentials: [asker, other],
      bedrockBehavior: FAST,
      ...parseStartArgs(["--feedback-ttl-days", String(TTL_DAYS)]),
      // The page's chat server signs for `qnabot-stream chat --local`.
      ports: undefined,
      env: QUIET_ENV,
    });
    table = DynamoDBDocumentClient.from(stack.dynamo.client);
  });
  after(() => stack?.close());

  it("accepts the asker's rating over the WebSocket and stores it with the question, answer and model; a second rating replaces the first", async () => {
    const socket = await connect(stack, "fb-ws", { format: "json", credential: asker });
    try {
      socket.ask("fb-1", "Is feedback kept?");
      const end = last(await socket.answer("fb-1"), "end");
      // Rated the moment its end arrives: the record is written before `end` is sent.
      socket.send({ action: "feedback", requestId: "fb-1", rating: "up", comment: "  Clear and short.  " });
      expect(await feedbackReply(socket, "fb-1")).to.deep.equal({ v: 1, type: "feedback", requestId: "fb-1", rating: "up", replaced: false });
      const item = await record("fb-ws", "fb-1", askerPrincipal);
      expect(item).to.include({
        principal: askerPrincipal,
        answerSessionId: "fb-ws",
        requestId: "fb-1",
        question: "Is feedback kept?",
        answer: end.final,
        model: DEFAULT_LOCAL_MODEL_ID,
        mode: "llm",
        stopReason: "end_turn",
        rating: "up",
        comment: "Clear and short.",
      });
      expect(item!.sources).to.deep.equal([]);
      expect(item!.ttl).to.be.within(Date.now() / 1000 + TTL_DAYS * 86_400 - 60, Date.now() / 1000 + TTL_DAYS * 86_400 + 1);

      socket.send({ action: "feedback", requestId: "fb-1", rating: "down" });
      expect(await feedbackReply(socket, "fb-1", 1)).to.include({ type: "feedback", rating: "down", replaced: true });
      const replaced = await record("fb-ws", "fb-1", askerPrincipal);
      expect(replaced).to.include({ rating: "down", ratings: 2 });
      expect(replaced).to.not.have.property("comment");
    } finally {
      await socket.close();
    }
  });

  it("accepts the asker's rating over POST /feedback, for an answer with sources", async () => {
    const asked = await postAsk(stack, { question: "How does the knowledge base cite its sources?", sessionId: "fb-http", requestId: "fb-kb", mode: "kb" }, asker);
    expect(asked.status).to.equal(200);
    const response = await postFeedback(stack, { sessionId: "fb-http", requestId: "fb-kb", rating: "up" }, asker);
    expect(response).to.deep.equal({ status: 200, body: { requestId: "fb-kb", rating: "up", replaced: false } });
    const item = await record("fb-http", "fb-kb", askerPrincipal);
    const cited = (asked.body.citations as { sources: { uri: string }[] }[]).flatMap((c) => c.sources.map((s) => s.uri));
    expect(cited).to.not.be.empty;
    expect((item!.sources as { uri: string }[]).map((s) => s.uri)).to.deep.equal([...new Set(cited)]);
    expect(item).to.include({ rating: "up", mode: "kb", answer: asked.body.answer });
  });

  it("accepts the asker's rating as a signed feedback action to the streaming function URL, and refuses anyone else's", async () => {
    const asked = await functionUrlPost(stack, { question: "Rated over the function URL?", sessionId: "fb-url", requestId: "fb-url-1" }, asker);
    expect(asked.status).to.equal(200);
    const rating = { action: "feedback", sessionId: "fb-url", requestId: "fb-url-1", rating: "down", comment: "Too long." };
    expect(await functionUrlPost(stack, rating, other)).to.deep.include({ status: 404 });
    expect(await functionUrlPost(stack, rating, asker)).to.deep.equal({ status: 200, body: { requestId: "fb-url-1", rating: "down", replaced: false } });
    expect(await record("fb-url", "fb-url-1", askerPrincipal)).to.include({ rating: "down", comment: "Too long.", question: "Rated over the function URL?" });
  });

  it("refuses the same requestIds from a second principal, on both doors, and leaves the ratings as they were", async () => {
    const socket = await connect(stack, "fb-ws-other", { format: "json", credential: other });
    try {
      socket.send({ action: "feedback", requestId: "fb-1", rating: "up" });
      expect(await feedbackReply(socket, "fb-1")).to.deep.equal({
        v: 1,
        type: "error",
        feedbackRequestId: "fb-1",
        code: "not_found",
        message: FEEDBACK_MESSAGES.unknown,
        retryable: false,
      });
    } finally {
      await socket.close();
    }
    // The asker's own session id, signed by someone else.
    const response = await postFeedback(stack, { sessionId: "fb-http", requestId: "fb-kb", rating: "down" }, other);
    expect(response.status).to.equal(404);
    expect(response.body.error).to.deep.equal({ code: "not_found", message: FEEDBACK_MESSAGES.unknown, retryable: false });
    expect(await record("fb-http", "fb-kb", askerPrincipal)).to.include({ rating: "up" });
    expect(await record("fb-ws", "fb-1", askerPrincipal)).to.include({ rating: "down" });
  });

  it("refuses an answer still being generated; once it has ended, the same rating is accepted", async () => {
    stack.bedrock!.enqueue({ operation: "ConverseStream", firstTokenDelayMs: 0, deltasPerSecond: 20, deltas: Array.from({ length: 40 }, (_, i) => `w${i} `) });
    const socket = await connect(stack, "fb-ws-flight", { format: "json", credential: asker });
    try {
      socket.ask("fb-flight", "A slow answer, please.");
      await socket.until((messages) => (socket.envelopes("fb-flight", messages).some((e) => e.type === "delta") ? true : undefined));
      socket.send({ action: "feedback", requestId: "fb-flight", rating: "up" });
      expect(await feedbackReply(socket, "fb-flight")).to.include({ type: "error", code: "not_found" });
      last(await socket.answer("fb-flight"), "end");
      socket.send({ action: "feedback", requestId: "fb-flight", rating: "up" });
      expect(await feedbackReply(socket, "fb-flight", 1)).to.include({ type: "feedback", replaced: false });
    } finally {
      await socket.close();
    }
  });

  it("refuses an unknown requestId, a bad rating and a comment over the limit", async () => {
    const socket = await connect(stack, "fb-ws-bad", { format: "json", credential: asker });
    try {
      socket.send({ action: "feedback", requestId: "never-asked", rating: "up" });
      expect(await feedbackReply(socket, "never-asked")).to.include({ type: "error", code: "not_found" });
      socket.send({ action: "feedback", requestId: "bad-rating", rating: "meh" });
      expect(await feedbackReply(socket, "bad-rating")).to.include({ type: "error", code: "bad_request", message: "rating must be one of: up, down" });
    } finally {
      await socket.close();
    }
    // Unsigned, like any HTTP API route with AWS_IAM auth: refused before the function runs.
    const unsigned = await fetch(stack.feedbackUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sessionId: "fb-http", requestId: "fb-kb", rating: "down" }) });
    expect(unsigned.status).to.equal(403);
    const unknown = await postFeedback(stack, { sessionId: "fb-http", requestId: "never-asked", rating: "up" }, asker);
    expect(unknown.status).to.equal(404);
    const long = await postFeedback(stack, { sessionId: "fb-http", requestId: "fb-kb", rating: "up", comment: "x".repeat(MAX_FEEDBACK_COMMENT_CHARS + 1) }, asker);
    expect(long.status).to.equal(400);
    expect(long.body.error).to.include({ code: "bad_request", message: `comment is longer than ${MAX_FEEDBACK_COMMENT_CHARS} characters` });
  });

  it("qnabot-stream chat: /good and /bad rate the last answer, with a comment; before any answer there is nothing to rate", async () => {
    const lines = ["/good", "Is the CLI's feedback kept?", "/good", "/bad the second thought counts", "/quit"];
    let stderr = "";
    const stdout = { write: (_text: string) => true };
    const code = await main(["chat", "--local", stack.pageUrl!], { stdout, stderr: { write: (text: string) => ((stderr += text), true) }, stdin: PassThrough.from(lines.map((l) => `${l}\n`)), env: {} });
    expect(code).to.equal(EXIT.ok);
    expect(stderr).to.include("no answer to rate yet: ask a question first\n");
    expect(stderr).to.include("feedback recorded: good\n");
    expect(stderr).to.include("feedback recorded: bad (replaces your earlier rating of this answer)\n");
    const { Items } = await table.send(new ScanCommand({ TableName: stack.dynamo.connectionsTable, ConsistentRead: true }));
    const rated = (Items ?? []).filter((item) => item.question === "Is the CLI's feedback kept?");
    expect(rated).to.have.length(1);
    expect(rated[0]).to.include({ rating: "down", comment: "the second thought counts", ratings: 2 });
  });
});
