import { expect } from "chai";
import { AnswerPrinter } from "../../client/cli-output";

class Capture {
  text = "";
  constructor(readonly isTTY = false) {}
  write(text: string): boolean {
    this.text += text;
    return true;
  }
}

describe("client: the CLI's reasoning and progress output", () => {
  it("prints the reasoning on stderr through the terminal filter, dimmed on a terminal, ended before the answer on stdout", () => {
    const stdout = new Capture();
    const stderr = new Capture(true);
    const printer = new AnswerPrinter(stdout, stderr, false);
    // A title-setting escape cut between two chunks: dropped whole, as in the answer.
    printer.onReasoning("Thinking \x1b]0;pwn");
    printer.onReasoning("ed\x07about it.");
    printer.onText("Answer.");
    const plain = stderr.text.replace(/\x1b\[[0-9;]*m/g, "");
    expect(plain).to.equal("reasoning:\nThinking about it.\n");
    expect(stderr.text).to.not.contain("\x1b]");
    expect(stderr.text).to.contain("\x1b[2m");
    expect(stdout.text).to.equal("Answer.");
  });

  it("prints the reasoning undimmed when stderr is not a terminal, and nothing of it with --json", () => {
    const stderr = new Capture(false);
    new AnswerPrinter(new Capture(), stderr, false).onReasoning("Plain.");
    expect(stderr.text).to.equal("reasoning:\nPlain.");
    const json = new Capture(false);
    new AnswerPrinter(new Capture(), json, true).onReasoning("Hidden.");
    expect(json.text).to.equal("");
  });

  it("says a knowledge-base stage on the spinner at once", () => {
    const stderr = new Capture(true);
    const printer = new AnswerPrinter(new Capture(), stderr, false);
    printer.waiting();
    printer.onProgress("retrieving");
    printer.onProgress("generating");
    printer.onText("x");
    expect(stderr.text).to.contain("searching the knowledge base…").and.contain("writing the answer…");
  });
});
