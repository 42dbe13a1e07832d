/**
 * `qnabot-stream chat`: questions from a readline prompt, answers streamed. One socket,
 * kept alive with pings, replaced by a freshly signed one when it dropped or nears the
 * 2 h limit (checked before each question, so no answer is cut by a renewal). A drop
 * during an answer reconnects at once and resumes it; Ctrl-C during an answer cancels it
 * and returns to the prompt.
 */
import * as readline from "node:readline";
import type WebSocket from "ws";
import type { AnswerMode } from "../functions/shared/protocol";
import type { UrlSigner } from "./chat-server";
import { CHAT_HELP, parseChatLine } from "./chat-commands";
import { AnswerStoppedError, askOnSocket } from "./cli-answer";
import type { SessionOptions } from "./cli-args";
import { feedbackLine, sendFeedback } from "./cli-feedback";
import { AnswerPrinter } from "./cli-output";
import { openSocket } from "./cli-socket";
import { CliError, EXIT, type ExitCode } from "./exit-codes";
import type { TerminalStream } from "./spinner";
import { randomId } from "./web/ids";

const PING = JSON.stringify({ action: "ping" });
const PING_INTERVAL_MS = 9 * 60_000;
const RENEW_AFTER_MS = 110 * 60_000;

export interface ChatIo {
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly stdout: TerminalStream;
  readonly stderr: TerminalStream;
}

class ChatConnection {
  private socket?: WebSocket;
  private openedAt = 0;
  private keepalive?: ReturnType<typeof setInterval>;
  /** Set while an answer is followed: its follower reports a drop (and resumes) itself. */
  answering = false;

  constructor(
    private readonly sign: UrlSigner,
    private readonly sessionId: string,
    private readonly note: (text: string) => void,
  ) {}

  async ready(): Promise<WebSocket> {
    const current = this.socket;
    if (current && current.readyState === current.OPEN && Date.now() - this.openedAt < RENEW_AFTER_MS) return current;
    this.close();
    const socket = await openSocket(await this.sign(this.sessionId));
    socket.send(PING);
    this.keepalive = setInterval(() => socket.send(PING), PING_INTERVAL_MS);
    this.keepalive.unref();
    socket.once("close", (code) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearInterval(this.keepalive);
      if (!this.answering) this.note(`connection closed (code ${code}); the next question reconnects`);
    });
    this.socket = socket;
    this.openedAt = Date.now();
    return socket;
  }

  close(): void {
    const socket = this.socket;
    this.socket = undefined;
    clearInterval(this.keepalive);
    socket?.close(1000, "client done");
  }
}

/** Ctrl-C: stops the answer being generated, or at an idle prompt asks for a second press before leaving. */
class Interrupts {
  private current?: AbortController;
  /** Between answering() and idle(): the answer is being followed (or stopped). */
  private busy = false;
  private idlePresses = 0;

  constructor(
    private readonly lines: readline.Interface,
    private readonly stderr: TerminalStream,
  ) {
    lines.on("SIGINT", () => this.press());
  }

  /** A signal that aborts on the next Ctrl-C, for one answer. */
  answering(): AbortSignal {
    this.idlePresses = 0;
    this.busy = true;
    this.current = new AbortController();
    return this.current.signal;
  }

  idle(): void {
    this.busy = false;
    this.current = undefined;
  }

  /** Anything typed resets the double press. */
  typed(): void {
    this.idlePresses = 0;
  }

  private press(): void {
    if (this.busy) {
      // The first press stops the answer; more presses while the server confirms change nothing (bounded wait).
      this.current?.abort();
      this.current = undefined;
      return;
    }
    this.idlePresses += 1;
    if (this.idlePresses >= 2) {
      this.stderr.write("\n");
      this.lines.close();
      return;
    }
    // Clears what was typed, as a shell does.
    this.lines.write(null, { ctrl: true, name: "e" });
    this.lines.write(null, { ctrl: true, name: "u" });
    this.stderr.write("\n(press Ctrl-C again to leave, or type /quit)\n");
    this.lines.prompt();
  }
}

