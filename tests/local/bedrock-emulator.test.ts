import { expect } from "chai";
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  ModelStreamErrorException,
  ServiceUnavailableException,
  ThrottlingException,
  type ConverseStreamOutput,
} from "@aws-sdk/client-bedrock-runtime";
import {
  BedrockAgentRuntimeClient,
  RetrieveAndGenerateCommand,
  RetrieveAndGenerateStreamCommand,
  ThrottlingException as AgentThrottlingException,
  ValidationException as AgentValidationException,
  type RetrieveAndGenerateStreamCommandInput,
  type RetrieveAndGenerateStreamResponseOutput,
} from "@aws-sdk/client-bedrock-agent-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { STAND_IN_NOTICE, startBedrockEmulator, type BedrockEmulator } from "../../local/bedrock";

const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
const MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0";
// Mixed scripts, with emoji (surrogate pairs), a combining accent and CJK in their own deltas.
const MIXED_DELTAS = ["Hel", "lo ", "wörld", " — ", "日本語", "の", "テスト ", "👩‍💻", "🚀 ", "e\u0301", "té ", "Ω≈ç", "√", " done."];

function runtimeClient(emulator: BedrockEmulator): BedrockRuntimeClient {
  return new BedrockRuntimeClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials: CREDENTIALS, maxAttempts: 1 });
}

function agentClient(emulator: BedrockEmulator): BedrockAgentRuntimeClient {
  return new BedrockAgentRuntimeClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials: CREDENTIALS, maxAttempts: 1 });
}

function ask(question: string) {
  return new ConverseStreamCommand({ modelId: MODEL_ID, messages: [{ role: "user", content: [{ text: question }] }] });
}

function kbInput(question: string, sessionId?: string): RetrieveAndGenerateStreamCommandInput {
  return {
    input: { text: question },
    sessionId,
    retrieveAndGenerateConfiguration: {
      type: "KNOWLEDGE_BASE",
      knowledgeBaseConfiguration: { knowledgeBaseId: "KB12345678", modelArn: "arn:aws:bedrock:us-east-1::foundation-model/m" },
    },
  };
}

async function collect<T>(stream: AsyncIterable<T> | undefined): Promise<T[]> {
  const events: T[] = [];
  for await (const event of stream ?? []) events.push(event);
  return events;
}

/** Iterates until the stream throws, returning the events before it and the error. */
async function collectUntilError<T>(stream: AsyncIterable<T> | undefined): Promise<{ events: T[]; error: unknown }> {
  const events: T[] = [];
  try {
    for await (const event of stream ?? []) events.push(event);
  } catch (error) {
    return { events, error };
  }
  throw new Error("the stream ended without an error");
}

function deltaText(events: ConverseStreamOutput[]): string {
  return events.map((e) => e.contentBlockDelta?.delta?.text ?? "").join("");
}

