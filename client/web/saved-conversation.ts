/**
 * The tab's transcript kept across reloads (sessionStorage: this tab only, gone with it).
 * What is saved is the reducer's state as it stands, each answer with the last `seq` it
 * applied, so an answer still in flight at the reload resumes after exactly that position
 * and nothing arrives twice or goes missing. Anything unreadable restores as an empty
 * conversation: a broken save must not break the page.
 */
import { isInFlight, type Answer, type Conversation } from "./conversation";

/** The storage key, next to the tab's session id. */
export const CONVERSATION_KEY = "qnabot-streaming.conversation";

/** The latest turns kept: older ones are dropped from the save (never from the page). */
export const SAVED_TURNS = 100;

/** The part of the Storage API used here (sessionStorage; a Map-backed fake in tests). */
export type ConversationStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

interface Saved {
  v: 1;
  sessionId: string;
  conversation: Conversation;
}

/** Saves the conversation of `sessionId`; a full storage (quota) keeps the previous save. */
export function saveConversation(storage: ConversationStorage, sessionId: string, conversation: Conversation): void {
  const order = conversation.order.slice(-SAVED_TURNS);
  const answers = Object.fromEntries(order.map((id) => [id, conversation.answers[id]]));
  const saved: Saved = { v: 1, sessionId, conversation: { order, answers } };
  try {
    storage.setItem(CONVERSATION_KEY, JSON.stringify(saved));
  } catch {
    // Quota exceeded or storage disabled: the page works on, a reload starts empty.
  }
}

function isAnswer(value: unknown, requestId: string): value is Answer {
  const a = value as Partial<Answer> | null;
  return (
    typeof a === "object" &&
    a !== null &&
    a.requestId === requestId &&
    typeof a.question === "string" &&
    (a.mode === "llm" || a.mode === "kb") &&
    (a.status === "pending" || a.status === "streaming" || a.status === "done" || a.status === "error") &&
    typeof a.text === "string" &&
    Array.isArray(a.citations) &&
    Number.isInteger(a.lastSeq) &&
    typeof a.deltas === "number" &&
    typeof a.askedAt === "number"
  );
}

/** The conversation saved for `sessionId`, or none (another session's, missing or malformed). */
export function restoreConversation(storage: ConversationStorage, sessionId: string): Conversation | undefined {
  let saved: Partial<Saved>;
  try {
    saved = JSON.parse(storage.getItem(CONVERSATION_KEY) ?? "null") as Partial<Saved>;
  } catch {
    return undefined;
  }
  if (saved?.v !== 1 || saved.sessionId !== sessionId) return undefined;
  const { order, answers } = saved.conversation ?? ({} as Partial<Conversation>);
  if (!Array.isArray(order) || typeof answers !== "object" || answers === null) return undefined;
  if (!order.every((id) => typeof id === "string" && isAnswer(answers[id], id))) return undefined;
  return { order, answers: Object.fromEntries(order.map((id) => [id, answers[id]])) };
}

/** The answers a restored conversation still waits for: to resume after their last `seq`. */
export function answersToResume(conversation: Conversation): { requestId: string; lastSeq: number; stopRequested: boolean }[] {
  return conversation.order
    .map((id) => conversation.answers[id])
    .filter(isInFlight)
    .map((answer) => ({ requestId: answer.requestId, lastSeq: answer.lastSeq, stopRequested: answer.stopRequested === true }));
}
