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

  it("refuses an unsigned request with 403 before running anything, and bad input with a 4xx JSON error", async () => {
    const unsigned = await signedPost(stack, JSON.stringify({ question: "q", sessionId: "s" }), "text/event-stream", undefined);
    expect(unsigned.status).to.equal(403);
    expect(unsigned.headers["x-amzn-errortype"]).to.equal("AccessDeniedException");
    const bad = await signedPost(stack, JSON.stringify({ sessionId: "s" }), "text/event-stream", user);
    expect(bad.status).to.equal(400);
    expect(JSON.parse(bad.body).error.code).to.equal("bad_request");
  });
});
