import { expect } from "chai";
import fc from "fast-check";
import { parseChatLine } from "../../client/chat-commands";
import { MAX_FEEDBACK_COMMENT_CHARS } from "../../functions/shared/feedback";
import { MAX_QUESTION_CHARS } from "../../functions/shared/protocol";

describe("client: qnabot-stream chat lines", () => {
  it("reads commands, case-insensitively, with surrounding blanks", () => {
    expect(parseChatLine("  /help ")).to.deep.equal({ kind: "help" });
    expect(parseChatLine("/HELP")).to.deep.equal({ kind: "help" });
    expect(parseChatLine("/quit")).to.deep.equal({ kind: "quit" });
    expect(parseChatLine("/exit")).to.deep.equal({ kind: "quit" });
    expect(parseChatLine("/mode kb")).to.deep.equal({ kind: "mode", mode: "kb" });
    expect(parseChatLine("/mode  llm")).to.deep.equal({ kind: "mode", mode: "llm" });
    expect(parseChatLine("")).to.deep.equal({ kind: "empty" });
    expect(parseChatLine(" \t ")).to.deep.equal({ kind: "empty" });
  });

  it("answers a mistake with one line and sends nothing", () => {
    expect(parseChatLine("/mode fast")).to.deep.equal({ kind: "invalid", message: "/mode takes one of: llm, kb" });
    const unknown = parseChatLine("/xyz please");
    expect(unknown.kind).to.equal("invalid");
    expect((unknown as { message: string }).message).to.match(/^unknown command \/xyz: \/help lists the commands/);
    expect(parseChatLine("x".repeat(MAX_QUESTION_CHARS + 1)).kind).to.equal("invalid");
  });

  it("reads /good and /bad with an optional comment, and refuses a comment over the limit", () => {
    expect(parseChatLine("/good")).to.deep.equal({ kind: "feedback", rating: "up" });
    expect(parseChatLine(" /BAD  it cited the wrong page ")).to.deep.equal({ kind: "feedback", rating: "down", comment: "it cited the wrong page" });
    const long = parseChatLine(`/bad ${"x".repeat(MAX_FEEDBACK_COMMENT_CHARS + 1)}`);
    expect(long).to.deep.equal({ kind: "invalid", message: `comment is ${MAX_FEEDBACK_COMMENT_CHARS + 1} characters, longer than the ${MAX_FEEDBACK_COMMENT_CHARS} allowed; not sent` });
  });

  it("sends questions as typed, and // escapes a leading slash", () => {
    expect(parseChatLine("What is QnABot?")).to.deep.equal({ kind: "question", text: "What is QnABot?" });
    expect(parseChatLine("//etc/hosts?")).to.deep.equal({ kind: "question", text: "/etc/hosts?" });
    expect(parseChatLine("x".repeat(MAX_QUESTION_CHARS))).to.deep.equal({ kind: "question", text: "x".repeat(MAX_QUESTION_CHARS) });
  });

  it("never turns a line that starts with a single / into a question", () => {
    fc.assert(
      fc.property(fc.string(), (rest) => {
        const line = parseChatLine(`/${rest}`);
        return rest.trimStart().startsWith("/") || line.kind !== "question";
      }),
    );
  });
});
