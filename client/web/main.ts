/**
 * The chat page: wires the connection manager, the conversation reducer and the view to
 * the DOM in page.ts. Renders are batched to animation frames. The tab's session and
 * transcript survive a reload (sessionStorage); an answer in flight at the reload resumes.
 */
import { SESSION_ID_PATTERN, type AnswerMode } from "../../functions/shared/protocol";
import { composerState } from "./composer";
import { ConnectionManager, NotConnectedError, type ConnectionEvent } from "./connection";
import { emptyConversation, isInFlight, reduceConversation, type ConversationAction } from "./conversation";
import { randomId } from "./ids";
import { fetchSignedUrl } from "./signed-url";
import { webSocketFactory } from "./socket";
import { answersToResume, restoreConversation, saveConversation } from "./saved-conversation";
import { pageStatus } from "./status";
import { ConversationView } from "./view";

const SESSION_KEY = "qnabot-streaming.sessionId";

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`chat page is missing #${id}`);
  return node as T;
}

/** One session per tab, kept across reloads so the server-side conversation memory follows. */
function tabSessionId(): string {
  try {
    const stored = sessionStorage.getItem(SESSION_KEY);
    if (stored && SESSION_ID_PATTERN.test(stored)) return stored;
    const created = randomId("web-");
    sessionStorage.setItem(SESSION_KEY, created);
    return created;
  } catch {
    return randomId("web-");
  }
}

const form = byId<HTMLFormElement>("ask-form");
const question = byId<HTMLTextAreaElement>("question");
const send = byId<HTMLButtonElement>("send");
const status = byId<HTMLElement>("status");
const label = byId<HTMLElement>("label");
const notice = byId<HTMLElement>("notice");
const counter = byId<HTMLElement>("counter");
const sessionId = tabSessionId();
const manager = new ConnectionManager({
  getSignedUrl: () => fetchSignedUrl(document.baseURI, sessionId),
  createSocket: webSocketFactory(WebSocket),
});
const view = new ConversationView(byId("conversation"), byId("conversation-scroller"), () => Date.now(), (requestId, rating, comment) => {
  try {
    manager.feedback(requestId, rating, comment);
  } catch (error) {
    if (!(error instanceof NotConnectedError)) throw error;
    view.feedbackResult({ requestId, accepted: false, message: "not connected; try again once the status says Ready." });
  }
});

/** The tab's storage, when the browser lets the page have it. */
function tabStorage(): Storage | undefined {
  try {
    return sessionStorage;
  } catch {
    return undefined;
  }
}

const storage = tabStorage();
let conversation = (storage && restoreConversation(storage, sessionId)) ?? emptyConversation;
let saved = conversation;
let frame: number | undefined;

function save(): void {
  if (!storage || saved === conversation) return;
  saveConversation(storage, sessionId, conversation);
  saved = conversation;
}

// The answers still streaming when the tab was reloaded continue where it saved them.
for (const answer of answersToResume(conversation)) manager.adopt(answer.requestId, answer.lastSeq, answer.stopRequested);
addEventListener("pagehide", save);

/** The answer the Send button stops while it streams: the latest one, if still in flight. */
function streamingAnswer(): string | undefined {
  const latestId = conversation.order[conversation.order.length - 1];
  const latest = latestId === undefined ? undefined : conversation.answers[latestId];
  return latest && isInFlight(latest) ? latestId : undefined;
}

function render(): void {
  frame = undefined;
  save();
  view.render(conversation);
  const connection = manager.state;
  const current = pageStatus(connection, conversation, Date.now());
  status.dataset.state = current.state;
  status.dataset.connections = String(connection.opened);
  status.textContent = current.text;
  label.hidden = connection.label === undefined;
  label.textContent = connection.label ?? "";
  // While an answer streams, Send is Stop (Esc does the same).
  const streaming = streamingAnswer();
  const stopping = streaming !== undefined && conversation.answers[streaming].stopRequested === true;
  send.dataset.action = streaming === undefined ? "send" : "stop";
  send.textContent = streaming === undefined ? "Send" : stopping ? "Stopping…" : "Stop";
  send.setAttribute("aria-keyshortcuts", streaming === undefined ? "Enter" : "Escape");
  // Without a connection Stop still works: it ends the answer here.
  send.disabled = streaming === undefined ? connection.status !== "ready" : stopping && connection.status === "ready";
}

