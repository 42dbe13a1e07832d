import { expect } from "chai";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import * as path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { envelope, type Envelope } from "../../functions/shared/protocol";
import { startChatServer, type ChatServer } from "../../client/chat-server";
import { main, type CliIo } from "../../client/cli";
import { CHAT_HELP } from "../../client/chat-commands";
import { AnswerStoppedError, askOnSocket } from "../../client/cli-answer";
import { openSocket } from "../../client/cli-socket";
import { EXIT } from "../../client/exit-codes";
import { fakeSigner, startFakeGateway, streamAnswer, type FakeGateway } from "./helpers/fake-gateway";
import { chatPage } from "./helpers/page";

class Capture {
  readonly writes: string[] = [];
  constructor(readonly isTTY = false) {}
  write(text: string): boolean {
    this.writes.push(text);
    return true;
  }
  get text(): string {
    return this.writes.join("");
  }
}

interface Run {
  code: number;
  stdout: Capture;
  stderr: Capture;
}

async function run(argv: string[], io: Partial<CliIo> & { ttyStderr?: boolean } = {}): Promise<Run> {
  const stdout = new Capture();
  const stderr = new Capture(io.ttyStderr ?? false);
  const code = await main(argv, { stdout, stderr, env: {}, stdin: Readable.from([]), ...io });
  return { code, stdout, stderr };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const ANSWER = "QnABot *streams* answers — ✓ 日本語 🎉.";
const CITATIONS = [{ text: "t", sources: [{ uri: "https://docs.example/qnabot", title: "QnABot guide" }, { uri: "s3://kb/doc.md" }] }];

describe("client: qnabot-stream against a fake gateway", () => {
  let gateway: FakeGateway | undefined;
  let pageServer: ChatServer | undefined;
  let local: string;

  async function startStack(options: Parameters<typeof startFakeGateway>[0]): Promise<FakeGateway> {
    const started = await startFakeGateway(options);
    gateway = started;
    pageServer = await startChatServer({ sign: fakeSigner(started), page: await chatPage(), label: "fake" });
    local = pageServer.url;
    return started;
  }

  async function stopStack(): Promise<void> {
    await pageServer?.close();
    await gateway?.close();
    pageServer = gateway = undefined;
  }

  afterEach(stopStack);

  it("streams the answer to stdout as it arrives, then the sources (--local)", async () => {
    const gateway = await startStack({ onAsk: streamAnswer(ANSWER, { chunks: 5, citations: CITATIONS }) });
    const { code, stdout, stderr } = await run(["ask", "How", "does", "it", "stream?", "--local", local, "--mode", "kb", "--session-id", "cli-test"]);
    expect(stderr.text).to.equal("");
    expect(code).to.equal(EXIT.ok);
    expect(stdout.text).to.equal(`${ANSWER}\n\nSources:\n  [1] QnABot guide — https://docs.example/qnabot\n  [2] s3://kb/doc.md\n`);
    // Written delta by delta, not at the end.
    expect(stdout.writes.slice(0, 5).join("")).to.equal(ANSWER);
    const connection = gateway.connections[0];
    expect(connection.url.searchParams.get("sessionId")).to.equal("cli-test");
    expect(JSON.parse(connection.frames[0])).to.deep.equal({ action: "ping" });
    expect(connection.asks[0]).to.include({ question: "How does it stream?", mode: "kb" });
  });

  it("--json prints each envelope of the request on its own line, ignoring other requests", async () => {
    const gateway = await startStack({
      onAsk: async (ask, connection) => {
        connection.send(envelope("delta", "another-tab", 0, { text: "not ours" }));
        await streamAnswer("ok", { chunks: 2 })(ask, connection);
      },
    });
    const { code, stdout } = await run(["ask", "q", "--local", local, "--json"]);
    expect(code).to.equal(EXIT.ok);
    const lines = stdout.text.trimEnd().split("\n").map((line) => JSON.parse(line) as { type: string; requestId: string; seq: number });
    expect(lines.map((line) => line.type)).to.deep.equal(["start", "delta", "delta", "end"]);
    expect(new Set(lines.map((line) => line.requestId)).size).to.equal(1);
    expect(lines[0].requestId).to.equal(gateway.connections[0].asks[0].requestId);
    expect(lines.map((line) => line.seq)).to.deep.equal([0, 1, 2, 3]);
  });

  it("signs with AWS credentials for --endpoint", async () => {
    const gateway = await startStack({});
    const { code, stdout } = await run(["ask", "q", "--endpoint", gateway.endpoint, "--region", "us-east-1"], {
      credentials: async () => ({ accessKeyId: "AKIDCLI", secretAccessKey: "secret" }),
    });
    expect(code).to.equal(EXIT.ok);
    expect(stdout.text).to.equal("Hello **world**, streamed.\n");
    const query = gateway.connections[0].url.searchParams;
    expect(query.get("X-Amz-Credential")).to.match(/^AKIDCLI\/\d{8}\/us-east-1\/execute-api\/aws4_request$/);
    expect(query.get("format")).to.equal("json");
  });

  it("exits 3 when the gateway refuses the signature", async () => {
    await startStack({ refuse: () => ({ status: 403, body: '{"message":"Forbidden"}' }) });
    const { code, stdout, stderr } = await run(["ask", "q", "--local", local]);
    expect(code).to.equal(EXIT.auth);
    expect(stdout.text).to.equal("");
    expect(stderr.text).to.match(/^qnabot-stream: ws:\/\/127\.0\.0\.1:\d+\/Prod refused the connection \(403\): Forbidden; check the credentials/);
    expect(stderr.text.trimEnd().split("\n")).to.have.length(1);
    expect(stderr.text).not.to.include("X-Amz-Signature");
  });

  it("exits 3 when the signed-URL endpoint refuses, 5 when it fails otherwise", async () => {
    const answer = (status: number) => async () => new Response(JSON.stringify({ error: "nope" }), { status });
    const refused = await run(["ask", "q", "--local", "http://127.0.0.1:1/"], { fetch: answer(401) });
    expect(refused.code).to.equal(EXIT.auth);
    expect(refused.stderr.text).to.equal("qnabot-stream: signed-URL endpoint answered 401: nope\n");
    expect((await run(["ask", "q", "--local", "http://127.0.0.1:1/"], { fetch: answer(502) })).code).to.equal(EXIT.protocol);
  });

  it("exits 4 when nothing listens", async () => {
    const port = await closedPort();
    const viaLocal = await run(["ask", "q", "--local", `http://127.0.0.1:${port}`]);
    expect(viaLocal.code).to.equal(EXIT.network);
    expect(viaLocal.stderr.text).to.equal(`qnabot-stream: cannot reach http://127.0.0.1:${port}/: ECONNREFUSED\n`);
    const viaEndpoint = await run(["ask", "q", "--endpoint", `ws://127.0.0.1:${port}/Prod`, "--region", "us-east-1"], {
      credentials: async () => ({ accessKeyId: "AKID", secretAccessKey: "secret" }),
    });
    expect(viaEndpoint.code).to.equal(EXIT.network);
    expect(viaEndpoint.stderr.text).to.equal(`qnabot-stream: cannot connect to ws://127.0.0.1:${port}/Prod: ECONNREFUSED\n`);
  });

  it("exits 4 when the connection drops mid-answer and the answer cannot be resumed, after printing what arrived", async () => {
    const gateway = await startStack({ onAsk: streamAnswer("one two three four", { chunks: 4, dropAfter: 2 }) });
    const { code, stdout, stderr } = await run(["ask", "q", "--local", local]);
    expect(code).to.equal(EXIT.network);
    expect(stdout.text).to.equal("one two th\n");
    expect(stderr.text).to.equal(
      "connection closed (code 1006); reconnecting to resume the answer…\n" +
        "qnabot-stream: the connection dropped and the rest of the answer could not be fetched: There is no answer with this requestId to resume.\n",
    );
    // The new socket is of the same session and asked for the rest after the last seq applied.
    expect(gateway.connections).to.have.length(2);
    expect(gateway.connections[1].url.searchParams.get("sessionId")).to.equal(gateway.connections[0].url.searchParams.get("sessionId"));
    expect(gateway.connections[1].resumes).to.deep.equal([{ action: "resume", requestId: gateway.connections[0].asks[0].requestId, afterSeq: 2 }]);
  });

  it("resumes an answer after a drop: the rest arrives once, seq gaps and replayed frames notwithstanding (issue 11)", async () => {
    // seq is the answer's position: each delta's seq is the position of its last character.
    const parts = ["Resumable ", "answers ", "arrive ", "whole."];
    const frames = (requestId: string) => {
      const list: Envelope[] = [envelope("start", requestId, 0, {})];
      let position = 0;
      for (const text of parts) list.push(envelope("delta", requestId, (position += text.length), { text }));
      list.push(envelope("end", requestId, position + 1, { final: parts.join(""), stopReason: "end_turn", metrics: { ttftMs: 1, totalMs: 1, deltas: 4, frames: 4 } }));
      return list;
    };
    const gateway = await startStack({
      onAsk: (ask, connection) => {
        for (const frame of frames(ask.requestId).slice(0, 3)) connection.send(frame);
        setImmediate(() => connection.drop());
      },
      // The rest, plus one frame the client already has (a replay must not print twice).
      onResume: (resume, connection) => {
        for (const frame of frames(resume.requestId).filter((f) => f.seq >= resume.afterSeq)) connection.send(frame);
      },
    });
    const { code, stdout, stderr } = await run(["ask", "q", "--local", local, "--json"]);
    expect(code, stderr.text).to.equal(EXIT.ok);
    const seqs = stdout.text.trimEnd().split("\n").map((line) => (JSON.parse(line) as { seq: number }).seq);
    expect(seqs).to.deep.equal(frames("x").map((f) => f.seq));
    expect(gateway.connections[1].resumes[0].afterSeq).to.equal(18);
    const plain = await run(["ask", "q", "--local", local]);
    expect(plain.stdout.text).to.equal("Resumable answers arrive whole.\n");
  });

  it("ask --local --http against a page server that signs no asks says how to ask instead (exit 2)", async () => {
    await startStack({});
    const { code, stdout, stderr } = await run(["ask", "q", "--local", local, "--http"]);
    expect(code).to.equal(EXIT.usage);
    expect(stdout.text).to.equal("");
    expect(stderr.text).to.equal(
      `qnabot-stream: ${local} does not sign asks for a function URL (no POST api/sign-ask): drop --http to ask over the WebSocket, or give --http <function URL> to sign with your credentials\n`,
    );
  });

  it("exits 5 on an error envelope, and on a frame that is not an envelope", async () => {
    await startStack({ onAsk: streamAnswer("partial answer", { chunks: 2, error: { code: "model_error", message: "the model stream failed" } }) });
    const failed = await run(["ask", "q", "--local", local]);
    expect(failed.code).to.equal(EXIT.protocol);
    expect(failed.stdout.text).to.equal("partial answer\n");
    expect(failed.stderr.text).to.equal("qnabot-stream: the server reported model_error: the model stream failed\n");
    await stopStack();

    await startStack({ onAsk: (_ask, connection) => connection.send("raw text frame") });
    const garbled = await run(["ask", "q", "--local", local]);
    expect(garbled.code).to.equal(EXIT.protocol);
    expect(garbled.stderr.text).to.match(/^qnabot-stream: bad frame from the server: frame is not JSON/);
  });

  it("exits 4 when no frame arrives within --timeout", async () => {
    await startStack({ onAsk: () => undefined });
    const { code, stderr } = await run(["ask", "q", "--local", local, "--timeout", "0.05"]);
    expect(code).to.equal(EXIT.network);
    expect(stderr.text).to.equal("qnabot-stream: no answer frame for 0.05 s; giving up\n");
  });

  it("exits 2 with a hint on bad usage", async () => {
    const { code, stderr } = await run(["ask"]);
    expect(code).to.equal(EXIT.usage);
    expect(stderr.text).to.match(/^qnabot-stream: say where to connect.*\nRun qnabot-stream --help for usage\.\n$/);
  });

  it("spins on a terminal's stderr until the first token, and clears the line", async () => {
    await startStack({ onAsk: streamAnswer("hi there", { chunks: 2 }) });
    const { code, stdout, stderr } = await run(["ask", "q", "--local", local], { ttyStderr: true });
    expect(code).to.equal(EXIT.ok);
    expect(stdout.text).to.equal("hi there\n");
    // First what answers (the page server's label, on a terminal only: issue 23), then the spinner.
    expect(stderr.writes[0]).to.equal("answers from: fake\n");
    expect(stderr.writes[1]).to.match(/^\r\x1b\[2K. waiting for the first token…$/);
    expect(stderr.writes[2]).to.equal("\r\x1b[2K");
    // The footer ends with the tokens of end.usage (issue 24); the rate in between depends on timing.
    expect(stderr.text).to.match(/first token \d+ ms( · [^\n]*)? · 10 tokens in · 2 out\x1b\[0m\n$/);
  });

  it("chat: answers each line on one connection, switches mode, and stops at end of input", async () => {
    const gateway = await startStack({ onAsk: (ask, connection) => streamAnswer(`answer to ${ask.question} (${ask.mode})`)(ask, connection) });
    const stdin = Readable.from(["first?\n", "/mode kb\n", "\n", "second?\n"]);
    const { code, stdout, stderr } = await run(["chat", "--local", local], { stdin });
    expect(code).to.equal(EXIT.ok);
    expect(stdout.text).to.equal("answer to first? (llm)\nanswer to second? (kb)\n");
    expect(stderr.text).to.equal("mode: kb\n");
    expect(gateway.connections).to.have.length(1);
  });

  it("chat: reconnects with a fresh signature after a drop and reports the failed answer's code", async () => {
    let asks = 0;
    const gateway = await startStack({
      onAsk: (ask, connection) => (++asks === 1 ? streamAnswer("cut", { chunks: 2, dropAfter: 1 }) : streamAnswer("whole"))(ask, connection),
    });
    const stdin = Readable.from(["one\n", "two\n"]);
    const { code, stdout } = await run(["chat", "--local", local], { stdin });
    expect(code).to.equal(EXIT.network);
    expect(stdout.text).to.equal("cu\nwhole\n");
    expect(gateway.connections).to.have.length(2);
    expect(gateway.connections[1].url.searchParams.get("X-Amz-Signature")).to.equal("sig2");
  });

  it("runs as a program (the qnabot-stream bin) with the right exit code", async function () {
    this.timeout(20_000);
    await startStack({ onAsk: streamAnswer("from a child process", { chunks: 3 }) });
    const root = path.join(__dirname, "../..");
    const child = spawn(process.execPath, [path.join(root, "node_modules/tsx/dist/cli.mjs"), "client/cli.ts", "ask", "q", "--local", local], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).to.equal(0);
    expect(stdout).to.equal("from a child process\n");
  });

  it("exits 3 with one line naming the fix when there are no AWS credentials (--endpoint)", async () => {
    const gateway = await startStack({});
    const { code, stdout, stderr } = await run(["ask", "q", "--endpoint", gateway.endpoint, "--region", "us-east-1"], {
      credentials: async () => {
        throw new Error("Could not load credentials from any providers");
      },
    });
    expect(code).to.equal(EXIT.auth);
    expect(stdout.text).to.equal("");
    expect(stderr.text).to.equal(
      "qnabot-stream: no usable AWS credentials (Could not load credentials from any providers); configure the default chain, e.g. aws configure, AWS_PROFILE or aws sso login\n",
    );
  });

  it("chat: /help, /mode and unknown slash commands are handled locally, never sent to the model", async () => {
    const gateway = await startStack({ onAsk: (ask, connection) => streamAnswer(`answer to ${ask.question}`)(ask, connection) });
    const stdin = Readable.from(["/help\n", "/xyz\n", "/mode\n", "//etc is a folder?\n", "/quit\n", "never asked\n"]);
    const { code, stdout, stderr } = await run(["chat", "--local", local], { stdin });
    expect(code).to.equal(EXIT.ok);
    expect(stderr.text).to.equal(
      `${CHAT_HELP}\nunknown command /xyz: /help lists the commands (start with // to ask a question that begins with /)\n/mode takes one of: llm, kb\n`,
    );
    expect(gateway.connections[0].asks.map((ask) => ask.question)).to.deep.equal(["/etc is a folder?"]);
    expect(stdout.text).to.equal("answer to /etc is a folder?\n");
  });

  it("chat: says a question over the length limit is not sent, instead of sending it", async () => {
    const gateway = await startStack({});
    const { code, stderr } = await run(["chat", "--local", local], { stdin: Readable.from([`${"x".repeat(4001)}\n`]) });
    expect(code).to.equal(EXIT.ok);
    expect(stderr.text).to.equal("question is 4001 characters, longer than the 4000 allowed; not sent\n");
    expect(gateway.connections[0].asks).to.have.length(0);
  });

  it("chat: Ctrl-C during an answer cancels it and returns to the prompt, the next question is answered, and Ctrl-C twice at the prompt leaves", async () => {
    const gateway = await startStack({
      onAsk: async (ask, connection) => {
        if (ask.question !== "first?") return streamAnswer(`second answer`)(ask, connection);
        connection.send(envelope("start", ask.requestId, 0, {}));
        connection.send(envelope("delta", ask.requestId, 16, { text: "first, part one " }));
      },
      // As the API does: the answer ends at the next checkpoint with what was generated.
      onCancel: (cancel, connection) => {
        connection.send(envelope("end", cancel.requestId, 17, { final: "first, part one", stopReason: "cancelled", metrics: { ttftMs: 1, totalMs: 1, deltas: 1, frames: 1 } }));
      },
    });
    // A terminal: readline turns the Ctrl-C byte into its SIGINT event, as on a real tty.
    const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
    const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
    let errText = "";
    stderr.on("data", (chunk: Buffer) => (errText += chunk.toString()));
    const stdout = new Capture();
    const until = async (condition: () => boolean) => {
      while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    const done = main(["chat", "--local", local], { stdout, stderr, stdin, env: {} });

    await until(() => errText.includes("? "));
    stdin.write("first?\r");
    await until(() => stdout.text.includes("first, part one"));
    stdin.write("\x03");
    await until(() => errText.includes("(stopped: the answer above is what was generated until then)"));
    expect(gateway.connections[0].cancels).to.deep.equal([{ action: "cancel", requestId: gateway.connections[0].asks[0].requestId }]);
    stdin.write("second?\r");
    await until(() => stdout.text.includes("second answer"));
    stdin.write("\x03");
    await until(() => errText.includes("press Ctrl-C again to leave"));
    stdin.write("\x03");
    // Stopping an answer is not a failure of the session.
    expect(await done).to.equal(EXIT.ok);
    expect(stdout.text).to.equal("first, part one \nsecond answer\n");
    expect(gateway.connections).to.have.length(1);
  });

  it("ask: Ctrl-C sends cancel once the answer started, prints what was generated and exits 130 (issue 12)", async () => {
    let interrupt!: () => void;
    const gateway = await startStack({
      onAsk: (ask, connection) => {
        connection.send(envelope("start", ask.requestId, 0, {}));
        connection.send(envelope("delta", ask.requestId, 9, { text: "Generated" }));
        setImmediate(() => interrupt());
      },
      onCancel: (cancel, connection) => {
        connection.send(envelope("delta", cancel.requestId, 15, { text: " so far" }));
        connection.send(envelope("end", cancel.requestId, 16, { final: "Generated so far", stopReason: "cancelled", metrics: { ttftMs: 1, totalMs: 1, deltas: 2, frames: 2 } }));
      },
    });
    const { code, stdout, stderr } = await run(["ask", "q", "--local", local], { onInterrupt: (handler) => ((interrupt = handler), () => undefined) });
    expect(code).to.equal(EXIT.cancelled);
    expect(code).to.equal(130);
    expect(stdout.text).to.equal("Generated so far\n");
    expect(stderr.text).to.equal("stopping the answer…\n(stopped: the answer above is what was generated until then)\n");
    expect(gateway.connections[0].cancels).to.have.length(1);
  });

  it("a stop before the answer starts waits for its start to cancel it; without the server's end it ends here after stopWaitMs", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const gateway = await startStack({
      onAsk: async (ask, connection) => {
        await held;
        connection.send(envelope("start", ask.requestId, 0, {}));
        connection.send(envelope("delta", ask.requestId, 4, { text: "part" }));
      },
    });
    const socket = await openSocket(await fakeSigner(gateway)("stop-test"));
    try {
      const early = new AbortController();
      early.abort();
      const request = { requestId: "r-early", question: "q", mode: "llm" as const };
      await askOnSocket(socket, request, {}, { timeoutMs: 5000, stop: early.signal }).then(
        () => expect.fail("expected the answer to be stopped"),
        (error) => expect(error).to.be.instanceOf(AnswerStoppedError),
      );
      const late = new AbortController();
      const answering = askOnSocket(socket, { ...request, requestId: "r-late" }, {}, { timeoutMs: 5000, stop: late.signal, stopWaitMs: 300 });
      const connection = await gateway.connection(0);
      while (connection.asks.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      late.abort();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(connection.cancels, "no cancel before the answer started").to.have.length(0);
      release();
      const answer = await answering;
      expect(connection.cancels).to.deep.equal([{ action: "cancel", requestId: "r-late" }]);
      expect(answer).to.include({ status: "done", stopReason: "cancelled", text: "part" });
      // The stopped-before-sending question never reached the server.
      expect(connection.asks.map((ask) => ask.requestId)).to.deep.equal(["r-late"]);
    } finally {
      socket.terminate();
    }
  });

  it("exits 0 quietly when the reader closes the pipe early (qnabot-stream ask … | head -1)", async function () {
    this.timeout(20_000);
    let releaseRest!: () => void;
    const rest = new Promise<void>((resolve) => (releaseRest = resolve));
    await startStack({
      onAsk: async (ask, connection) => {
        connection.send(envelope("start", ask.requestId, 0, {}));
        connection.send(envelope("delta", ask.requestId, 1, { text: "first line\n" }));
        await rest;
        for (let seq = 2; seq < 12; seq += 1) connection.send(envelope("delta", ask.requestId, seq, { text: `line ${seq}\n` }));
        connection.send(envelope("end", ask.requestId, 12, { final: "x", stopReason: "end_turn", metrics: { ttftMs: 1, totalMs: 1, deltas: 11, frames: 11 } }));
      },
    });
    const root = path.join(__dirname, "../..");
    const child = spawn(process.execPath, [path.join(root, "node_modules/tsx/dist/cli.mjs"), "client/cli.ts", "ask", "q", "--local", local], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    // Like `head -1`: read up to the first line, then close the pipe.
    child.stdout.once("data", () => {
      child.stdout.destroy();
      releaseRest();
    });
    expect(await closed).to.equal(0);
    expect(stderr).to.equal("");
  });
});
