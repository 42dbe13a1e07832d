/**
 * What one line typed at the `qnabot-stream chat` prompt means. Lines starting with "/" are
 * commands handled locally and never sent to the model; "//" sends a question that starts
 * with "/". Pure.
 */
import { MAX_FEEDBACK_COMMENT_CHARS, type FeedbackRating } from "../functions/shared/feedback";
import { ANSWER_MODES, MAX_QUESTION_CHARS, type AnswerMode } from "../functions/shared/protocol";

export const CHAT_HELP = `Type a question and press Enter; the answer streams below it.
  /mode llm|kb   answer with the LLM or the knowledge base
  /good [comment], /bad [comment]
                 rate the last answer (thumbs up / down), with an optional comment
  /help          this help
  /quit, /exit   leave (or Ctrl-D)
  Ctrl-C         stop the answer being generated (it ends with what was generated so far);
                 twice at an empty prompt leaves
  //text         send a question that starts with "/"`;

export type ChatLine =
  | { kind: "empty" }
  | { kind: "question"; text: string }
  | { kind: "help" }
  | { kind: "quit" }
  | { kind: "mode"; mode: AnswerMode }
  /** Rate the last answer; `comment` absent when none was typed. */
  | { kind: "feedback"; rating: FeedbackRating; comment?: string }
  /** A mistake: say `message` on one line, send nothing. */
  | { kind: "invalid"; message: string };

export function parseChatLine(raw: string): ChatLine {
  const line = raw.trim();
  if (line === "") return { kind: "empty" };
  if (line.startsWith("//")) return question(line.slice(1));
  if (!line.startsWith("/")) return question(line);
  const [command, ...args] = line.split(/\s+/);
  switch (command.toLowerCase()) {
    case "/help":
    case "/?":
      return { kind: "help" };
    case "/quit":
    case "/exit":
      return { kind: "quit" };
    case "/mode": {
      const mode = args.join(" ");
      if ((ANSWER_MODES as readonly string[]).includes(mode)) return { kind: "mode", mode: mode as AnswerMode };
      return { kind: "invalid", message: `/mode takes one of: ${ANSWER_MODES.join(", ")}` };
    }
    case "/good":
    case "/bad": {
      const comment = args.join(" ");
      if (comment.length > MAX_FEEDBACK_COMMENT_CHARS) {
        return { kind: "invalid", message: `comment is ${comment.length} characters, longer than the ${MAX_FEEDBACK_COMMENT_CHARS} allowed; not sent` };
      }
      const rating: FeedbackRating = command.toLowerCase() === "/good" ? "up" : "down";
      return { kind: "feedback", rating, ...(comment === "" ? {} : { comment }) };
    }
    default:
      return { kind: "invalid", message: `unknown command ${command}: /help lists the commands (start with // to ask a question that begins with /)` };
  }
}

function question(text: string): ChatLine {
  if (text.length > MAX_QUESTION_CHARS) {
    return { kind: "invalid", message: `question is ${text.length} characters, longer than the ${MAX_QUESTION_CHARS} allowed; not sent` };
  }
  return { kind: "question", text };
}
