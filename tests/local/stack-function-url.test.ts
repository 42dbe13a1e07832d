/**
 * The streaming function URL over the wire (issue 15): a SigV4-signed POST (service `lambda`,
 * as Lambda function URLs with AuthType AWS_IAM require) to the local stack, answered as
 * Server-Sent Events by the real handler running under the stand-in for the runtime's
 * `awslambda` global, with chunked transfer.
 */
import { request } from "node:http";
import { expect } from "chai";
import { signFunctionUrlPost } from "../../client/function-url-signer";
import { SseParser } from "../../client/sse";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { localIamUser, type LocalCredential } from "../../local/gateway";
import { QUIET_ENV } from "./stack-helpers";

const DELTAS = ["Server-", "Sent ", "Events ", "stream 😀 ", "answers."];

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Body chunks as they arrived. */
  chunks: number;
}

async function signedPost(stack: LocalStack, body: string, accept: string, credential: LocalCredential | undefined): Promise<Reply> {
  const url = new URL(stack.functionUrl);
  const headers = credential
    ? (await signFunctionUrlPost({ url: stack.functionUrl, region: stack.region, credentials: credential, body, accept })).headers
    : { "content-type": "application/json", accept };
  return new Promise((resolve, reject) => {
    const req = request({ method: "POST", host: url.hostname, port: url.port, path: "/", headers }, (res) => {
      let text = "";
      let chunks = 0;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        chunks++;
        text += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, chunks }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** An SSE answer read as it arrives: its events so far, a wait for one, and the caller hanging up. */
async function openSse(stack: LocalStack, body: string, credential: LocalCredential) {
  const url = new URL(stack.functionUrl);
  const { headers } = await signFunctionUrlPost({ url: stack.functionUrl, region: stack.region, credentials: credential, body, accept: "text/event-stream" });
  const parser = new SseParser();
  const events: Record<string, unknown>[] = [];
  let wake = () => undefined as void;
  const req = request({ method: "POST", host: url.hostname, port: url.port, path: "/", headers });
  const ended = new Promise<void>((resolve, reject) => {
    req.on("response", (res) => {
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        for (const event of parser.push(chunk)) events.push(JSON.parse(event.data) as Record<string, unknown>);
        wake();
      });
      res.on("end", () => {
        resolve();
        wake();
      });
    });
    req.on("error", reject);
  });
  req.end(body);
  return {
    events,
    ended,
    async waitFor(predicate: (event: Record<string, unknown>) => boolean): Promise<void> {
      while (!events.some(predicate)) await new Promise<void>((resolve) => (wake = resolve));
    },
    hangUp: () => req.destroy(),
  };
}

function sseEvents(body: string): { event: string; id: number; data: Record<string, unknown> }[] {
  return new SseParser().push(body).map(({ event, id, data }) => ({ event, id: Number(id), data: JSON.parse(data) as Record<string, unknown> }));
}

describe("local stack: answers over a streaming function URL (Server-Sent Events)", () => {
  let stack: LocalStack;
  const user = localIamUser("sse-user", { allow: { connect: true, manageConnections: false } });

  before(async () => {
    stack = await startLocalStack({ page: false, credentials: [user], bedrockBehavior: { firstTokenDelayMs: 0, deltasPerSecond: 200, deltas: DELTAS }, env: QUIET_ENV });
  });
  after(() => stack?.close());

  it("streams start, deltas and end as SSE events in chunks, with the caller's identity from IAM", async () => {
    const reply = await signedPost(stack, JSON.stringify({ question: "How?", sessionId: "sse-session-1", requestId: "sse-1" }), "text/event-stream", user);
    expect(reply.status).to.equal(200);
    expect(reply.headers["content-type"]).to.equal("text/event-stream; charset=utf-8");
    expect(reply.headers["transfer-encoding"]).to.equal("chunked");
    const events = sseEvents(reply.body);
    expect(events[0].event).to.equal("start");
    expect(events.at(-1)?.event).to.equal("end");
    expect(events.flatMap((e) => (e.event === "delta" ? [e.data.text] : [])).join("")).to.equal(DELTAS.join(""));
    expect(events.every((e, i) => i === 0 || e.id > events[i - 1].id)).to.equal(true);
    expect(reply.chunks, "the body arrived as it was generated, not at once").to.be.greaterThan(1);
  });

  it("answers complete JSON without Accept: text/event-stream", async () => {
    const reply = await signedPost(stack, JSON.stringify({ question: "How?", sessionId: "sse-session-2" }), "application/json", user);
    expect(reply.status).to.equal(200);
    expect(JSON.parse(reply.body)).to.include({ answer: DELTAS.join("").trim(), stopReason: "end_turn" });
  });

  // "Streaming responses incur cost and streamed responses are not interrupted or stopped when the invoking
  // client connection is broken. Customers will be billed for the full function duration."
  // https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html
  it("runs the answer to its end when the caller hangs up, as Lambda does: the model is read to the last token", async () => {
    const deltas = Array.from({ length: 40 }, (_, i) => `t${i} `);
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas, deltasPerSecond: 40 });
    const answer = await openSse(stack, JSON.stringify({ question: "Long?", sessionId: "sse-hangup", requestId: "sse-hangup-1" }), user);
    await answer.waitFor((event) => event.type === "delta");
    answer.hangUp();
    const model = stack.bedrock!.requests.at(-1)!;
    expect(await model.settled, "the function kept reading the model after the caller left").to.equal("completed");
    expect(model.deltasSent).to.equal(deltas.length);
    await stack.idle();
  });

  describe("cancel: a signed POST {action: \"cancel\", sessionId, requestId} by the asker", () => {
    const other = localIamUser("sse-other", { allow: { connect: true, manageConnections: false } });
    before(() => stack.credentials.add(other));

    it("stops the running answer at the writer's next checkpoint, ending it cancelled; nobody else may cancel it", async () => {
      // A 30 s answer.
      stack.bedrock!.enqueue({ operation: "ConverseStream", deltas: Array.from({ length: 300 }, (_, i) => `w${i} `), deltasPerSecond: 10 });
      const sessionId = "sse-cancel";
      const answer = await openSse(stack, JSON.stringify({ question: "Long?", sessionId, requestId: "sse-cancel-1" }), user);
      await answer.waitFor((event) => event.type === "delta");
      const cancel = JSON.stringify({ action: "cancel", sessionId, requestId: "sse-cancel-1" });

      const stranger = await signedPost(stack, cancel, "application/json", other);
      expect(stranger.status, "another principal's cancel finds no answer of its own").to.equal(404);
      expect(JSON.parse(stranger.body).error.code).to.equal("not_found");

      const own = await signedPost(stack, cancel, "application/json", user);
      expect(own.status).to.equal(200);
      expect(JSON.parse(own.body)).to.deep.equal({ requestId: "sse-cancel-1", cancelled: true });
      await answer.ended;
      expect(answer.events.at(-1)).to.include({ type: "end", stopReason: "cancelled" });
      expect(await stack.bedrock!.requests.at(-1)!.settled, "the model call was stopped").to.equal("aborted");

      const again = await signedPost(stack, cancel, "application/json", user);
      expect(again.status, "an ended answer cannot be cancelled").to.equal(404);
      await stack.idle();
    });
  });

  it("refuses an unsigned request with 403 before running anything, and bad input with a 4xx JSON error", async () => {
    const unsigned = await signedPost(stack, JSON.stringify({ question: "q", sessionId: "s" }), "text/event-stream", undefined);
    expect(unsigned.status).to.equal(403);
    expect(unsigned.headers["x-amzn-errortype"]).to.equal("AccessDeniedException");
    const bad = await signedPost(stack, JSON.stringify({ sessionId: "s" }), "text/event-stream", user);
    expect(bad.status).to.equal(400);
    expect(JSON.parse(bad.body).error.code).to.equal("bad_request");
  });
});