/** Returns 0, or the code of the first failure (so scripts piping questions see it). */
export async function chatLoop(options: SessionOptions, sign: UrlSigner, io: ChatIo): Promise<ExitCode> {
  const sessionId = options.sessionId ?? randomId("cli-");
  const connection = new ChatConnection(sign, sessionId, (text) => io.stderr.write(`\n${text}\n`));
  const interactive = Boolean(io.stdin.isTTY && io.stderr.isTTY);
  let mode: AnswerMode = options.mode;
  let exitCode: ExitCode = EXIT.ok;
  /** The last answer that ended (stopped ones too): what `/good` and `/bad` rate. */
  let lastAnswered: string | undefined;

  try {
    await connection.ready();
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    io.stderr.write(`qnabot-stream: ${error.message}\n`);
    return error.exitCode;
  }
  // The prompt goes to stderr so that stdout carries only answers.
  const lines = readline.createInterface({ input: io.stdin, output: interactive ? (io.stderr as NodeJS.WritableStream) : undefined, terminal: interactive, prompt: "? " });
  const interrupts = new Interrupts(lines, io.stderr);
  if (interactive) {
    io.stderr.write(`${CHAT_HELP}\n`);
    lines.prompt();
  }
  try {
    for await (const raw of lines) {
      interrupts.typed();
      const line = parseChatLine(raw);
      if (line.kind === "quit") break;
      if (line.kind === "help") io.stderr.write(`${CHAT_HELP}\n`);
      if (line.kind === "invalid") io.stderr.write(`${line.message}\n`);
      if (line.kind === "mode") {
        mode = line.mode;
        io.stderr.write(`mode: ${mode}\n`);
      }
      if (line.kind === "feedback") {
        if (lastAnswered === undefined) io.stderr.write("no answer to rate yet: ask a question first\n");
        else {
          try {
            const feedback = { requestId: lastAnswered, rating: line.rating, ...(line.comment === undefined ? {} : { comment: line.comment }) };
            io.stderr.write(`${feedbackLine(line.rating, await sendFeedback(await connection.ready(), feedback, options.timeoutMs))}\n`);
          } catch (error) {
            if (!(error instanceof CliError)) throw error;
            io.stderr.write(`qnabot-stream: ${error.message}\n`);
          }
        }
      }
      if (line.kind === "question") {
        const printer = new AnswerPrinter(io.stdout, io.stderr, options.json);
        // Armed before connecting, so a Ctrl-C while the socket opens stops this question too.
        const stop = interrupts.answering();
        try {
          const socket = await connection.ready();
          connection.answering = true;
          printer.waiting();
          const requestId = randomId();
          const answer = await askOnSocket(
            socket,
            { requestId, question: line.text, mode, reasoning: options.reasoning },
            {
              onEnvelope: (envelope) => printer.onEnvelope(envelope),
              onText: (text) => printer.onText(text),
              onNote: (text) => printer.note(text),
              onReasoning: (text) => printer.onReasoning(text),
              onProgress: (stage) => printer.onProgress(stage),
            },
            { timeoutMs: options.timeoutMs, stop, reconnect: () => connection.ready() },
          );
          const code = printer.finish(answer);
          if (answer.status === "done") lastAnswered = requestId;
          // A stopped answer is the reader's choice, not a failure of the session.
          if (exitCode === EXIT.ok && code !== EXIT.cancelled) exitCode = code;
        } catch (error) {
          printer.abort();
          if (error instanceof AnswerStoppedError) {
            io.stderr.write("(stopped before the question was sent; ask the next question)\n");
          } else {
            if (!(error instanceof CliError)) throw error;
            io.stderr.write(`qnabot-stream: ${error.message}\n`);
            if (exitCode === EXIT.ok) exitCode = error.exitCode;
          }
        } finally {
          connection.answering = false;
          interrupts.idle();
        }
      }
      if (interactive) lines.prompt();
    }
  } finally {
    lines.close();
    connection.close();
  }
  return exitCode;
}
