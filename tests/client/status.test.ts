import { expect } from "chai";
import { envelope } from "../../functions/shared/protocol";
import { backoffDelay } from "../../client/web/backoff";
import type { ConnectionSnapshot } from "../../client/web/connection";
import { emptyConversation, reduceConversation, type Conversation } from "../../client/web/conversation";
import { isAtBottom } from "../../client/web/scroll";
import { answerStats, formatStats, pageStatus } from "../../client/web/status";

const ready: ConnectionSnapshot = { status: "ready", opened: 1, failures: 0 };
const metrics = { ttftMs: 1, totalMs: 2, deltas: 1, frames: 1 };

function conversationWith(...steps: ("asked" | "delta" | "end" | "error")[]): Conversation {
  let state = emptyConversation;
  let seq = 0;
  for (const step of steps) {
    const at = 1000 + seq * 500;
    if (step === "asked") state = reduceConversation(state, { type: "asked", requestId: "r", question: "q", mode: "kb", at: 1000 });
    if (step === "delta") state = reduceConversation(state, { type: "envelope", envelope: envelope("delta", "r", seq, { text: "abcd" }), at });
    if (step === "end") {
      const end = envelope("end", "r", seq, { final: "abcd", stopReason: "end_turn", metrics, usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 } });
      state = reduceConversation(state, { type: "envelope", envelope: end, at });
    }
    if (step === "error") {
      const error = envelope("error", "r", seq, { code: "throttled", message: "Too many requests", retryable: true });
      state = reduceConversation(state, { type: "envelope", envelope: error, at });
    }
    seq += 1;
  }
  return state;
}

