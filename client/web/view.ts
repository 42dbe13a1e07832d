/**
 * Renders the conversation into the page. Each answer's DOM is created once and patched
 * only when its state object changed (the reducer keeps identity for no-ops), and the
 * caller batches renders to animation frames, so a fast stream re-parses the markdown at
 * most once per frame.
 */
import { citedSources, displayText, isStopped, type Answer, type Conversation } from "./conversation";
import { mountImages, renderMarkdown } from "./markdown";
import { closePartialMarkdown } from "./partial-markdown";
import { isAtBottom } from "./scroll";
import { answerStats, formatStats } from "./status";
import { describeSourceLinks } from "./source-snippets";
import { footerText } from "./usage";
import { feedbackRow, feedbackStatusText, type FeedbackReply, type FeedbackRow, type SendFeedback } from "./feedback";

interface Turn {
  answer?: Answer;
  article: HTMLElement;
  stateLabel: HTMLElement;
  body: HTMLElement;
  /** The model's reasoning, collapsed unless the reader opens it; hidden without any. */
  reasoning: HTMLDetailsElement;
  reasoningBody: HTMLElement;
  guardrail: HTMLElement;
  error: HTMLElement;
  stopped: HTMLElement;
  sources: HTMLElement;
  /** This answer's image elements by address, reused across renders (mountImages). */
  images: Map<string, HTMLImageElement[]>;
  sourceList: HTMLOListElement;
  stats: HTMLElement;
  feedback: FeedbackRow;
}

const MODE_NAMES = { llm: "LLM", kb: "Knowledge base" } as const;
const STATE_LABELS = { pending: "Waiting for the first token…", streaming: "Streaming…", done: "", error: "Failed" } as const;
/** What a `progress` stage tells the reader before the first token. */
const PROGRESS_LABELS = { retrieving: "Searching the knowledge base…", generating: "Writing the answer…" } as const;

