/**
 * What the question box says about its text: a counter against the protocol's limit, and
 * why a question cannot be sent (empty, or too long) instead of dropping or cutting it.
 * Pure, for the page and its tests.
 */
import { MAX_QUESTION_CHARS } from "../../functions/shared/protocol";

export interface ComposerState {
  /** Characters as the server counts them (UTF-16 code units, JavaScript's `length`). */
  length: number;
  /** "123 / 4,000". */
  counter: string;
  /** Over the limit: the counter shows it and Send refuses. */
  tooLong: boolean;
  /** Why Send refuses, or undefined when the question can go. */
  problem?: string;
}

const number = (value: number) => value.toLocaleString("en-US");

/** The server trims the question, and so does the page before sending. */
export function composerState(text: string, limit = MAX_QUESTION_CHARS): ComposerState {
  const length = text.trim().length;
  const tooLong = length > limit;
  const state: ComposerState = { length, counter: `${number(length)} / ${number(limit)}`, tooLong };
  if (length === 0) state.problem = "Type a question first.";
  else if (tooLong) {
    state.problem = `Your question is ${number(length)} characters; the limit is ${number(limit)}. Shorten it by ${number(length - limit)} to send it.`;
  }
  return state;
}
