import { expect } from "chai";
import { CONTINUE_PROMPT, isContinueRequest, questionForModel } from "../../functions/fulfillment/continuation";

describe("fulfillment: \"continue\" after a cut-short answer", () => {
  it("recognises the ways a user asks for the rest, and nothing else", () => {
    for (const yes of ["continue", "Continue.", "  please continue ", "go on", "Keep going!", "carry on please", "more", "CONTINUE"]) {
      expect(isContinueRequest(yes), yes).to.equal(true);
    }
    for (const no of ["continue the story about dragons", "what more is there?", "Should I continue?", "", "continued"]) {
      expect(isContinueRequest(no), no).to.equal(false);
    }
  });

  it("sends the model the continuation prompt only when the last remembered answer was cut short", () => {
    const cut = [{ question: "q", answer: "a" }, { question: "q2", answer: "half", cutShort: true }];
    expect(questionForModel("continue", cut)).to.equal(CONTINUE_PROMPT);
    expect(questionForModel("continue", [{ question: "q", answer: "whole" }])).to.equal("continue");
    expect(questionForModel("continue", [])).to.equal("continue");
    expect(questionForModel("continue", [...cut, { question: "q3", answer: "whole" }])).to.equal("continue");
  });
});
