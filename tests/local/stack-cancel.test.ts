/**
 * Stop generating over the wire (issue 12): `cancel` arrives at another invocation than the
 * one streaming, travels through the answer's journal item, and the writer stops the answer
 * at its next checkpoint: `end` with stopReason `cancelled` and the text so far as `final`.
 */
import { expect } from "chai";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { QUIET_ENV, connect, deltaText } from "./stack-helpers";

const DELTAS = Array.from({ length: 400 }, (_, i) => `w${i} `);

describe("local stack: cancelling an answer", () => {
  let stack: LocalStack;

  before(async () => {
    stack = await startLocalStack({
      page: false,
      // A long answer at a modest pace: the cancel lands while it streams.
      bedrockBehavior: { firstTokenDelayMs: 0, deltasPerSecond: 100, deltas: DELTAS },
      env: { ...QUIET_ENV, STREAM_CHECKPOINT_MS: "50" },
    });
  });
  after(() => stack?.close());

  it("ends the answer as cancelled with the text so far, long before the model would have finished", async () => {
    const socket = await connect(stack, "cancel-session", { format: "json" });
    socket.ask("c-1", "A very long answer, please.");
    await socket.until((messages) => (deltaText(socket.envelopes("c-1", messages)).length > 20 ? true : undefined));
    socket.send({ action: "cancel", requestId: "c-1" });
    const envelopes = await socket.answer("c-1");
    const end = envelopes[envelopes.length - 1];
    expect(end).to.deep.include({ type: "end", stopReason: "cancelled" });
    const streamed = deltaText(envelopes);
    expect(streamed.length).to.be.lessThan(DELTAS.join("").length / 2);
    expect((end as { final: string }).final).to.equal(streamed.trim());
    await socket.close();
  });

  it("answers a cancel of an answer that is not running with not_found", async () => {
    const socket = await connect(stack, "cancel-session-2", { format: "json" });
    socket.send({ action: "cancel", requestId: "never" });
    const [refusal] = await socket.answer("never");
    expect(refusal).to.include({ type: "error", code: "not_found" });
    await socket.close();
  });
});
