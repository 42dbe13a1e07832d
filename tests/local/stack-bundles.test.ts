/**
 * The functions as they deploy: the local stack runs the esbuild bundles the component
 * uploads (`handlers: "bundles"`, local/deployed-bundles.ts), each required from its own code
 * package as the Lambda runtime loads `index.handler`, and invoked with Lambda's handler
 * contract: `(event, context)` with `getRemainingTimeInMillis`, and
 * `awslambda.streamifyResponse` for the streaming function URL. Every door goes over the wire,
 * so a bundling or lazy-require mistake fails here. The bundles are built once for the suite.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { request } from "node:http";
import { expect } from "chai";
import { BUNDLE_FILE } from "../../components/bundle";
import { signFunctionUrlPost } from "../../client/function-url-signer";
import { SseParser } from "../../client/sse";
import { formatAnswer } from "../../functions/fulfillment/format";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { LexWebUiClient } from "./lex-web-ui-client";
import { FAST, QUIET_ENV, connect, deltaText, last } from "./stack-helpers";

/** A signed SSE ask to the function URL; resolves with the envelopes once the response ends. */
async function sseAsk(stack: LocalStack, body: unknown): Promise<Record<string, unknown>[]> {
  const text = JSON.stringify(body);
  const url = new URL(stack.functionUrl);
  const { headers } = await signFunctionUrlPost({ url: stack.functionUrl, region: stack.region, credentials: stack.chatUser, body: text, accept: "text/event-stream" });
  return new Promise((resolve, reject) => {
    const parser = new SseParser();
    const events: Record<string, unknown>[] = [];
    const req = request({ method: "POST", host: url.hostname, port: url.port, path: "/", headers }, (res) => {
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        for (const event of parser.push(chunk)) events.push(JSON.parse(event.data) as Record<string, unknown>);
      });
      res.on("end", () => resolve(events));
    });
    req.on("error", reject);
    req.end(text);
  });
}

describe("local stack running the deployed bundles (handlers: \"bundles\")", function () {
  // esbuild bundles three entries once for the suite; a loaded 2-core machine needs headroom.
  this.timeout(120_000);
  let stack: LocalStack;

  before(async function () {
    stack = await startLocalStack({ page: false, handlers: "bundles", bedrockBehavior: FAST, env: QUIET_ENV, sourceLinkBuckets: ["local-documents"] });
  });
  afterEach(() => stack.idle());
  after(() => stack?.close());

  it("presigns a knowledge-base answer's sources from the bundle (its lazily loaded signer), and the links fetch the documents", async function () {
    const socket = await connect(stack, "bundles-sources", { format: "json" });
    socket.ask("bundles-kb", "How does the knowledge base cite its sources?", "kb");
    const sources = last(await socket.answer("bundles-kb"), "end").sources!;
    expect(sources).to.have.length.greaterThan(0);
    for (const source of sources) {
      const response = await fetch(source.url!);
      expect(response.status, source.uri).to.equal(200);
      expect(await response.text()).to.equal(readFileSync(path.join(__dirname, "../../local/documents", source.uri.slice("s3://local-documents/".length)), "utf8"));
    }
    await socket.close();
  });

  it("answers a WebSocket ask: $connect by the connection bundle, the hand-off and the answer by the fulfillment bundle", async function () {
    const socket = await connect(stack, "bundles-ws", { format: "json" });
    const deltas = ["Bundled ", "and ", "deployed."];
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
    socket.ask("bundles-1", "Does the bundle answer?");
    const envelopes = await socket.answer("bundles-1");
    expect(deltaText(envelopes)).to.equal(deltas.join(""));
    expect(last(envelopes, "end")).to.deep.include({ stopReason: "end_turn", final: formatAnswer(deltas.join(""), []).markdown });
    await socket.close();
  });

  it("answers Lex Web UI through the Lex runtime's code hook (a synchronous Invoke of the fulfillment bundle)", async function () {
    // Signed in: its identity id is its session, so its Lex answers stream with the defaults (a guest's would not).
    const ui = await LexWebUiClient.start(stack, { login: { providerName: stack.userPool.providerName, idToken: stack.userPool.issueIdToken("bundled") } });
    try {
      const deltas = ["Through ", "Lex."];
      stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
      const { response, frames } = await ui.ask("Through Lex?");
      expect(frames.join("")).to.equal(deltas.join(""));
      expect(response.messages?.[0].content).to.equal(formatAnswer(deltas.join(""), []).plainText);
    } finally {
      await ui.close();
    }
  });

  it("streams an SSE answer from the response-streaming bundle, wrapped by awslambda.streamifyResponse", async function () {
    const deltas = ["Server-", "Sent."];
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
    const events = await sseAsk(stack, { question: "SSE?", sessionId: "bundles-sse", requestId: "bundles-sse-1" });
    expect(events[0]).to.include({ type: "start", requestId: "bundles-sse-1" });
    expect(events.flatMap((e) => (e.type === "delta" ? [e.text] : [])).join("")).to.equal(deltas.join(""));
    expect(events.at(-1)).to.include({ type: "end", stopReason: "end_turn" });
  });

  it("ran every function from its code package, none from the TypeScript sources", function () {
    const dir = stack.bundles!.dir;
    const loaded = Object.keys(require.cache).filter((file) => file.startsWith(dir + path.sep));
    expect(loaded.sort()).to.deep.equal(["connection", "fulfillment", "streamingHttp"].map((name) => path.join(dir, name, BUNDLE_FILE)).sort());
  });
});
