/**
 * Thumbs up / down under a finished answer (issue 24, item 3): the row of controls, what the
 * server's reply to the `feedback` action looks like on the page's socket, and the line shown
 * once it is known. The server keeps one rating per answer: a second replaces the first.
 */
import { MAX_FEEDBACK_COMMENT_CHARS, type FeedbackRating } from "../../functions/shared/feedback";

/** The server's reply to feedback on one answer. */
export type FeedbackReply = { requestId: string; accepted: true; rating: FeedbackRating; replaced: boolean } | { requestId: string; accepted: false; message: string };

/**
 * A frame that answers a `feedback` action, or undefined for any other frame. Neither reply
 * is an envelope of an answer's stream (no `seq`), so it is read before one is parsed.
 */
export function parseFeedbackReply(data: unknown): FeedbackReply | undefined {
  if (typeof data !== "string" || !data.includes('"feedback')) return undefined;
  let frame: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    frame = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (frame.v !== 1) return undefined;
  if (frame.type === "feedback" && typeof frame.requestId === "string" && (frame.rating === "up" || frame.rating === "down")) {
    return { requestId: frame.requestId, accepted: true, rating: frame.rating, replaced: frame.replaced === true };
  }
  if (frame.type === "error" && typeof frame.feedbackRequestId === "string" && typeof frame.message === "string") {
    return { requestId: frame.feedbackRequestId, accepted: false, message: frame.message };
  }
  return undefined;
}

/** What the row says after a reply (or a send that could not go out). */
export function feedbackStatusText(reply: FeedbackReply): string {
  if (!reply.accepted) return `Feedback not recorded: ${reply.message}`;
  return reply.rating === "up" ? "Thanks: recorded as a good answer." : "Thanks: recorded as a bad answer.";
}

export type SendFeedback = (requestId: string, rating: FeedbackRating, comment: string) => void;

/** The controls under one answer; hidden until the answer is done. */
export interface FeedbackRow {
  readonly element: HTMLElement;
  readonly status: HTMLElement;
  /** Marks the button of the rating sent last. */
  select(rating: FeedbackRating): void;
}

function button(className: string, text: string, label: string): HTMLButtonElement {
  const node = document.createElement("button");
  node.type = "button";
  node.className = className;
  node.textContent = text;
  node.setAttribute("aria-label", label);
  node.setAttribute("aria-pressed", "false");
  return node;
}

export function feedbackRow(requestId: string, send: SendFeedback): FeedbackRow {
  const element = document.createElement("div");
  element.className = "answer-feedback";
  element.hidden = true;
  const up = button("feedback-up", "👍", "Good answer");
  const down = button("feedback-down", "👎", "Bad answer");
  const comment = document.createElement("input");
  comment.type = "text";
  comment.className = "feedback-comment";
  comment.maxLength = MAX_FEEDBACK_COMMENT_CHARS;
  comment.placeholder = "Comment (optional)";
  comment.setAttribute("aria-label", "Comment on this answer (optional)");
  const status = document.createElement("span");
  status.className = "feedback-status";
  status.setAttribute("role", "status");
  up.addEventListener("click", () => send(requestId, "up", comment.value));
  down.addEventListener("click", () => send(requestId, "down", comment.value));
  element.append(up, down, comment, status);
  return {
    element,
    status,
    select(rating) {
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
    },
  };
}
