import { expect } from "chai";
import { envelope, type Envelope } from "../../functions/shared/protocol";
import {
  citedSources,
  displayText,
  emptyConversation,
  isInFlight,
  isStopped,
  reduceConversation,
  type Conversation,
  type ConversationAction,
} from "../../client/web/conversation";
import { FrameError, parseEnvelope } from "../../client/web/envelope";

const metrics = { ttftMs: 5, totalMs: 50, deltas: 2, frames: 2 };

function run(actions: ConversationAction[], state: Conversation = emptyConversation): Conversation {
  return actions.reduce(reduceConversation, state);
}

function asked(requestId = "r1", at = 1000): ConversationAction {
  return { type: "asked", requestId, question: "What is QnABot?", mode: "llm", at };
}

function got(env: Envelope, at = 2000): ConversationAction {
  return { type: "envelope", envelope: env, at };
}

describe("client: conversation reducer", () => {
  it("keeps a knowledge-base answer's last progress stage until its first delta, and a late stage changes nothing", () => {
    const stages = run([
      asked(),
      got(envelope("start", "r1", 0, {}), 1100),
      got(envelope("progress", "r1", 1, { stage: "retrieving" }), 1150),
      got(envelope("progress", "r1", 2, { stage: "generating" }), 1200),
    ]);
    expect(stages.answers.r1).to.include({ status: "streaming", progress: "generating", text: "" });
    const streaming = run([got(envelope("delta", "r1", 3, { text: "Answer" }), 1300), got(envelope("progress", "r1", 9, { stage: "retrieving" }), 1400)], stages);
    expect(streaming.answers.r1.progress).to.equal(undefined);
    expect(streaming.answers.r1.text).to.equal("Answer");
  });

  it("streams deltas into text, then keeps the final answer, usage and timings from end", () => {
    const state = run([
      asked(),
      got(envelope("start", "r1", 0, {}), 1100),
      got(envelope("delta", "r1", 1, { text: "Hello " }), 1200),
      got(envelope("delta", "r1", 2, { text: "**world**" }), 1300),
    ]);
    const streaming = state.answers.r1;
    expect(streaming).to.include({ status: "streaming", text: "Hello **world**", deltas: 2, firstDeltaAt: 1200, lastSeq: 2 });
    expect(displayText(streaming)).to.equal("Hello **world**");
    // A marker still open in the streamed text is closed for display, never shown bare.
    const open = run([got(envelope("delta", "r1", 3, { text: " _Offline" }), 1350)], state).answers.r1;
    expect(displayText(open)).to.equal("Hello **world** _Offline_");

    const done = run([got(envelope("end", "r1", 3, { final: "Hello **world**.\n\n[1] doc", stopReason: "end_turn", metrics }), 1500)], state)
      .answers.r1;
    expect(done).to.include({ status: "done", final: "Hello **world**.\n\n[1] doc", stopReason: "end_turn", finishedAt: 1500 });
    expect(done.serverMetrics).to.deep.equal(metrics);
    expect(displayText(done)).to.equal("Hello **world**.\n\n[1] doc");
  });

  it("rejects envelopes whose seq is not above the last one applied (duplicates, reordering)", () => {
    const state = run([asked(), got(envelope("delta", "r1", 1, { text: "a" })), got(envelope("delta", "r1", 3, { text: "b" }))]);
    expect(reduceConversation(state, got(envelope("delta", "r1", 3, { text: "dup" })))).to.equal(state);
    expect(reduceConversation(state, got(envelope("delta", "r1", 2, { text: "late" })))).to.equal(state);
    expect(state.answers.r1.text).to.equal("ab");
  });

  it("ignores envelopes for an unknown requestId, returning the same state", () => {
    const state = run([asked()]);
    expect(reduceConversation(state, got(envelope("delta", "other", 1, { text: "not ours" })))).to.equal(state);
  });

  it("ignores anything after an answer ended", () => {
    const ended = run([asked(), got(envelope("end", "r1", 1, { final: "done", stopReason: "end_turn", metrics }))]);
    expect(reduceConversation(ended, got(envelope("delta", "r1", 2, { text: "more" })))).to.equal(ended);
    expect(reduceConversation(ended, got(envelope("error", "r1", 3, { code: "internal", message: "x", retryable: false })))).to.equal(ended);
  });

  it("records an error envelope, keeping the text streamed before it", () => {
    const state = run([
      asked(),
      got(envelope("delta", "r1", 1, { text: "partial" })),
      got(envelope("error", "r1", 2, { code: "model_error", message: "the model stopped", retryable: true }), 3000),
    ]);
    expect(state.answers.r1).to.include({ status: "error", text: "partial", finishedAt: 3000 });
    expect(state.answers.r1.error).to.deep.equal({ code: "model_error", message: "the model stopped", retryable: true });
    expect(displayText(state.answers.r1)).to.equal("partial");
  });

  it("applies envelopes by seq with gaps (seq is the answer's position), and marks a stop asked for, then the cancelled end", () => {
    let state = run([asked(), got(envelope("start", "r1", 0, {})), got(envelope("delta", "r1", 5, { text: "Hello" })), got(envelope("delta", "r1", 11, { text: " world" }))]);
    expect(state.answers.r1).to.include({ text: "Hello world", lastSeq: 11 });
    // A resumed socket's replay of what was already applied changes nothing.
    expect(reduceConversation(state, got(envelope("delta", "r1", 11, { text: " world" })))).to.equal(state);
    state = reduceConversation(state, { type: "stop-requested", requestId: "r1" });
    expect(state.answers.r1.stopRequested).to.equal(true);
    expect(isInFlight(state.answers.r1)).to.equal(true);
    expect(reduceConversation(state, { type: "stop-requested", requestId: "r1" })).to.equal(state);
    state = reduceConversation(state, got(envelope("end", "r1", 12, { final: "Hello world", stopReason: "cancelled", metrics })));
    expect(isStopped(state.answers.r1)).to.equal(true);
    expect(isInFlight(state.answers.r1)).to.equal(false);
    expect(displayText(state.answers.r1)).to.equal("Hello world");
  });

  it("marks unfinished answers lost on interruption and leaves finished ones alone", () => {
    const state = run([
      asked("r1"),
      asked("r2"),
      got(envelope("end", "r1", 1, { final: "ok", stopReason: "end_turn", metrics })),
      got(envelope("delta", "r2", 1, { text: "half" })),
      { type: "interrupted", requestIds: ["r1", "r2"], message: "Connection closed", at: 4000 },
    ]);
    expect(state.answers.r1.status).to.equal("done");
    expect(state.answers.r2).to.include({ status: "error", text: "half" });
    expect(state.answers.r2.error?.code).to.equal("connection_lost");
    expect(state.order).to.deep.equal(["r1", "r2"]);
  });

  it("collects well-formed citations and lists each source once", () => {
    const state = run([
      asked(),
      got(
        envelope("citation", "r1", 1, {
          citations: [
            { text: "a", sources: [{ uri: "https://docs.example/a", title: "A" }, { uri: "s3://bucket/b.md" }] },
            { text: "b", sources: [{ uri: "https://docs.example/a" }, { bogus: true } as never] },
            "junk" as never,
          ],
        }),
      ),
      got(envelope("guardrail", "r1", 2, { action: "INTERVENED" })),
    ]);
    expect(citedSources(state.answers.r1)).to.deep.equal([{ uri: "https://docs.example/a", title: "A" }, { uri: "s3://bucket/b.md" }]);
    expect(state.answers.r1.guardrail).to.equal("INTERVENED");
  });
});