describe("bedrock emulator (real SDK clients)", () => {
  let emulator: BedrockEmulator;
  let runtime: BedrockRuntimeClient;
  let agent: BedrockAgentRuntimeClient;

  beforeEach(async () => {
    emulator = await startBedrockEmulator({ deltasPerSecond: 0, firstTokenDelayMs: 0 });
    runtime = runtimeClient(emulator);
    agent = agentClient(emulator);
  });

  afterEach(async () => {
    runtime.destroy();
    agent.destroy();
    await emulator.close();
  });

  it("streams scripted deltas over h2c in ConverseStream order, with stop reason and usage", async () => {
    emulator.setBehavior({ deltas: MIXED_DELTAS, stopReason: "max_tokens" });
    const out = await runtime.send(ask("hello"));
    const events = await collect(out.stream);

    expect(events.map((e) => Object.keys(e)[0])).to.deep.equal([
      "messageStart",
      ...MIXED_DELTAS.map(() => "contentBlockDelta"),
      "contentBlockStop",
      "messageStop",
      "metadata",
    ]);
    expect(events[0].messageStart?.role).to.equal("assistant");
    expect(events.filter((e) => e.contentBlockDelta).map((e) => e.contentBlockDelta?.delta?.text)).to.deep.equal(MIXED_DELTAS);
    expect(deltaText(events)).to.equal(MIXED_DELTAS.join(""));
    expect(events.at(-2)?.messageStop?.stopReason).to.equal("max_tokens");
    const { usage, metrics } = events.at(-1)?.metadata ?? {};
    expect(usage?.outputTokens).to.equal(MIXED_DELTAS.length);
    expect(usage?.totalTokens).to.equal((usage?.inputTokens ?? NaN) + MIXED_DELTAS.length);
    expect(metrics?.latencyMs).to.be.a("number");

    const [request] = emulator.requests;
    expect(request).to.include({ operation: "ConverseStream", protocol: "h2", modelId: MODEL_ID, path: `/model/${encodeURIComponent(MODEL_ID)}/converse-stream` });
    expect(request.body).to.have.nested.property("messages[0].content[0].text", "hello");
    expect(await request.settled).to.equal("completed");
    expect(request.deltasSent).to.equal(MIXED_DELTAS.length);
  });

  it("answers Converse in one response with the same text, stop reason and usage", async () => {
    const out = await runtime.send(
      new ConverseCommand({ modelId: MODEL_ID, messages: [{ role: "user", content: [{ text: "Does Lex Web UI need changes?" }] }] }),
    );
    const text = out.output?.message?.content?.[0]?.text ?? "";
    expect(text.startsWith(STAND_IN_NOTICE)).to.equal(true);
    expect(text).to.include("No change to Lex Web UI is needed");
    expect(out.output?.message?.role).to.equal("assistant");
    expect(out.stopReason).to.equal("end_turn");
    expect(out.usage?.outputTokens).to.be.greaterThan(0);
    expect(emulator.requests[0]).to.include({ operation: "Converse", protocol: "h2" });
  });

  it("streams RetrieveAndGenerate output, citations, guardrail and the session id header", async () => {
    emulator.setBehavior({
      deltas: ["Frames are ", "at most ", "32 KB."],
      citations: [{ afterDelta: 1, text: "Frames are at most ", references: [{ uri: "s3://bucket/limits.md", text: "A frame carries at most 32 KB." }] }],
      guardrailAction: "INTERVENED",
    });
    const out = await agent.send(new RetrieveAndGenerateStreamCommand(kbInput("frame size?", "session-1234")));
    const events: RetrieveAndGenerateStreamResponseOutput[] = await collect(out.stream);

    expect(out.sessionId).to.equal("session-1234");
    expect(events.map((e) => Object.keys(e)[0])).to.deep.equal(["output", "output", "citation", "output", "guardrail"]);
    expect(events.map((e) => e.output?.text ?? "").join("")).to.equal("Frames are at most 32 KB.");
    const citation = events[2].citation;
    expect(citation?.generatedResponsePart?.textResponsePart).to.deep.equal({ text: "Frames are at most ", span: { start: 0, end: 18 } });
    const [reference] = citation?.retrievedReferences ?? [];
    expect(reference.content?.text).to.equal("A frame carries at most 32 KB.");
    expect(reference.location).to.deep.equal({ type: "S3", s3Location: { uri: "s3://bucket/limits.md" } });
    expect(reference.metadata?.["x-amz-bedrock-kb-source-uri"]).to.equal("s3://bucket/limits.md");
    expect(citation?.citation?.retrievedReferences?.[0].location?.s3Location?.uri).to.equal("s3://bucket/limits.md");
    expect(events[4].guardrail?.action).to.equal("INTERVENED");
    expect(emulator.requests[0]).to.include({ operation: "RetrieveAndGenerateStream", knowledgeBaseId: "KB12345678" });

    const fresh = await agent.send(new RetrieveAndGenerateStreamCommand(kbInput("frame size?")));
    await collect(fresh.stream);
    expect(fresh.sessionId).to.match(/^[0-9a-f-]{36}$/);
  });

  it("answers RetrieveAndGenerate in one response with session id, citations and guardrail action", async () => {
    emulator.setBehavior({ guardrailAction: "NONE" });
    const out = await agent.send(new RetrieveAndGenerateCommand(kbInput("What is the session id header?", "s-42")));
    expect(out.sessionId).to.equal("s-42");
    expect(out.output?.text?.startsWith(STAND_IN_NOTICE)).to.equal(true);
    expect(out.guardrailAction).to.equal("NONE");
    const uris = (out.citations ?? []).flatMap((c) => (c.retrievedReferences ?? []).map((r) => r.location?.s3Location?.uri));
    expect(uris).to.include("s3://local-documents/knowledge-base-retrieval.md");
    for (const c of out.citations ?? []) expect(out.output?.text).to.include(c.generatedResponsePart?.textResponsePart?.text ?? "\u0000");
  });

  it("answers a question about a bundled document from it and cites it", async () => {
    const out = await agent.send(new RetrieveAndGenerateStreamCommand(kbInput("How does the stream writer coalesce deltas?")));
    const events = await collect(out.stream);
    const text = events.map((e) => e.output?.text ?? "").join("");
    expect(text.startsWith(STAND_IN_NOTICE)).to.equal(true);
    expect(text).to.include("**coalesced**");
    // A knowledge base cites its sources (the citation events) rather than listing them in the text.
    expect(text).to.not.match(/^Sources:/m);
    const citations = events.filter((e) => e.citation).map((e) => e.citation);
    expect(citations).to.not.be.empty;
    for (const c of citations) {
      expect(c?.retrievedReferences?.[0].location?.s3Location?.uri).to.equal("s3://local-documents/stream-writer.md");
      const part = c?.generatedResponsePart?.textResponsePart;
      expect(text.slice(part?.span?.start ?? 0, (part?.span?.end ?? 0) + 1)).to.equal(part?.text);
      expect(c?.retrievedReferences?.[0].content?.text).to.equal(part?.text);
    }

    // ConverseStream answers the same question from the same passages, listing its sources at the end.
    const again = deltaText(await collect((await runtime.send(ask("How does the stream writer coalesce deltas?"))).stream));
    expect(again.startsWith(text.trimEnd())).to.equal(true);
    expect(again.slice(text.trimEnd().length)).to.match(/^\s*\*\*Sources\*\*\n1\. The stream writer \(s3:\/\/local-documents\/stream-writer\.md\)/);
  });

  it("throws an in-stream exception while iterating, after the scripted number of deltas", async () => {
    emulator.setBehavior({ deltas: MIXED_DELTAS, streamError: { afterDeltas: 3, type: "modelStreamErrorException", message: "model broke" } });
    const out = await runtime.send(ask("hi"));
    const { events, error } = await collectUntilError(out.stream);
    expect(deltaText(events)).to.equal(MIXED_DELTAS.slice(0, 3).join(""));
    expect(error).to.be.instanceOf(ModelStreamErrorException);
    expect(error).to.include({ name: "ModelStreamErrorException", message: "model broke", originalStatusCode: 500 });
    expect(await emulator.requests[0].settled).to.equal("stream-error");

    emulator.setBehavior({ deltas: ["a", "b"], streamError: { afterDeltas: 1, type: "ThrottlingException" } });
    const kb = await agent.send(new RetrieveAndGenerateStreamCommand(kbInput("q")));
    const kbResult = await collectUntilError(kb.stream);
    expect(kbResult.events.map((e) => e.output?.text)).to.deep.equal(["a"]);
    expect(kbResult.error).to.be.instanceOf(AgentThrottlingException);
  });

  it("refuses before the stream with the scripted HTTP error, then serves the next request", async () => {
    emulator.enqueue(
      { operation: "ConverseStream", httpError: { type: "ThrottlingException" } },
      { operation: "ConverseStream", httpError: { type: "ServiceUnavailableException" } },
    );
    const throttled = await runtime.send(ask("q")).catch((e: unknown) => e);
    expect(throttled).to.be.instanceOf(ThrottlingException);
    expect((throttled as ThrottlingException).$metadata.httpStatusCode).to.equal(429);
    const unavailable = await runtime.send(ask("q")).catch((e: unknown) => e);
    expect(unavailable).to.be.instanceOf(ServiceUnavailableException);
    expect((unavailable as ServiceUnavailableException).$metadata.httpStatusCode).to.equal(503);
    const ok = await runtime.send(ask("q"));
    await collect(ok.stream);
    expect(emulator.requests.map((r) => r.outcome)).to.deep.equal(["http-error", "http-error", "completed"]);
  });

  it("rejects an invalid request with ValidationException", async () => {
    const error = await agent
      .send(new RetrieveAndGenerateStreamCommand({ input: { text: "q" }, retrieveAndGenerateConfiguration: { type: "KNOWLEDGE_BASE" } }))
      .catch((e: unknown) => e);
    expect(error).to.be.instanceOf(AgentValidationException);
    expect((error as AgentValidationException).$metadata.httpStatusCode).to.equal(400);
  });

  it("stalls after N deltas until the client aborts, then stops and records the abort", async () => {
    emulator.setBehavior({ deltas: MIXED_DELTAS, stall: { afterDeltas: 2 } });
    const controller = new AbortController();
    const out = await runtime.send(ask("q"), { abortSignal: controller.signal });
    const received: string[] = [];
    // The SDK ends the iteration quietly or with an AbortError, depending on timing; either is fine here.
    await (async () => {
      for await (const event of out.stream ?? []) {
        if (event.contentBlockDelta) received.push(event.contentBlockDelta.delta?.text ?? "");
        if (received.length === 2) controller.abort();
      }
    })().catch(() => undefined);

    expect(received).to.deep.equal(MIXED_DELTAS.slice(0, 2));
    const [request] = emulator.requests;
    expect(await request.settled).to.equal("aborted");
    expect(request.deltasSent).to.equal(2);
  });

  it("holds the response (status and headers) back for responseDelayMs: the SDK call has not returned before it", async () => {
    emulator.setBehavior({ deltas: MIXED_DELTAS, responseDelayMs: 500 });
    let responded = false;
    const sent = runtime.send(ask("q")).then((out) => {
      responded = true;
      return out;
    });
    // The request is in, its response is not: the SDK promise is still pending.
    while (emulator.requests[0]?.body === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(responded).to.equal(false);
    expect(deltaText(await collect((await sent).stream))).to.equal(MIXED_DELTAS.join(""));
    expect(await emulator.requests[0].settled).to.equal("completed");
  });

  it("resumes after a bounded stall and completes", async () => {
    emulator.setBehavior({ deltas: MIXED_DELTAS, stall: { afterDeltas: 4, forMs: 30 } });
    const out = await runtime.send(ask("q"));
    expect(deltaText(await collect(out.stream))).to.equal(MIXED_DELTAS.join(""));
  });

  it("resets a stream after N deltas, which the SDK ends without messageStop, and fails a one-shot call", async () => {
    emulator.enqueue({ deltas: MIXED_DELTAS, reset: { afterDeltas: 2 } }, { reset: { afterDeltas: 1 } });
    const out = await runtime.send(ask("q"));
    const events: ConverseStreamOutput[] = [];
    await (async () => {
      for await (const event of out.stream ?? []) events.push(event);
    })().catch(() => undefined);
    expect(deltaText(events)).to.equal(MIXED_DELTAS.slice(0, 2).join(""));
    expect(events.some((e) => e.messageStop || e.metadata)).to.equal(false);
    expect(await emulator.requests[0].settled).to.equal("reset");

    const oneShot = await runtime
      .send(new ConverseCommand({ modelId: MODEL_ID, messages: [{ role: "user", content: [{ text: "q" }] }] }))
      .catch((e: unknown) => e);
    expect(oneShot).to.be.instanceOf(Error);
    expect(await emulator.requests[1].settled).to.equal("reset");
  });

  it("cuts streams in flight on close(), which the SDK reports as a stream without messageStop", async () => {
    emulator.setBehavior({ deltas: ["a", "b"], stall: { afterDeltas: 1 } });
    const out = await runtime.send(ask("q"));
    const events: ConverseStreamOutput[] = [];
    const iterating = (async () => {
      for await (const event of out.stream ?? []) events.push(event);
    })().catch(() => undefined);
    const closed = emulator.close();
    expect(await emulator.requests[0].settled).to.equal("shutdown");
    await closed;
    await iterating;
    // Node's HTTP/2 client ends the body cleanly even on RST_STREAM, so a cut stream shows only as a missing messageStop.
    expect(deltaText(events)).to.equal("a");
    expect(events.some((e) => e.messageStop)).to.equal(false);
  });

  it("throttles requests beyond maxConcurrentRequests", async () => {
    const limited = await startBedrockEmulator({ deltasPerSecond: 0, firstTokenDelayMs: 0, maxConcurrentRequests: 1, stall: { afterDeltas: 0 } });
    const client = runtimeClient(limited);
    try {
      const controller = new AbortController();
      await client.send(ask("q"), { abortSignal: controller.signal });
      const second = await client.send(ask("q")).catch((e: unknown) => e);
      expect(second).to.be.instanceOf(ThrottlingException);
      controller.abort();
      expect(await limited.requests[0].settled).to.equal("aborted");
      expect(limited.requests.map((r) => r.outcome)).to.deep.equal(["aborted", "http-error"]);
    } finally {
      client.destroy();
      await limited.close();
    }
  });

  it("serves HTTP/1.1 on the same port to a client given NodeHttpHandler", async () => {
    emulator.setBehavior({ deltas: MIXED_DELTAS });
    const client = new BedrockRuntimeClient({
      endpoint: emulator.endpoint,
      region: "us-east-1",
      credentials: CREDENTIALS,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler(),
    });
    try {
      const out = await client.send(ask("q"));
      expect(deltaText(await collect(out.stream))).to.equal(MIXED_DELTAS.join(""));
      expect(emulator.requests[0].protocol).to.equal("http/1.1");
    } finally {
      client.destroy();
    }
  });

  it("is reached through AWS_ENDPOINT_URL_BEDROCK_RUNTIME and AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME alone", async () => {
    const saved = { ...process.env };
    process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = emulator.endpoint;
    process.env.AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME = emulator.endpoint;
    delete process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS;
    const rt = new BedrockRuntimeClient({ region: "us-east-1", credentials: CREDENTIALS, maxAttempts: 1 });
    const ag = new BedrockAgentRuntimeClient({ region: "us-east-1", credentials: CREDENTIALS, maxAttempts: 1 });
    try {
      emulator.setBehavior({ deltas: ["ok"] });
      expect(deltaText(await collect((await rt.send(ask("q"))).stream))).to.equal("ok");
      await collect((await ag.send(new RetrieveAndGenerateStreamCommand(kbInput("q")))).stream);
      expect(emulator.requests.map((r) => r.operation)).to.deep.equal(["ConverseStream", "RetrieveAndGenerateStream"]);
    } finally {
      rt.destroy();
      ag.destroy();
      process.env = saved;
    }
  });
});
