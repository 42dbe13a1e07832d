import { expect } from "chai";
import { feedbackAck, feedbackRefusal } from "../../functions/shared/feedback";
import { feedbackReplyOf } from "../../client/cli-feedback";
import { feedbackStatusText, parseFeedbackReply } from "../../client/web/feedback";

describe("client: replies to feedback", () => {
  const ack = JSON.stringify(feedbackAck("r-1", "down", true));
  const refusal = JSON.stringify(feedbackRefusal("r-1", { code: "not_found", message: "No such answer.", retryable: false }));

  it("the page reads the server's ack and refusal, and nothing else, as a reply", () => {
    expect(parseFeedbackReply(ack)).to.deep.equal({ requestId: "r-1", accepted: true, rating: "down", replaced: true });
    expect(parseFeedbackReply(refusal)).to.deep.equal({ requestId: "r-1", accepted: false, message: "No such answer." });
    // An answer's own error (it has a requestId and a seq) stays the answer's.
    expect(parseFeedbackReply(JSON.stringify({ v: 1, type: "error", requestId: "r-1", seq: 3, code: "stalled", message: "m", retryable: true }))).to.equal(undefined);
    expect(parseFeedbackReply(JSON.stringify({ v: 1, type: "delta", requestId: "r-1", seq: 1, text: '"feedback' }))).to.equal(undefined);
    expect(parseFeedbackReply("not json \"feedback")).to.equal(undefined);
    expect(feedbackStatusText(parseFeedbackReply(refusal)!)).to.equal("Feedback not recorded: No such answer.");
  });

  it("the CLI matches a reply to the answer it rated", () => {
    expect(feedbackReplyOf(ack, "r-1")).to.deep.equal({ accepted: true, replaced: true });
    expect(feedbackReplyOf(ack, "r-2")).to.equal(undefined);
    expect(feedbackReplyOf(refusal, "r-1")).to.deep.equal({ accepted: false, code: "not_found", message: "No such answer." });
  });
});
