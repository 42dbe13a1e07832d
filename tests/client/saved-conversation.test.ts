import { expect } from "chai";
import { envelope } from "../../functions/shared/protocol";
import { emptyConversation, reduceConversation, type Conversation } from "../../client/web/conversation";
import { answersToResume, CONVERSATION_KEY, restoreConversation, SAVED_TURNS, saveConversation, type ConversationStorage } from "../../client/web/saved-conversation";

class MemoryStorage implements ConversationStorage {
  readonly items = new Map<string, string>();
  full = false;
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    if (this.full) throw new DOMException("quota", "QuotaExceededError");
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

function twoTurns(): Conversation {
  let state = reduceConversation(emptyConversation, { type: "asked", requestId: "r1", question: "one?", mode: "llm", at: 1 });
  state = reduceConversation(state, { type: "envelope", envelope: envelope("end", "r1", 4, { final: "**one**", stopReason: "end_turn", metrics: { ttftMs: 1, totalMs: 2, deltas: 1, frames: 1 } }), at: 2 });
  state = reduceConversation(state, { type: "asked", requestId: "r2", question: "two?", mode: "kb", at: 3 });
  state = reduceConversation(state, { type: "envelope", envelope: envelope("delta", "r2", 17, { text: "half an answ" }), at: 4 });
  return reduceConversation(state, { type: "stop-requested", requestId: "r2" });
}

describe("client: the tab's conversation across reloads (issue 23)", () => {
  it("restores exactly what was saved for the session, and the answers in flight to resume after their last seq", () => {
    const storage = new MemoryStorage();
    const conversation = twoTurns();
    saveConversation(storage, "web-abc", conversation);
    const restored = restoreConversation(storage, "web-abc")!;
    expect(restored).to.deep.equal(JSON.parse(JSON.stringify(conversation)));
    expect(answersToResume(restored)).to.deep.equal([{ requestId: "r2", lastSeq: 17, stopRequested: true }]);
  });

  it("restores nothing for another session, or from a missing, malformed or foreign save", () => {
    const storage = new MemoryStorage();
    expect(restoreConversation(storage, "web-abc")).to.equal(undefined);
    saveConversation(storage, "web-abc", twoTurns());
    expect(restoreConversation(storage, "web-other")).to.equal(undefined);
    for (const bad of ["{", "null", '{"v":2}', JSON.stringify({ v: 1, sessionId: "web-abc", conversation: { order: ["r1"], answers: { r1: { requestId: "r1" } } } })]) {
      storage.items.set(CONVERSATION_KEY, bad);
      expect(restoreConversation(storage, "web-abc"), bad).to.equal(undefined);
    }
  });

  it("keeps the latest turns only, and a full storage keeps the previous save", () => {
    const storage = new MemoryStorage();
    let state = emptyConversation;
    for (let i = 0; i < SAVED_TURNS + 5; i++) state = reduceConversation(state, { type: "asked", requestId: `r${i}`, question: "q", mode: "llm", at: i });
    saveConversation(storage, "s", state);
    const restored = restoreConversation(storage, "s")!;
    expect(restored.order).to.have.length(SAVED_TURNS);
    expect(restored.order[0]).to.equal("r5");
    storage.full = true;
    saveConversation(storage, "s", emptyConversation);
    expect(restoreConversation(storage, "s")!.order).to.have.length(SAVED_TURNS);
  });

  it("an answer stopped with no connection ends as stopped with what arrived, and is not resumed", () => {
    const stopped = reduceConversation(twoTurns(), { type: "stopped-offline", requestId: "r2", at: 9 });
    expect(stopped.answers.r2).to.include({ status: "done", stopReason: "cancelled", text: "half an answ", finishedAt: 9 });
    expect(answersToResume(stopped)).to.deep.equal([]);
    expect(reduceConversation(stopped, { type: "stopped-offline", requestId: "r2", at: 10 })).to.equal(stopped);
  });
});
