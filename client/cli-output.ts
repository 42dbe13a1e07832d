/**
 * How the CLI shows an answer: streamed text on stdout as it arrives (a terminal cannot
 * replace it with the final answer, so the citations follow it), or raw envelopes with
 * --json; notes, stats and errors on stderr. Text that came from the server (the answer, a
 * source's title or URI, an error message) goes through TerminalText first, so it cannot
 * retitle, clear or rewrite the user's terminal; only the CLI's own colours are escapes.
 */
import type { Envelope, ProgressStage } from "../functions/shared/protocol";
import { EXIT, type ExitCode } from "./exit-codes";
import { Spinner, type TerminalStream } from "./spinner";
import { TerminalText, terminalSafe } from "./terminal-text";
import { citedSources, type Answer } from "./web/conversation";
import { answerStats, formatStats } from "./web/status";
import { footerText } from "./web/usage";

/**
 * The numbered sources: the answer's own (`end.sources`, numbered as its `[n]` markers, with
 * the link to open where there is one), else the cited ones in first-cited order.
 */
export function formatSources(sources: readonly { uri: string; title?: string; url?: string; n?: number }[]): string {
  if (sources.length === 0) return "";
  const lines = sources.map((source, index) => {
    const target = source.url ?? source.uri;
    return terminalSafe(`  [${source.n ?? index + 1}] ${source.title ? `${source.title} — ${target}` : target}`);
  });
  return `\nSources:\n${lines.join("\n")}\n`;
}

export class AnswerPrinter {
  private readonly spinner: Spinner;
  private lastWritten = "\n";
  /** One per answer: an escape sequence cut between two deltas is still dropped whole. */
  private readonly text = new TerminalText();
  /** The reasoning's own, so an escape cut in it never swallows answer text. */
  private readonly reasoning = new TerminalText();
  private reasoningStarted = false;

  constructor(
    private readonly stdout: TerminalStream,
    private readonly stderr: TerminalStream,
    private readonly json: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.spinner = new Spinner(stderr, "waiting for the first token…");
  }

  /** Call when the question was sent. */
  waiting(): void {
    this.spinner.start();
  }

  onEnvelope(envelope: Envelope): void {
    // JSON escapes C0 controls but not C1 ones (U+0080-U+009F), which some terminals obey: escape those too.
    if (this.json) this.stdout.write(`${JSON.stringify(envelope).replace(/[\u0080-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}\n`);
  }

  /** A knowledge-base stage: the spinner says it until the first token. */
  onProgress(stage: ProgressStage): void {
    this.spinner.relabel(stage === "retrieving" ? "searching the knowledge base…" : "writing the answer…");
  }

  /**
   * The model's reasoning, on stderr (stdout stays the answer), dimmed on a terminal and
   * headed once, so it reads apart from the answer that follows.
   */
  onReasoning(chunk: string): void {
    if (this.json) return;
    const text = this.reasoning.push(chunk);
    if (text === "") return;
    this.spinner.stop();
    const dim = this.stderr.isTTY === true;
    const head = this.reasoningStarted ? "" : "reasoning:\n";
    this.reasoningStarted = true;
    this.stderr.write(dim ? `\x1b[2m${head}${text}\x1b[0m` : `${head}${text}`);
  }

  onText(chunk: string): void {
    this.spinner.stop();
    if (this.json) return;
    if (this.reasoningStarted) {
      // The reasoning ends on a line of its own before the answer starts.
      this.stderr.write("\n");
      this.reasoningStarted = false;
    }
    const text = this.text.push(chunk);
    if (text === "") return;
    this.stdout.write(text);
    this.lastWritten = text;
  }

  /** A note on its own line of stderr (reconnecting, stopping). */
  note(text: string): void {
    this.spinner.stop();
    // On a terminal, stdout and stderr share lines: start the note on a line of its own.
    const fresh = this.stderr.isTTY && !this.json && !this.lastWritten.endsWith("\n") ? "\n" : "";
    this.stderr.write(`${fresh}${text}\n`);
  }

  /** Stops the spinner after a failure; the caller prints the error. */
  abort(): void {
    this.spinner.stop();
    if (!this.json && !this.lastWritten.endsWith("\n")) this.stdout.write("\n");
  }

  /** Prints the rest of the answer and returns the exit code it deserves. */
  finish(answer: Answer): ExitCode {
    this.spinner.stop();
    if (!this.json) {
      if (answer.status === "done" && answer.text === "" && answer.final) this.onText(answer.final);
      if (!this.lastWritten.endsWith("\n")) this.stdout.write("\n");
      if (answer.status === "done") this.stdout.write(formatSources(answer.sources ?? citedSources(answer)));
    }
    if (answer.guardrail !== undefined) this.stderr.write(`guardrail: ${terminalSafe(answer.guardrail)}\n`);
    if (this.stderr.isTTY) {
      const stats = footerText(formatStats(answerStats(answer, this.now())), answer.status === "done" ? answer.usage : undefined);
      if (stats) this.stderr.write(`\x1b[2m${stats}\x1b[0m\n`);
    }
    if (answer.status === "done" && answer.stopReason === "cancelled") {
      this.stderr.write(`(stopped: the answer above is what was generated until then)\n`);
      return EXIT.cancelled;
    }
    if (answer.status === "error") {
      this.stderr.write(`qnabot-stream: the server reported ${terminalSafe(`${answer.error?.code}: ${answer.error?.message}`)}\n`);
      return EXIT.protocol;
    }
    return EXIT.ok;
  }
}