describe("client: envelope frames", () => {
  it("accepts every v1 envelope type", () => {
    const frames: Envelope[] = [
      envelope("start", "r", 0, {}),
      envelope("delta", "r", 1, { text: "x" }),
      envelope("citation", "r", 2, { citations: [] }),
      envelope("guardrail", "r", 3, { action: "NONE" }),
      envelope("end", "r", 4, { final: "x", stopReason: "end_turn", metrics }),
      envelope("error", "r", 5, { code: "internal", message: "m", retryable: false }),
    ];
    for (const frame of frames) expect(parseEnvelope(JSON.stringify(frame))).to.deep.equal(frame);
  });

  it("rejects what is not a v1 envelope, saying why", () => {
    const bad: [unknown, RegExp][] = [
      ["plain answer text", /not JSON.*format=json/],
      [Buffer.from("{}"), /binary/],
      ["[1]", /not a JSON object/],
      [JSON.stringify({ v: 2, type: "delta", requestId: "r", seq: 0, text: "x" }), /version 2/],
      [JSON.stringify({ v: 1, type: "nope", requestId: "r", seq: 0 }), /unknown envelope type/],
      [JSON.stringify({ v: 1, type: "delta", seq: 0, text: "x" }), /requestId/],
      [JSON.stringify({ v: 1, type: "delta", requestId: "r", seq: -1, text: "x" }), /seq/],
      [JSON.stringify({ v: 1, type: "delta", requestId: "r", seq: 0 }), /"text"/],
      [JSON.stringify({ v: 1, type: "end", requestId: "r", seq: 0 }), /"final"/],
      [JSON.stringify({ v: 1, type: "error", requestId: "r", seq: 0, code: "x" }), /"message"/],
    ];
    for (const [frame, message] of bad) expect(() => parseEnvelope(frame), String(frame)).to.throw(FrameError, message);
  });
});
