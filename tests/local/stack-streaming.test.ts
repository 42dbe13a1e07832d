/**
 * The whole local stack over the wire: real `ws` clients on presigned URLs, the real
 * connection and fulfillment handlers with their real AWS SDK v3 clients against the gateway,
 * dynalite and the Bedrock emulator. Bedrock's text is scripted, so every streamed byte can be
 * compared with what the model sent.
 */
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import type { Envelope } from "../../functions/shared/protocol";
import { MESSAGES } from "../../functions/fulfillment/errors";
import { formatAnswer } from "../../functions/fulfillment/format";
import { DOCUMENTS_URI_PREFIX } from "../../local/bedrock";
import { localCognitoIdentity } from "../../local/gateway";
import { startLocalStack, type LocalStack } from "../../local/stack";
import {
  FAST,
  QUIET_ENV,
  connect,
  deltaText,
  last,
  lexV2Event,
  postAsk,
  sessionItem,
  settleDisconnects,
  type LexResponse,
} from "./stack-helpers";
import { LexWebUiClient } from "./lex-web-ui-client";

/** Multi-byte text the way models emit it, plus an emoji whose surrogate halves arrive in separate deltas. */
const MULTI_BYTE_DELTAS = [
  "Streaming ",
  "answers ",
  "arrive ",
  "as ",
  "generated: ",
  "naïve ",
  "café, ",
  "日本語の",
  "テキスト, ",
  "emoji 🚀 ",
  "\ud83d",
  "\ude00 ",
  "and 👩‍👩‍👧 families. ",
];

function isWellFormed(text: string): boolean {
  return Buffer.from(text, "utf8").toString("utf8") === text;
}

function expectStrictlyIncreasingSeq(envelopes: readonly Envelope[]): void {
  const seqs = envelopes.map((e) => e.seq);
  for (let i = 1; i < seqs.length; i++) expect(seqs[i], `seq after ${seqs[i - 1]}`).to.be.greaterThan(seqs[i - 1]);
}