function stateLabel(answer: Answer): string {
  if (isStopped(answer)) return "Stopped";
  if (answer.stopRequested && (answer.status === "pending" || answer.status === "streaming")) return "Stopping…";
  if (answer.progress && answer.status === "streaming") return PROGRESS_LABELS[answer.progress];
  return STATE_LABELS[answer.status];
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Only web links become anchors; other URIs (s3://, file names) are shown as text. */
function sourceItem(source: { uri: string; title?: string }): HTMLLIElement {
  const item = document.createElement("li");
  let href: URL | undefined;
  try {
    href = new URL(source.uri);
  } catch {
    href = undefined;
  }
  if (href && (href.protocol === "https:" || href.protocol === "http:")) {
    const link = element("a", "citation-link", source.title ?? source.uri);
    link.href = href.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    item.append(link);
  } else {
    item.append(element("span", "citation-text", source.title ? `${source.title} (${source.uri})` : source.uri));
  }
  return item;
}

/**
 * The final formatted answer usually lists its sources itself (the fulfillment appends them,
 * because Lex clients see only the final text); a source it already shows, as a link or as
 * text, is not listed a second time under the answer.
 */
function notShownIn(body: HTMLElement, sources: { uri: string; title?: string }[]): { uri: string; title?: string }[] {
  const text = body.textContent ?? "";
  const hrefs = new Set([...body.querySelectorAll("a[href]")].map((link) => (link as HTMLAnchorElement).href));
  return sources.filter((source) => {
    if (text.includes(source.uri)) return false;
    try {
      return !hrefs.has(new URL(source.uri).href);
    } catch {
      return true;
    }
  });
}

export class ConversationView {
  private readonly turns = new Map<string, Turn>();
  private following = true;

  constructor(
    private readonly list: HTMLElement,
    private readonly scroller: HTMLElement,
    private readonly now: () => number = () => Date.now(),
    /** Sends a rating of a finished answer; without it no feedback controls are shown. */
    private readonly sendFeedback?: SendFeedback,
  ) {
    scroller.addEventListener("scroll", () => {
      this.following = isAtBottom(scroller);
    });
  }

  /** Scrolls to the newest text and keeps following it (after the reader asks something). */
  follow(): void {
    this.following = true;
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  render(conversation: Conversation): void {
    const follow = this.following;
    for (const requestId of conversation.order) {
      const answer = conversation.answers[requestId];
      let turn = this.turns.get(requestId);
      if (!turn) {
        turn = this.createTurn(answer);
        this.turns.set(requestId, turn);
      }
      if (turn.answer !== answer || answer.status === "streaming") this.update(turn, answer);
    }
    if (follow) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** Shows the server's reply to a rating (or why it could not be sent) under its answer. */
  feedbackResult(reply: FeedbackReply): void {
    const turn = this.turns.get(reply.requestId);
    if (!turn) return;
    if (reply.accepted) turn.feedback.select(reply.rating);
    turn.feedback.status.textContent = feedbackStatusText(reply);
  }

  private createTurn(answer: Answer): Turn {
    const item = element("li", "turn");
    item.dataset.requestId = answer.requestId;
    const question = element("div", "question");
    question.append(element("span", "visually-hidden", "You asked: "), element("p", "question-text", answer.question));

    const article = element("article", "answer");
    article.dataset.requestId = answer.requestId;
    article.setAttribute("aria-label", "Answer");
    const meta = element("p", "answer-meta");
    const stateLabel = element("span", "answer-state");
    meta.append(element("span", "answer-mode", MODE_NAMES[answer.mode]), stateLabel);
    const reasoning = element("details", "answer-reasoning");
    const reasoningBody = element("div", "reasoning-body");
    reasoning.append(element("summary", "reasoning-summary", "Reasoning"), reasoningBody);
    reasoning.hidden = true;
    const body = element("div", "answer-body");
    body.setAttribute("aria-live", "polite");
    const guardrail = element("p", "answer-guardrail");
    const error = element("p", "answer-error");
    error.setAttribute("role", "alert");
    const stopped = element("p", "answer-stopped", "Stopped: this is what was generated before you stopped it.");
    stopped.hidden = true;
    const sources = element("section", "citations");
    sources.setAttribute("aria-label", "Sources");
    const sourceList = element("ol", "citation-list");
    sources.append(element("h2", "citations-title", "Sources"), sourceList);
    const stats = element("p", "answer-stats");
    const feedback = feedbackRow(answer.requestId, (requestId, rating, comment) => {
      feedback.status.textContent = "Sending…";
      this.sendFeedback?.(requestId, rating, comment);
    });
    article.append(meta, reasoning, body, guardrail, error, stopped, sources, stats, feedback.element);
    item.append(question, article);
    this.list.append(item);
    return { article, stateLabel, body, reasoning, reasoningBody, guardrail, error, stopped, sources, sourceList, stats, feedback, images: new Map() };
  }

  private update(turn: Turn, answer: Answer): void {
    const previous = turn.answer;
    turn.answer = answer;
    const busy = answer.status === "pending" || answer.status === "streaming";
    turn.article.dataset.state = answer.status;
    // Screen readers announce the answer once it settles instead of every re-render.
    turn.body.setAttribute("aria-busy", String(busy));
    turn.stateLabel.textContent = stateLabel(answer);
    turn.article.dataset.stopped = String(isStopped(answer));
    turn.stopped.hidden = !isStopped(answer);

    if (previous?.text !== answer.text || previous?.final !== answer.final || !previous) {
      turn.body.innerHTML = renderMarkdown(displayText(answer));
      mountImages(turn.body, turn.images);
      if (answer.final !== undefined && answer.sources) describeSourceLinks(turn.body, answer.sources, `answer-${answer.requestId}`);
      turn.body.dataset.content = answer.final === undefined ? "streamed" : "final";
    }
    if (previous?.reasoning !== answer.reasoning || !previous) {
      // Made inert by the server's output sanitizer, and rendered as the answer is.
      turn.reasoningBody.innerHTML = renderMarkdown(closePartialMarkdown(answer.reasoning ?? ""));
      turn.reasoning.hidden = (answer.reasoning ?? "") === "";
    }
    turn.guardrail.hidden = answer.guardrail === undefined;
    turn.guardrail.textContent = answer.guardrail === undefined ? "" : `Guardrail: ${answer.guardrail}`;
    turn.error.hidden = answer.error === undefined;
    turn.error.textContent = answer.error?.message ?? "";

    if (previous?.citations !== answer.citations || previous?.final !== answer.final) {
      const cited = citedSources(answer);
      const sources = answer.final === undefined ? cited : notShownIn(turn.body, cited);
      turn.sourceList.replaceChildren(...sources.map(sourceItem));
      turn.sources.hidden = sources.length === 0;
    }
    // Only an answer that ended can be rated: the server keeps its record from its end on.
    turn.feedback.element.hidden = this.sendFeedback === undefined || answer.status !== "done";
    turn.stats.textContent = footerText(formatStats(answerStats(answer, this.now())), answer.status === "done" ? answer.usage : undefined);
  }
}