describe("client: page status", () => {
  it("follows the connection while no answer is in flight", () => {
    expect(pageStatus({ status: "connecting", opened: 0, failures: 0 }, emptyConversation, 0)).to.deep.equal({ state: "connecting", text: "Connecting…" });
    expect(pageStatus({ status: "connecting", opened: 2, failures: 0 }, emptyConversation, 0).text).to.equal("Reconnecting…");
    expect(pageStatus(ready, emptyConversation, 0)).to.deep.equal({ state: "ready", text: "Ready." });
    const waiting: ConnectionSnapshot = { status: "waiting", opened: 1, failures: 2, lastError: "Connection closed (code 1006)", retryAt: 2500 };
    expect(pageStatus(waiting, emptyConversation, 0)).to.deep.equal({ state: "error", text: "Connection closed (code 1006). Retrying in 3 s." });
  });

  it("shows streaming, then done or the error's message", () => {
    expect(pageStatus(ready, conversationWith("asked"), 0).state).to.equal("streaming");
    expect(pageStatus(ready, conversationWith("asked", "delta"), 0).state).to.equal("streaming");
    expect(pageStatus(ready, conversationWith("asked", "delta", "end"), 0).state).to.equal("done");
    expect(pageStatus(ready, conversationWith("asked", "error"), 0)).to.deep.equal({ state: "error", text: "Error: Too many requests" });
  });

  it("says the answer is being resumed while the connection is down, Stopping… after Stop, and Stopped. after a cancelled end", () => {
    const streaming = conversationWith("asked", "delta");
    // Waiting to retry: why it is down, when the next try is, and that Stop works meanwhile (issue 23).
    expect(pageStatus({ status: "waiting", opened: 1, failures: 1, retryAt: 500, lastError: "Could not get a signed URL: Failed to fetch" }, streaming, 0)).to.deep.equal({
      state: "connecting",
      text: "Connection lost: Could not get a signed URL: Failed to fetch. Retrying in 1 s to resume the answer; Stop keeps what arrived.",
    });
    expect(pageStatus({ status: "connecting", opened: 1, failures: 1 }, streaming, 0)).to.deep.equal({
      state: "connecting",
      text: "Connection lost: reconnecting to resume the answer…",
    });
    const stopping = reduceConversation(streaming, { type: "stop-requested", requestId: "r" });
    expect(pageStatus(ready, stopping, 0)).to.deep.equal({ state: "streaming", text: "Stopping the answer…" });
    const stopped = reduceConversation(stopping, {
      type: "envelope",
      envelope: envelope("end", "r", 9, { final: "abcd", stopReason: "cancelled", metrics }),
      at: 3000,
    });
    expect(pageStatus(ready, stopped, 3000)).to.deep.equal({ state: "done", text: "Stopped." });
  });

  it("says what refused the connection and to reload once retrying cannot help (issue 23)", () => {
    const failed: ConnectionSnapshot = { status: "failed", opened: 1, failures: 1, lastError: "The server refused a new connection: signed-URL endpoint answered 403: load the page first" };
    expect(pageStatus(failed, conversationWith("asked", "delta", "end"), 0)).to.deep.equal({
      state: "error",
      text: "The server refused a new connection: signed-URL endpoint answered 403: load the page first. Reload the page to continue.",
    });
  });

  it("is Ready again after a reconnect, whatever the last answer before it did (issue 12)", () => {
    const cut = reduceConversation(conversationWith("asked", "delta"), {
      type: "interrupted",
      requestIds: ["r"],
      message: "Connection closed (code 1006) before the answer finished. Ask again once reconnected.",
      at: 3000,
    });
    // A cut answer is known only once a new socket is up (its resume was refused or too late):
    // the answer's turn shows the message, the status line the connection.
    expect(pageStatus({ ...ready, readyAt: 500 }, cut, 3000)).to.deep.equal({ state: "ready", text: "Ready." });
    // A new socket opened after it: the page is ready for the next question.
    expect(pageStatus({ status: "ready", opened: 2, failures: 0, readyAt: 3400 }, cut, 3500)).to.deep.equal({ state: "ready", text: "Ready." });
    expect(pageStatus({ status: "ready", opened: 2, failures: 0, readyAt: 9000 }, conversationWith("asked", "error"), 9000).text).to.equal("Ready.");
    // Cut off for good after the new socket opened (its resume was refused): Ready all the same.
    expect(pageStatus({ status: "ready", opened: 2, failures: 0, readyAt: 3400 }, cut, 3500)).to.deep.equal({ state: "ready", text: "Ready." });
    const refused = reduceConversation(conversationWith("asked", "delta"), { type: "interrupted", requestIds: ["r"], message: "could not be fetched", at: 5000 });
    expect(pageStatus({ status: "ready", opened: 2, failures: 0, readyAt: 3400 }, refused, 5000)).to.deep.equal({ state: "ready", text: "Ready." });
    expect(pageStatus({ status: "ready", opened: 2, failures: 0, readyAt: 9000 }, conversationWith("asked", "delta", "end"), 9000).text).to.equal("Ready.");
  });

  it("measures time to first token and the generation rate", () => {
    const streaming = conversationWith("asked", "delta", "delta").answers.r;
    // asked at 1000; deltas at 1500 and 2000
    expect(answerStats(streaming, 2500)).to.deep.equal({ ttftMs: 500, charsPerSecond: 8 });
    const done = conversationWith("asked", "delta", "end").answers.r;
    expect(answerStats(done, 99_999)).to.deep.equal({ ttftMs: 500, tokensPerSecond: 8 });
    expect(formatStats(answerStats(done, 0))).to.equal("first token 500 ms · 8.0 tokens/s");
    expect(formatStats(answerStats(conversationWith("asked").answers.r, 0))).to.equal("");
  });
});

describe("client: backoff and scrolling", () => {
  it("grows exponentially, stays within [half, full] of the capped step, never exceeds the cap", () => {
    expect(backoffDelay(0, () => 0)).to.equal(250);
    expect(backoffDelay(0, () => 1)).to.equal(500);
    expect(backoffDelay(3, () => 0.5)).to.equal(3000);
    expect(backoffDelay(50, () => 1)).to.equal(30_000);
    expect(backoffDelay(50, () => 0)).to.equal(15_000);
    expect(backoffDelay(2, () => 1, { baseMs: 10, maxMs: 25 })).to.equal(25);
  });

  it("sticks to the bottom only near it", () => {
    expect(isAtBottom({ scrollTop: 600, scrollHeight: 1000, clientHeight: 400 })).to.equal(true);
    expect(isAtBottom({ scrollTop: 580, scrollHeight: 1000, clientHeight: 400 })).to.equal(true);
    expect(isAtBottom({ scrollTop: 300, scrollHeight: 1000, clientHeight: 400 })).to.equal(false);
  });
});