describe("local stack: answers streamed over the wire", function () {
  let stack: LocalStack;
  before(async function () {
    stack = await startLocalStack({ page: false, bedrockBehavior: FAST, env: QUIET_ENV });
  });

  after(async function () {
    await stack?.close();
  });

  afterEach(async function () {
    stack.bedrock!.setBehavior({});
    await stack.idle();
  });

  it("connects with a presigned URL, pings at no handler's cost, and streams an ask as start, deltas, end (format=json)", async function () {
    const socket = await connect(stack, "session-json", { format: "json" });
    const before = stack.gateway.stats();
    socket.send({ action: "ping" });
    expect(await socket.barrier(), "the ping is answered by nothing").to.deep.equal([]);
    const afterPing = stack.gateway.stats();
    expect(afterPing.messagesIn - before.messagesIn).to.equal(2);
    // Only the barrier's frame reached a handler ($default): the ping route has none.
    expect(afterPing.invocations).not.to.have.property("ping");
    expect((afterPing.invocations.$default ?? 0) - (before.invocations.$default ?? 0)).to.equal(1);

    // Paced, so each delta tends to leave in a frame of its own, the split surrogate pair included.
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas: MULTI_BYTE_DELTAS, deltasPerSecond: 25 });
    const firstRequest = stack.bedrock!.requests.length;
    socket.ask("ask-json", "How does streaming work?");
    const envelopes = await socket.answer("ask-json");

    expect(envelopes[0].type).to.equal("start");
    expect(envelopes.slice(1, -1).map((e) => e.type)).to.satisfy((types: string[]) => types.length > 0 && types.every((t) => t === "delta"));
    expectStrictlyIncreasingSeq(envelopes);
    const generated = deltaText(envelopes);
    // Nothing lost, duplicated or reordered, and no frame carries half a surrogate pair.
    expect(generated).to.equal(MULTI_BYTE_DELTAS.join(""));
    for (const e of envelopes) if (e.type === "delta") expect(isWellFormed(e.text), JSON.stringify(e.text)).to.equal(true);

    const request = stack.bedrock!.requests[firstRequest];
    expect(request.operation).to.equal("ConverseStream");
    expect(await request.settled).to.equal("completed");
    expect(request.deltasSent).to.equal(MULTI_BYTE_DELTAS.length);
    expect(request.modelId).to.equal(process.env.LLM_MODEL_ID);

    // `final` is the formatted answer: the generated text, trimmed, with the sources (none here).
    const end = last(envelopes, "end");
    expect(end.final).to.equal(formatAnswer(generated, []).markdown);
    expect(end.final).to.equal(generated.trim());
    expect(end.stopReason).to.equal("end_turn");
    expect(end.metrics.deltas).to.equal(MULTI_BYTE_DELTAS.length);
    expect(end.metrics.frames).to.equal(envelopes.length);
    expect(end.usage?.outputTokens).to.be.greaterThan(0);
    await socket.close();
  });

  it("streams raw UTF-8 text frames in format=text that concatenate to exactly the generated text, split under 32 KB", async function () {
    // 36 000 bytes of CJK in one delta: more than one frame can carry.
    const deltas = ["Plain ", "text ", "frames: ", "漢字".repeat(6000), " ✓ ", "done 🎉"];
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
    const socket = await connect(stack, "session-text", { format: "text" });
    socket.ask("ask-text", "Stream me some text");
    await socket.until((messages) => messages.length > 0 || undefined);
    await stack.idle();
    const frames = await socket.barrier();

    expect(frames.map((f) => f.text).join("")).to.equal(deltas.join(""));
    expect(frames.length).to.be.greaterThan(2);
    for (const frame of frames) {
      expect(frame.isBinary, "every frame is a text frame (valid UTF-8)").to.equal(false);
      expect(frame.bytes).to.be.at.most(32 * 1024);
    }
    await socket.close();
  });

  it("answers POST /ask (SigV4, IAM caller) as JSON while the caller's open socket of that session receives the stream", async function () {
    const sessionId = "session-http";
    const socket = await connect(stack, sessionId, { format: "json" });

    const deltas = ["The HTTP ", "door ", "streams ", "too. "];
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
    const llm = await postAsk(stack, { question: "Does the HTTP door stream?", sessionId, mode: "llm" });
    expect(llm.status).to.equal(200);
    expect(llm.body).to.include({ streamed: true, stopReason: "end_turn" });
    expect(llm.body.citations).to.deep.equal([]);
    expect(llm.body.usage).to.have.property("outputTokens").that.is.greaterThan(0);
    // The response comes after the stream's end was posted: the socket has it all already.
    await socket.barrier();
    const streamed = socket.envelopes(llm.body.requestId as string);
    expect(streamed[0].type).to.equal("start");
    expect(deltaText(streamed)).to.equal(deltas.join(""));
    expect(last(streamed, "end").final).to.equal(llm.body.answer);
    expect(llm.body.answer).to.equal(formatAnswer(deltas.join(""), []).markdown);

    // Knowledge-base mode: the stand-in model answers from the bundled documents, with citations.
    const kbRequest = stack.bedrock!.requests.length;
    const kb = await postAsk(stack, { question: "How does the knowledge base cite its sources?", sessionId, mode: "kb" });
    expect(kb.status).to.equal(200);
    expect(kb.body.streamed).to.equal(true);
    const citations = kb.body.citations as { text: string; sources: { uri: string }[] }[];
    expect(citations).to.have.length.greaterThan(0);
    for (const citation of citations) {
      expect(citation.sources).to.have.length.greaterThan(0);
      for (const source of citation.sources) expect(source.uri.startsWith(DOCUMENTS_URI_PREFIX), source.uri).to.equal(true);
    }
    expect(stack.bedrock!.requests[kbRequest]).to.include({ operation: "RetrieveAndGenerateStream", knowledgeBaseId: "LOCALKB001" });

    await socket.barrier();
    const kbStream = socket.envelopes(kb.body.requestId as string);
    expectStrictlyIncreasingSeq(kbStream);
    const streamedCitations = kbStream.flatMap((e) => (e.type === "citation" ? e.citations : []));
    expect(streamedCitations).to.deep.equal(citations);
    const end = last(kbStream, "end");
    expect(end.final).to.equal(kb.body.answer);
    expect(end.final).to.equal(formatAnswer(deltaText(kbStream), citations).markdown);
    expect(end.final).to.match(/\*\*Sources\*\*/);
    await socket.close();
  });

  it("streams the whole answer to both tabs of one principal's session", async function () {
    const sessionId = "session-tabs";
    const [tabA, tabB] = [await connect(stack, sessionId, { format: "json" }), await connect(stack, sessionId, { format: "json" })];
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas: MULTI_BYTE_DELTAS });
    tabA.ask("ask-tabs", "Two tabs?");
    const [a, b] = await Promise.all([tabA.answer("ask-tabs"), tabB.answer("ask-tabs")]);
    for (const envelopes of [a, b]) {
      expect(envelopes[0].type).to.equal("start");
      expectStrictlyIncreasingSeq(envelopes);
      expect(deltaText(envelopes)).to.equal(MULTI_BYTE_DELTAS.join(""));
      expect(last(envelopes, "end").final).to.equal(MULTI_BYTE_DELTAS.join("").trim());
    }
    await Promise.all([tabA.close(), tabB.close()]);
  });

  it("drops a tab that disconnects mid-stream at its first 410 Gone and removes it from the session, while the other tab receives everything; no connection remains after both close", async function () {
    const sessionId = "session-gone";
    const disconnectsBefore = stack.gateway.stats().disconnected;
    const leaving = await connect(stack, sessionId, { format: "json" });
    const staying = await connect(stack, sessionId, { format: "json" });
    expect(Object.keys((await sessionItem(stack, sessionId))!.connections), "two connections").to.have.length(2);

    // Slow on purpose: the answer must still be streaming when the first tab leaves.
    const deltas = Array.from({ length: 40 }, (_, i) => `word${i} `);
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas, deltasPerSecond: 40 });
    const gonesBefore = stack.gateway.stats().connectionsApi.errors[410] ?? 0;
    staying.ask("ask-gone", "Who keeps listening?");
    await leaving.until((messages) => messages.some((m) => m.text.includes('"type":"delta"')) || undefined);
    await leaving.close();

    const envelopes = await staying.answer("ask-gone");
    expect(deltaText(envelopes)).to.equal(deltas.join(""));
    expect(last(envelopes, "end").final).to.equal(deltas.join("").trim());
    await settleDisconnects(stack, disconnectsBefore + 1);
    // The writer stopped posting to the gone tab at its first 410.
    expect((stack.gateway.stats().connectionsApi.errors[410] ?? 0) - gonesBefore).to.equal(1);
    expect(Object.keys((await sessionItem(stack, sessionId))!.connections)).to.have.length(1);

    await staying.close();
    await settleDisconnects(stack, disconnectsBefore + 2);
    const item = await sessionItem(stack, sessionId);
    expect(item!.connections).to.deep.equal({});
    expect(item).to.not.have.property("connectionId");
  });

  it("ends a Bedrock mid-stream exception with an error envelope, and gives Lex a clear final message", async function () {
    const sessionId = "session-stream-error";
    const socket = await connect(stack, sessionId, { format: "json" });
    const deltas = ["This ", "answer ", "breaks ", "off ", "here."];
    const script = { operation: "ConverseStream" as const, deltas, streamError: { afterDeltas: 3, type: "modelStreamErrorException" } };

    stack.bedrock!.enqueue(script);
    socket.ask("ask-broken", "Will this break?");
    const envelopes = await socket.answer("ask-broken");
    expect(deltaText(envelopes)).to.equal(deltas.slice(0, 3).join(""));
    expect(last(envelopes, "error")).to.include({ code: "model_error", retryable: true, message: MESSAGES.unavailable });

    // Lex streams only to a session bound to an identity (issue 19): a Cognito identity's own id.
    const identityId = `${stack.region}:${randomUUID()}`;
    const user = localCognitoIdentity({ region: stack.region, identityId });
    stack.credentials.add(user);
    const userSocket = await connect(stack, identityId, { format: "json", credential: user });
    stack.bedrock!.enqueue(script);
    const event = lexV2Event({ sessionId: identityId, question: "Will this break again?" });
    const response = (await stack.invokeFulfillment(event)) as LexResponse;
    expect(response.sessionState.dialogAction.type).to.equal("Close");
    expect(response.messages).to.deep.equal([{ contentType: "PlainText", content: MESSAGES.unavailable }]);
    // The Lex answer's stream told the session's socket too.
    await userSocket.barrier();
    const lexStream = userSocket.envelopes((event.sessionState as { originatingRequestId: string }).originatingRequestId);
    expect(last(lexStream, "error")).to.include({ code: "model_error", retryable: true });
    await Promise.all([socket.close(), userSocket.close()]);
  });

  it("turns Bedrock throttling into a retryable `throttled` error envelope, and gives Lex a clear final message", async function () {
    const sessionId = "session-throttled";
    const socket = await connect(stack, sessionId, { format: "json" });
    stack.bedrock!.setBehavior({ httpError: { type: "ThrottlingException" } });
    const firstRequest = stack.bedrock!.requests.length;

    socket.ask("ask-throttled", "Too many?");
    const envelopes = await socket.answer("ask-throttled");
    expect(envelopes.map((e) => e.type)).to.deep.equal(["start", "error"]);
    expect(last(envelopes, "error")).to.include({ code: "throttled", retryable: true, message: MESSAGES.throttled });
    const outcomes = await Promise.all(stack.bedrock!.requests.slice(firstRequest).map((r) => r.settled));
    expect(outcomes).to.have.length.greaterThan(0);
    expect(outcomes.every((o) => o === "http-error")).to.equal(true);

    const response = (await stack.invokeFulfillment(lexV2Event({ sessionId, question: "Still too many?" }))) as LexResponse;
    expect(response.sessionState.dialogAction.type).to.equal("Close");
    expect(response.messages).to.deep.equal([{ contentType: "PlainText", content: MESSAGES.throttled }]);
    await socket.close();
  });

  // Stock Lex Web UI sends its random lex-web-ui-XXXX id, not the identity id (clients.md); clients that do send the
  // identity id (0.21.7, QnABot's own page) are covered in lex-web-ui-stock.test.ts with the collision cases.
  it("streams to Lex Web UI (logged in) through the local Lex runtime where the stack says, whatever endpoint and table its session attributes name", async function () {
    const ui = await LexWebUiClient.start(stack, { login: { providerName: stack.userPool.providerName, idToken: stack.userPool.issueIdToken("stream-user") } });
    expect(ui.userId).to.equal(ui.identityId);
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas: MULTI_BYTE_DELTAS });
    const { response, frames } = await ui.ask("What does Lex Web UI show while it waits?", {
      streamingEndpoint: "https://attacker.example/Prod",
      streamingDynamoDbTable: "someone-elses-table",
      topic: "kept",
    });

    const generated = MULTI_BYTE_DELTAS.join("");
    expect(frames.join("")).to.equal(generated);
    for (const frame of frames) expect(isWellFormed(frame), JSON.stringify(frame)).to.equal(true);
    const formatted = formatAnswer(generated, []);
    expect(response.sessionState?.dialogAction?.type).to.equal("Close");
    expect(response.sessionState?.intent).to.deep.include({ name: "QnaIntent", state: "Fulfilled" });
    expect(response.messages).to.deep.equal([{ contentType: "PlainText", content: formatted.plainText }]);
    expect(JSON.parse(response.sessionState!.sessionAttributes!.appContext)).to.deep.equal({ altMessages: { markdown: formatted.markdown } });
    expect(response.sessionState?.sessionAttributes?.topic).to.equal("kept");
    await ui.close();
  });
});
