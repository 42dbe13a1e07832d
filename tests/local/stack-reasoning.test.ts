/**
 * Model reasoning and progress over the wire (issue 24, item 5): the local stack's real
 * handlers, against dynalite and the Bedrock emulator, with reasoning allowed as the stack
 * sets it (REASONING_BUDGET_TOKENS, from `npm start -- --reasoning`). A json asker that asks
 * for it gets `reasoning` envelopes, made inert by the output sanitizer; a text connection
 * (Lex Web UI) never does, nor does any ask on a stack that does not allow it. The reasoning
 * is never remembered, never written to the journal, never logged. A knowledge-base answer
 * tells json clients its stages (`progress`) before its first token.
 */
import { expect } from "chai";
import { DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { DEFAULT_LOCAL_MODEL_ID, DEFAULT_LOCAL_REASONING_MODEL_ID, startLocalStack, type LocalStack } from "../../local/stack";
import { parseStartArgs, USAGE, UsageError } from "../../local/start";
import { DEFAULT_OUTPUT_POLICY, sanitizeOutput } from "../../functions/fulfillment/output-safety";
import { DEFAULT_REASONING_BUDGET_TOKENS } from "../../functions/fulfillment/reasoning";
import type { Envelope } from "../../functions/shared/protocol";
import { Readable } from "node:stream";
import { main } from "../../client/cli";
import { EXIT } from "../../client/exit-codes";
import { SseParser } from "../../client/sse";
import { connect, deltaText, last, postAsk, postFunctionUrl, type StackSocket } from "./stack-helpers";


class Capture {
  text = "";
  constructor(readonly isTTY = false) {}
  write(text: string): boolean {
    this.text += text;
    return true;
  }
}

async function cli(argv: string[], ttyStderr = false) {
  const stdout = new Capture();
  const stderr = new Capture(ttyStderr);
  const code = await main(argv, { stdout, stderr, stdin: Readable.from([]), env: {} });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const MARKER = "SECRET-THOUGHT-7f3a";
// Markup in the reasoning, to show it goes through the output sanitizer like the answer.
const REASONING = ["Let me think: ", `${MARKER} `, "<script>alert(1)</script> ", "[x](javascript:alert(1)) ", "done."];
const ANSWER = ["Reasoning ", "is ", "streamed ", "apart."];
const BEHAVIOR = { firstTokenDelayMs: 0, deltasPerSecond: 0, deltas: ANSWER, reasoning: REASONING };

function reasoningOf(envelopes: readonly Envelope[]): string {
  return envelopes.flatMap((e) => (e.type === "reasoning" ? [e.text] : [])).join("");
}

function askWithReasoning(socket: StackSocket, requestId: string, question: string, mode: "llm" | "kb" = "llm"): void {
  socket.send({ action: "ask", requestId, question, mode, reasoning: true });
}

/** Every line the process writes to stdout or stderr while `run` runs (the handlers run in-process). */
async function captureOutput<T>(run: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const originals = [process.stdout.write, process.stderr.write] as const;
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
  try {
    return { result: await run(), output: chunks.join("") };
  } finally {
    [process.stdout.write, process.stderr.write] = originals;
  }
}

describe("npm start: reasoning flags", () => {
  it("reads --reasoning and --reasoning-budget-tokens; off by default; refuses a budget without --reasoning or out of range", () => {
    expect(parseStartArgs([]).reasoningBudgetTokens).to.equal(undefined);
    expect(parseStartArgs(["--reasoning"]).reasoningBudgetTokens).to.equal(DEFAULT_REASONING_BUDGET_TOKENS);
    expect(parseStartArgs(["--reasoning", "--reasoning-budget-tokens", "4096"]).reasoningBudgetTokens).to.equal(4096);
    expect(USAGE).to.include("--reasoning").and.include("--reasoning-budget-tokens");
    expect(() => parseStartArgs(["--reasoning-budget-tokens", "4096"])).to.throw(UsageError, /^--reasoning-budget-tokens needs --reasoning/);
    expect(() => parseStartArgs(["--reasoning", "--reasoning-budget-tokens", "1000"])).to.throw(UsageError, /from 1024 to 24000, not "1000"/);
    expect(() => parseStartArgs(["--reasoning", "--reasoning-budget-tokens", "2e3"])).to.throw(UsageError, /not "2e3"/);
  });
});

describe("local stack: reasoning and progress", () => {
  let stack: LocalStack;
  let table: DynamoDBDocumentClient;

  before(async () => {
    stack = await startLocalStack({
      bedrockBehavior: BEHAVIOR,
      // As `npm start -- --reasoning` passes it.
      ...parseStartArgs(["--reasoning"]),
      // The page server signs the CLI's URLs (qnabot-stream --local).
      ports: undefined,
      // Every log level the handlers have, so the log check sees all they would ever write.
      env: { POWERTOOLS_LOG_LEVEL: "DEBUG", POWERTOOLS_METRICS_DISABLED: "true" },
    });
    table = DynamoDBDocumentClient.from(stack.dynamo.client);
  });
  after(() => stack?.close());

  it("streams a json asker's reasoning, sanitized, before its answer; asks Bedrock for thinking with the budget; logs and stores none of it", async () => {
    const socket = await connect(stack, "reasoning-json", { format: "json" });
    try {
      const { result: envelopes, output } = await captureOutput(async () => {
        askWithReasoning(socket, "think-1", "Why stream reasoning apart?");
        const answer = await socket.answer("think-1");
        // The engine logs "answer finished" after the end went out and the turn was remembered.
        await stack.idle();
        return answer;
      });
      const reasoning = reasoningOf(envelopes);
      expect(reasoning).to.equal(sanitizeOutput(REASONING.join(""), DEFAULT_OUTPUT_POLICY));
      expect(reasoning).to.contain(MARKER).and.not.match(/(^|[^\\])<script>/);
      expect(deltaText(envelopes)).to.equal(ANSWER.join(""));
      const types = envelopes.map((e) => e.type);
      expect(types.indexOf("reasoning")).to.be.lessThan(types.indexOf("delta"));
      const seqs = envelopes.map((e) => e.seq);
      expect(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]), `seqs ${seqs}`).to.equal(true);
      const end = last(envelopes, "end");
      expect(end.final).to.not.contain(MARKER);
      expect(end.usage?.model).to.equal(DEFAULT_LOCAL_REASONING_MODEL_ID);

      const request = stack.bedrock!.requests.at(-1)!;
      expect(request.modelId).to.equal(DEFAULT_LOCAL_REASONING_MODEL_ID);
      const body = request.body as { additionalModelRequestFields?: unknown; inferenceConfig?: Record<string, unknown> };
      expect(body.additionalModelRequestFields).to.deep.equal({ thinking: { type: "enabled", budget_tokens: DEFAULT_REASONING_BUDGET_TOKENS } });
      expect(body.inferenceConfig).to.not.have.any.keys("temperature", "topP");

      expect(output, "the handlers logged").to.contain("answer finished");
      expect(output).to.not.contain(MARKER);
      const stored = [
        ...((await table.send(new ScanCommand({ TableName: stack.dynamo.memoryTable }))).Items ?? []),
        ...((await table.send(new ScanCommand({ TableName: stack.dynamo.connectionsTable }))).Items ?? []),
      ];
      expect(JSON.stringify(stored), "the answer was remembered").to.contain("streamed apart");
      expect(JSON.stringify(stored), "neither memory nor the journal keeps the reasoning").to.not.contain(MARKER);
    } finally {
      await socket.close();
    }
  });

  it("gives no reasoning, and asks Bedrock for no thinking, when the ask does not ask for it", async () => {
    const socket = await connect(stack, "reasoning-none", { format: "json" });
    try {
      socket.ask("plain-1", "Just the answer?");
      const envelopes = await socket.answer("plain-1");
      expect(envelopes.map((e) => e.type)).to.not.include("reasoning");
      expect(deltaText(envelopes)).to.equal(ANSWER.join(""));
      expect((stack.bedrock!.requests.at(-1)!.body as Record<string, unknown>).additionalModelRequestFields).to.equal(undefined);
    } finally {
      await socket.close();
    }
  });

  it("never sends reasoning or progress to a text connection (Lex Web UI), and asks no thinking for it", async () => {
    const json = await connect(stack, "reasoning-text", { format: "json" });
    const text = await connect(stack, "reasoning-text", { format: "text" });
    try {
      askWithReasoning(text, "text-1", "Does Lex Web UI see thinking?");
      // The json tab of the same session receives the same answer; by its end the text socket's frames are in.
      const envelopes = await json.answer("text-1");
      await text.until((messages) => (messages.map((m) => m.text).join("") === ANSWER.join("") ? true : undefined));
      expect(envelopes.map((e) => e.type)).to.not.include("reasoning");
      expect(text.messages.map((m) => m.text).join("")).to.equal(ANSWER.join(""));
      expect((stack.bedrock!.requests.at(-1)!.body as Record<string, unknown>).additionalModelRequestFields).to.equal(undefined);

      askWithReasoning(text, "text-kb", "How does the knowledge base cite its sources?", "kb");
      const kb = await json.answer("text-kb");
      expect(kb.map((e) => e.type)).to.include("progress");
      const all = text.messages.map((m) => m.text).join("");
      expect(all).to.not.contain("retrieving").and.not.contain("generating").and.not.contain(MARKER);
    } finally {
      await text.close();
      await json.close();
    }
  });

  it("qnabot-stream ask --reasoning prints the reasoning dimmed on stderr, the answer alone on stdout; without the flag, no reasoning", async () => {
    const withFlag = await cli(["ask", "Why stream reasoning apart?", "--local", stack.pageUrl!, "--reasoning"], true);
    expect(withFlag.code).to.equal(EXIT.ok);
    expect(withFlag.stdout).to.equal(`${ANSWER.join("")}\n`);
    const thought = sanitizeOutput(REASONING.join(""), DEFAULT_OUTPUT_POLICY);
    // Each chunk is dimmed as it comes: without the colour codes, the heading and the whole reasoning.
    expect(withFlag.stderr).to.contain("\x1b[2mreasoning:\n");
    expect(withFlag.stderr.replace(/\x1b\[[0-9;]*m/g, "")).to.contain(`reasoning:\n${thought}\n`);

    const json = await cli(["ask", "Why?", "--local", stack.pageUrl!, "--reasoning", "--json"]);
    const types = json.stdout.trimEnd().split("\n").map((line) => (JSON.parse(line) as Envelope).type);
    expect(types).to.include("reasoning");

    const without = await cli(["ask", "Why stream reasoning apart?", "--local", stack.pageUrl!], true);
    expect(without.code).to.equal(EXIT.ok);
    expect(without.stdout).to.equal(`${ANSWER.join("")}\n`);
    expect(without.stderr).to.not.contain(MARKER).and.not.contain("reasoning:");
  });

  it("honours reasoning on POST /ask (streamed to the caller's json connections) and on the function URL's SSE stream", async () => {
    const socket = await connect(stack, "reasoning-http", { format: "json" });
    try {
      const response = await postAsk(stack, { question: "Over HTTP?", sessionId: "reasoning-http", requestId: "http-1", reasoning: true });
      expect(response.status).to.equal(200);
      expect(JSON.stringify(response.body), "the JSON answer carries no reasoning").to.not.contain(MARKER);
      expect(reasoningOf(await socket.answer("http-1"))).to.contain(MARKER);
    } finally {
      await socket.close();
    }
    const sse = await postFunctionUrl(stack, { question: "Over SSE?", sessionId: "reasoning-sse", requestId: "sse-1", reasoning: true }, "text/event-stream");
    const events = new SseParser().push(sse.body);
    const thought = events.filter((e) => e.event === "reasoning").map((e) => (JSON.parse(e.data) as { text: string }).text).join("");
    expect(thought).to.equal(sanitizeOutput(REASONING.join(""), DEFAULT_OUTPUT_POLICY));
    expect(events.at(-1)?.event).to.equal("end");
  });

  it("refuses a reasoning field that is not a boolean", async () => {
    const socket = await connect(stack, "reasoning-bad", { format: "json" });
    try {
      socket.send({ action: "ask", requestId: "bad-1", question: "Q?", reasoning: "yes" });
      expect(last(await socket.answer("bad-1"), "error")).to.include({ code: "bad_request", message: "reasoning must be true or false" });
    } finally {
      await socket.close();
    }
  });

  it("qnabot-stream shows a knowledge-base answer's stages on its spinner", async () => {
    const { code, stderr } = await cli(["ask", "How does the knowledge base cite its sources?", "--mode", "kb", "--local", stack.pageUrl!], true);
    expect(code).to.equal(EXIT.ok);
    expect(stderr).to.contain("searching the knowledge base…").and.contain("writing the answer…");
  });

  it("tells a json asker a knowledge-base answer's stages, retrieving then generating, before its first token", async () => {
    const socket = await connect(stack, "progress-kb", { format: "json" });
    try {
      socket.ask("kb-1", "How does the knowledge base cite its sources?", "kb");
      const envelopes = await socket.answer("kb-1");
      const types = envelopes.map((e) => e.type);
      const stages = envelopes.flatMap((e) => (e.type === "progress" ? [e.stage] : []));
      expect(stages).to.deep.equal(["retrieving", "generating"]);
      expect(types.lastIndexOf("progress")).to.be.lessThan(types.indexOf("delta"));
      expect(types[0]).to.equal("start");
    } finally {
      await socket.close();
    }
  });
});

describe("local stack without reasoning", () => {
  let stack: LocalStack;
  before(async () => {
    stack = await startLocalStack({ bedrockBehavior: BEHAVIOR, page: false, env: { POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true" } });
  });
  after(() => stack?.close());

  it("answers an ask for reasoning without it: the stack does not allow it, so Bedrock is asked for no thinking", async () => {
    const socket = await connect(stack, "reasoning-off", { format: "json" });
    try {
      askWithReasoning(socket, "off-1", "Any thinking?");
      const envelopes = await socket.answer("off-1");
      expect(envelopes.map((e) => e.type)).to.not.include("reasoning");
      expect(last(envelopes, "end").stopReason).to.equal("end_turn");
      const request = stack.bedrock!.requests.at(-1)!;
      expect(request.modelId).to.equal(DEFAULT_LOCAL_MODEL_ID);
      expect((request.body as Record<string, unknown>).additionalModelRequestFields).to.equal(undefined);
    } finally {
      await socket.close();
    }
  });
});