/**
 * Stops the answer streaming now, if any: the server ends it with what was generated so far;
 * with no connection to tell it on, the page ends it with what arrived (and resumes none of it).
 */
function stopStreaming(): void {
  const requestId = streamingAnswer();
  if (requestId === undefined) return;
  if (manager.state.status !== "ready") {
    manager.abandon(requestId);
    dispatch({ type: "stopped-offline", requestId, at: Date.now() });
    return;
  }
  if (conversation.answers[requestId].stopRequested) return;
  if (manager.cancel(requestId)) dispatch({ type: "stop-requested", requestId });
}

function scheduleRender(): void {
  frame ??= requestAnimationFrame(render);
}

function dispatch(action: ConversationAction): void {
  conversation = reduceConversation(conversation, action);
  scheduleRender();
}

/** `kind` "question" marks a notice about the question box, which editing it clears. */
function showNotice(text: string, kind = "server"): void {
  notice.textContent = text;
  notice.dataset.kind = kind;
  notice.hidden = false;
}

manager.subscribe((event: ConnectionEvent) => {
  switch (event.type) {
    case "state":
      scheduleRender();
      break;
    case "envelope":
      if (conversation.answers[event.envelope.requestId]) {
        dispatch({ type: "envelope", envelope: event.envelope, at: Date.now() });
      } else if (event.envelope.type === "error") {
        // Not one of ours: the gateway's `$default` answering a frame it could not route.
        showNotice(`Server: ${event.envelope.message}`);
      }
      break;
    case "bad-frame":
      showNotice(`Ignored a malformed frame from the server: ${event.message}`);
      break;
    case "lost":
      dispatch({
        type: "interrupted",
        requestIds: event.requestIds,
        message:
          manager.state.status === "failed"
            ? `${event.reason}. The answer was cut off here: reload the page, then ask again.`
            : `${event.reason} before the answer finished. Ask again once reconnected.`,
        at: Date.now(),
      });
      break;
    case "feedback":
      view.feedbackResult(event.reply);
      break;
    case "resume-failed":
      dispatch({
        type: "interrupted",
        requestIds: [event.requestId],
        message: `The connection dropped and the rest of this answer could not be fetched: ${event.message} Ask again.`,
        at: Date.now(),
      });
      break;
  }
});

function selectedMode(): AnswerMode {
  const checked = form.querySelector<HTMLInputElement>('input[name="mode"]:checked');
  return checked?.value === "kb" ? "kb" : "llm";
}

/** The counter follows every edit; an over-long question is marked, never cut. */
function updateCounter(): void {
  const state = composerState(question.value);
  counter.textContent = state.counter;
  counter.dataset.over = String(state.tooLong);
  question.setAttribute("aria-invalid", String(state.tooLong));
  if (state.tooLong) showNotice(state.problem ?? "", "question");
  else if (notice.dataset.kind === "question") notice.hidden = true;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (streamingAnswer() !== undefined) {
    // The button is Stop now; Enter in the box keeps the next question for later.
    if (event.submitter === send) stopStreaming();
    else showNotice("An answer is still streaming: press Stop (or Esc) to stop it, or wait for it to finish, then send.", "question");
    return;
  }
  const state = composerState(question.value);
  if (state.problem !== undefined) {
    showNotice(state.problem, "question");
    question.focus();
    return;
  }
  const text = question.value.trim();
  const mode = selectedMode();
  let requestId: string;
  try {
    requestId = manager.ask(text, mode, { reasoning: form.querySelector<HTMLInputElement>("#reasoning")?.checked === true });
  } catch (error) {
    if (!(error instanceof NotConnectedError)) throw error;
    showNotice(
      manager.state.status === "failed"
        ? `${manager.state.lastError}: your question is still in the box; reload the page, then send it.`
        : "Not connected yet: your question is still in the box; send it once the status says Ready.",
    );
    return;
  }
  notice.hidden = true;
  question.value = "";
  updateCounter();
  dispatch({ type: "asked", requestId, question: text, mode, at: Date.now() });
  view.follow();
});

question.addEventListener("input", updateCounter);

question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !event.isComposing && streamingAnswer() !== undefined) {
    event.preventDefault();
    stopStreaming();
  }
});

manager.start();
render();
question.focus();
