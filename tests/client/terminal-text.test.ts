/**
 * Model text on a terminal (client/terminal-text.ts and the CLI's printer): escape sequences
 * that would retitle the window, clear or rewrite the screen or set the clipboard are dropped
 * whole, in 7-bit and C1 forms, even when a delta cuts them; the CLI's own colours stay. The
 * last test runs the real CLI in a pseudo-terminal (util-linux `script`) against a gateway
 * that sends such frames unsanitized, as a hook posting frames itself could.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import * as path from "node:path";
import fc from "fast-check";
import { startChatServer } from "../../client/chat-server";
import { AnswerPrinter } from "../../client/cli-output";
import { pageContentSecurityPolicy } from "../../client/web/csp";
import { MAX_CONTROL_STRING, TerminalText, terminalSafe } from "../../client/terminal-text";
import { fakeSigner, startFakeGateway, streamAnswer } from "./helpers/fake-gateway";

const ROOT = path.join(__dirname, "../..");

/** What a hostile document can carry for a terminal. */
const HOSTILE = [
  "\u001b]0;PWNED-TITLE\u0007", // OSC 0: window title, BEL-terminated
  "\u001b]2;PWNED-TITLE\u001b\\", // OSC 2, ST-terminated
  "\u001b]52;c;cHduZWQ=\u0007", // OSC 52: write the clipboard
  "\u001b[2J\u001b[H", // CSI: clear the screen, cursor home
  "\u001b[31;1mred\u001b[0m", // SGR colours
  "\u009b2J", // C1 CSI
  "\u009d0;PWNED-TITLE\u009c", // C1 OSC … C1 ST
  "\u001bPq#0;2;0;0;0\u001b\\", // DCS (sixel)
  "\u001bc", // RIS: reset the terminal
  "fake\rreal", // carriage return overwrites the line
  "abc\b\b\bxyz", // backspaces
];

const ESCAPES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe("model text on a terminal", function () {
  it("drops every hostile sequence whole and keeps the text around it", function () {
    const out = terminalSafe(`Answer: ${HOSTILE.join(" ")} done.\n\tindented`);
    expect(out).to.not.match(ESCAPES);
    expect(out).to.not.include("PWNED").and.not.include("cHduZWQ").and.not.include("2J");
    expect(out).to.include("Answer:").and.include("red").and.include("fakereal").and.include("abcxyz").and.include("done.\n\tindented");
  });

  it("a sequence cut between chunks is still dropped whole", function () {
    const text = `a${HOSTILE.join("b")}c`;
    const whole = terminalSafe(text);
    fc.assert(
      fc.property(fc.array(fc.nat(text.length), { maxLength: 8 }), (cuts) => {
        const points = [...new Set(cuts)].sort((x, y) => x - y);
        const filter = new TerminalText();
        const pieces = [0, ...points].map((start, i) => text.slice(start, [...points, text.length][i]));
        expect(pieces.map((piece) => filter.push(piece)).join("")).to.equal(whole);
      }),
    );
  });

  it("an unterminated control string swallows at most MAX_CONTROL_STRING characters", function () {
    const out = terminalSafe(`\u001b]0;${"x".repeat(MAX_CONTROL_STRING - 2)}visible`);
    expect(out).to.equal("visible");
  });

  it("the printer filters streamed text, sources and server errors, and keeps its own colours", function () {
    const stdout = { text: "", isTTY: true, write(t: string) { this.text += t; return true; } };
    const stderr = { text: "", isTTY: true, write(t: string) { this.text += t; return true; } };
    const printer = new AnswerPrinter(stdout, stderr, false, () => 1000);
    printer.onText("Hi \u001b]0;PWN");
    printer.onText("ED\u0007there");
    printer.finish({
      requestId: "r",
      question: "q",
      mode: "llm",
      status: "error",
      text: "Hi there",
      citations: [{ text: "t", sources: [{ uri: "s3://b/\u001b[2Jdoc", title: "T\u009d0;x\u009c" }] }],
      error: { code: "internal", message: "bad \u001b]0;PWNED\u0007", retryable: false },
      askedAt: 0,
    } as never);
    expect(stdout.text).to.equal("Hi there\n");
    expect(stderr.text).to.not.include("PWNED").and.not.include("\u001b]");
    expect(stderr.text).to.include("the server reported internal: bad ");
  });

  it("--json escapes C1 characters that JSON leaves raw", function () {
    const stdout = { text: "", isTTY: false, write(t: string) { this.text += t; return true; } };
    const printer = new AnswerPrinter(stdout, stdout, true);
    printer.onEnvelope({ v: 1, type: "delta", requestId: "r", seq: 1, text: "a\u009b2Jb\u001b" } as never);
    expect(stdout.text.trimEnd()).to.not.match(ESCAPES);
    expect(JSON.parse(stdout.text).text).to.equal("a\u009b2Jb\u001b");
  });

  it("through a real pseudo-terminal, the CLI prints the answer with no sequence but its own", async function () {
    this.timeout(60_000);
    const hostile = `Title ${HOSTILE.join(" ")} end of answer.`;
    const gateway = await startFakeGateway({ onAsk: streamAnswer(hostile, { chunks: 17 }) });
    const server = await startChatServer({ sign: fakeSigner(gateway), page: { html: "", js: "", css: "", csp: pageContentSecurityPolicy() } });
    try {
      const command = [process.execPath, path.join(ROOT, "node_modules/tsx/dist/cli.mjs"), "client/cli.ts", "ask", "q", "--local", server.url]
        .map((arg) => `'${arg}'`)
        .join(" ");
      // util-linux script(1) runs the command on a new PTY and copies what the terminal would show to its stdout.
      const { output, code } = await new Promise<{ output: string; code: number | null }>((resolve, reject) => {
        const child = spawn("script", ["-qefc", command, "/dev/null"], { cwd: ROOT, env: { ...process.env, TERM: "xterm-256color" } });
        let output = "";
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
        child.on("error", reject);
        child.on("close", (exit) => resolve({ output, code: exit }));
      });
      expect(code, output).to.equal(0);
      expect(output).to.include("end of answer.");
      // The CLI's own sequences on a terminal: the spinner's line clear and the dimmed stats.
      const own = output.replace(/\r\u001b\[2K/g, "").replace(/\u001b\[2m[^\u001b]*\u001b\[0m/g, "").replace(/\r\n/g, "\n");
      expect(own).to.not.match(ESCAPES);
      expect(own).to.not.include("PWNED").and.not.include("cHduZWQ");
    } finally {
      await server.close();
      await gateway.close();
    }
  });
});
