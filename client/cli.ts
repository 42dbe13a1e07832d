#!/usr/bin/env -S npx tsx
/**
 * `qnabot-stream`: ask a deployed or local stack from a terminal and watch the answer
 * stream. `main` takes its streams and credentials injected, so tests run it in-process.
 */
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import type WebSocket from "ws";
import { AnswerStoppedError, askOnSocket } from "./cli-answer";
import { askOverHttp } from "./cli-http";
import { CLI_USAGE, parseCliArgs, type CliCommand } from "./cli-args";
import { chatLoop } from "./cli-chat";
import { AnswerPrinter } from "./cli-output";
import { openSocket } from "./cli-socket";
import { signerFor, type TargetDeps } from "./cli-target";
import { CliError, EXIT, UsageError, type ExitCode } from "./exit-codes";
import { onInterrupt } from "./interrupt";
import type { TerminalStream } from "./spinner";
import { randomId } from "./web/ids";

export interface CliIo {
  readonly stdout: TerminalStream;
  readonly stderr: TerminalStream;
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** @default the default credential chain */
  readonly credentials?: AwsCredentialIdentityProvider;
  /** @default global fetch */
  readonly fetch?: typeof fetch;
  /**
   * Calls `handler` on each Ctrl-C of `ask` until the returned function is called.
   * @default Ctrl-C (interrupt.ts): the first press stops the answer, a second one leaves at once (exit 130)
   */
  readonly onInterrupt?: (handler: () => void) => () => void;
}

/** Closes cleanly, but does not let a silent server keep the process alive. */
function closeSocket(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === socket.CLOSED) return resolve();
    const timer = setTimeout(() => socket.terminate(), 2000);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.close(1000, "client done");
  });
}

async function ask(command: Extract<CliCommand, { kind: "ask" }>, io: CliIo): Promise<ExitCode> {
  const printer = new AnswerPrinter(io.stdout, io.stderr, command.json);
  const stop = new AbortController();
  const unsubscribe = (io.onInterrupt ?? onInterrupt)(() => stop.abort());
  try {
    const target = command.target;
    if (target.kind === "http" || target.kind === "http-local") {
      try {
        return await askOverHttp(command, target, printer, stop.signal, io);
      } catch (error) {
        printer.abort();
        throw error;
      }
    }
    const sessionId = command.sessionId ?? randomId("cli-");
    const sign = signerFor(target, withLabelNote(io));
    let socket = await openSocket(await sign(sessionId));
    try {
      socket.send(JSON.stringify({ action: "ping" }));
      printer.waiting();
      const answer = await askOnSocket(
        socket,
        { requestId: randomId(), question: command.question, mode: command.mode, reasoning: command.reasoning },
        {
          onEnvelope: (envelope) => printer.onEnvelope(envelope),
          onText: (text) => printer.onText(text),
          onNote: (text) => printer.note(text),
          onReasoning: (text) => printer.onReasoning(text),
          onProgress: (stage) => printer.onProgress(stage),
        },
        {
          timeoutMs: command.timeoutMs,
          stop: stop.signal,
          // Same session, same caller: the answer's journal resumes on the new socket.
          reconnect: async () => (socket = await openSocket(await sign(sessionId))),
        },
      );
      return printer.finish(answer);
    } catch (error) {
      printer.abort();
      if (error instanceof AnswerStoppedError) return EXIT.cancelled;
      throw error;
    } finally {
      await closeSocket(socket);
    }
  } finally {
    unsubscribe();
  }
}

/** On a terminal, says once what answers: the local stack's label names the offline model and what it knows. */
function withLabelNote(io: CliIo): CliIo & TargetDeps {
  return { ...io, onLabel: (label) => void (io.stderr.isTTY && io.stderr.write(`answers from: ${label}\n`)) };
}

export async function main(argv: readonly string[], overrides: Partial<CliIo> = {}): Promise<ExitCode> {
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, ...overrides };
  let command: CliCommand;
  try {
    command = parseCliArgs(argv, io.env);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    io.stderr.write(`qnabot-stream: ${error.message}\nRun qnabot-stream --help for usage.\n`);
    return error.exitCode;
  }
  if (command.kind === "help") {
    io.stdout.write(`${CLI_USAGE}\n`);
    return EXIT.ok;
  }
  try {
    if (command.kind === "ask") return await ask(command, io);
    const target = command.target;
    if (target.kind === "http" || target.kind === "http-local") throw new UsageError("chat talks over the WebSocket: --http is for ask");
    return await chatLoop(command, signerFor(target, withLabelNote(io)), io);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    io.stderr.write(`qnabot-stream: ${error.message}\n`);
    return error.exitCode;
  }
}

/**
 * A reader that stops early (`| head -1`) closes the pipe: further writes fail with EPIPE.
 * That is the reader's choice, not a failure, so the process leaves quietly with 0.
 */
function leaveQuietlyWhenThePipeCloses(stream: NodeJS.WriteStream): void {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(EXIT.ok);
  });
}

/** Runs the command line of this process and sets its exit code. */
export function run(): void {
  leaveQuietlyWhenThePipeCloses(process.stdout);
  leaveQuietlyWhenThePipeCloses(process.stderr);
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      process.stderr.write(`qnabot-stream: unexpected failure: ${error.stack ?? error.message}\n`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) run();
