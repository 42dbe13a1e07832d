/**
 * "continue" after an answer that ran out of time. The Lex door must answer within Lex's 30 s,
 * so a long answer ends cut short; its memory turn records that (Turn.cutShort), and when the
 * next question of the session only asks to go on, the model is asked to carry on from where
 * its answer stopped (the cut answer is the last assistant turn of the history it is sent).
 * Any other question after a cut answer, and "continue" after a whole one, are ordinary
 * questions. Pure.
 */
import type { Turn } from "./generate";

/** What a user types to have the rest: "continue", "go on", "keep going", "more", with "please" or punctuation. */
const CONTINUE_REQUEST = /^\s*(?:please\s+)?(?:continue|go on|keep going|carry on|more),?(?:\s+please)?\s*[.!]*\s*$/i;

/** What the model is asked instead of the user's "continue". */
export const CONTINUE_PROMPT =
  "Your previous answer was cut short before it was complete. Continue it exactly where it stopped, without repeating anything you already wrote.";

/** Told to the user under a cut-short answer that can be continued (its turn is remembered). */
export const CONTINUE_HINT = 'Say "continue" for the rest.';

export function isContinueRequest(question: string): boolean {
  return CONTINUE_REQUEST.test(question);
}

/** The question to send the model: CONTINUE_PROMPT when the user asks for the rest of a cut-short last answer, else the question. */
export function questionForModel(question: string, history: readonly Turn[]): string {
  const last = history[history.length - 1];
  return last?.cutShort === true && isContinueRequest(question) ? CONTINUE_PROMPT : question;
}
