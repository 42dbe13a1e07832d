import { expect } from "chai";
import { composerState } from "../../client/web/composer";
import { MAX_QUESTION_CHARS } from "../../functions/shared/protocol";

describe("client: the question box", () => {
  it("counts against the protocol's limit (functions/shared/protocol.ts)", () => {
    expect(MAX_QUESTION_CHARS).to.equal(4000);
    expect(composerState("What is QnABot?")).to.deep.equal({ length: 15, counter: "15 / 4,000", tooLong: false });
    expect(composerState("x".repeat(4000))).to.deep.equal({ length: 4000, counter: "4,000 / 4,000", tooLong: false });
  });

  it("says what is wrong with a question over the limit instead of cutting it (issue 12: a 5,000-character paste)", () => {
    expect(composerState("x".repeat(5000))).to.deep.equal({
      length: 5000,
      counter: "5,000 / 4,000",
      tooLong: true,
      problem: "Your question is 5,000 characters; the limit is 4,000. Shorten it by 1,000 to send it.",
    });
  });

  it("asks for a question when there is none (issue 12: empty input did nothing)", () => {
    expect(composerState("").problem).to.equal("Type a question first.");
    expect(composerState(" \n\t ").problem).to.equal("Type a question first.");
    expect(composerState("  a  ")).to.deep.equal({ length: 1, counter: "1 / 4,000", tooLong: false });
  });
});
