/**
 * The conversation as view state, reduced from what the user asked and the envelopes that
 * came back. Pure: the page renders it, the CLI prints from it, the tests drive it.
 */
import type { AnswerMode, AnswerSource, Citation, Envelope, ErrorCode, ProgressStage, StreamMetrics, Usage } from "../../functions/shared/protocol";
import { closePartialMarkdown } from "./partial-markdown";
import { wellFormedSources } from "./source-snippets";

export type AnswerStatus = "pending" | "streaming" | "done" | "error";

export interface AnswerError {
  /** A protocol error code, or "connection_lost" when the rest of the answer could not be had after a drop. */
  code: ErrorCode | "connection_lost";
  message: string;
  retryable: boolean;
}

export interface Answer {
  requestId: string;
  question: string;
  mode: AnswerMode;
  status: AnswerStatus;
  /** The streamed text so far: the `delta`s concatenated. */
  text: string;
  /** The model's reasoning so far: the `reasoning` envelopes concatenated; absent without any. */
  reasoning?: string;
  /** The last `progress` stage, until the first delta: what the answer is doing before its text. */
  progress?: ProgressStage;
  /** The final formatted answer from `end`; replaces `text` once present. */
  final?: string;
  citations: Citation[];
  /** The numbered sources `final` cites, from `end`: links and snippets. */
  sources?: AnswerSource[];
  guardrail?: string;
  error?: AnswerError;
  stopReason?: string;
  /** The reader asked to stop it (Stop, Esc, Ctrl-C); the server's `end` (stopReason `cancelled`) is on its way. */
  stopRequested?: boolean;
  usage?: Usage;
  serverMetrics?: StreamMetrics;
  /** Highest `seq` applied; envelopes at or below it are stale or duplicated. */
  lastSeq: number;
  deltas: number;
  /** Client clock, epoch ms. */
  askedAt: number;
  firstDeltaAt?: number;
  finishedAt?: number;
}

export interface Conversation {
  /** Request ids in the order asked. */
  order: readonly string[];
  answers: Readonly<Record<string, Answer>>;
}

export type ConversationAction =
  | { type: "asked"; requestId: string; question: string; mode: AnswerMode; at: number }
  | { type: "envelope"; envelope: Envelope; at: number }
  | { type: "interrupted"; requestIds: readonly string[]; message: string; at: number }
  | { type: "stop-requested"; requestId: string }
  /** Stopped with no connection to tell the server on: the answer ends here with what arrived. */
  | { type: "stopped-offline"; requestId: string; at: number };

export const emptyConversation: Conversation = { order: [], answers: {} };

/** Keeps only well-formed citations: the frame validator checks the array, not each item. */
function wellFormedCitations(citations: readonly unknown[]): Citation[] {
  const result: Citation[] = [];
  for (const item of citations) {
    if (typeof item !== "object" || item === null) continue;
    const { text, sources } = item as { text?: unknown; sources?: unknown };
    const kept = Array.isArray(sources)
      ? sources
          .filter((s): s is { uri: string; title?: unknown } => typeof s?.uri === "string" && s.uri !== "")
          .map((s) => (typeof s.title === "string" && s.title !== "" ? { uri: s.uri, title: s.title } : { uri: s.uri }))
      : [];
    result.push({ text: typeof text === "string" ? text : "", sources: kept });
  }
  return result;
}

function isTerminal(answer: Answer): boolean {
  return answer.status === "done" || answer.status === "error";
}

function applyEnvelope(answer: Answer, envelope: Envelope, at: number): Answer {
  const next: Answer = { ...answer, lastSeq: envelope.seq };
  switch (envelope.type) {
    case "start":
      return { ...next, status: "streaming" };
    case "delta":
      return {
        ...next,
        status: "streaming",
        text: answer.text + envelope.text,
        progress: undefined,
        deltas: answer.deltas + 1,
        firstDeltaAt: answer.firstDeltaAt ?? at,
      };
    case "citation":
      return { ...next, citations: [...answer.citations, ...wellFormedCitations(envelope.citations)] };
    case "guardrail":
      return { ...next, guardrail: envelope.action };
    case "reasoning":
      return { ...next, status: "streaming", reasoning: (answer.reasoning ?? "") + envelope.text };
    case "progress":
      // A stage after text began says nothing the text does not.
      return answer.deltas > 0 ? next : { ...next, status: "streaming", progress: envelope.stage };
    case "end":
      return {
        ...next,
        status: "done",
        progress: undefined,
        final: envelope.final,
        stopReason: envelope.stopReason,
        usage: envelope.usage,
        ...(envelope.sources ? { sources: wellFormedSources(envelope.sources) } : {}),
        serverMetrics: envelope.metrics,
        finishedAt: at,
      };
    case "error":
      return {
        ...next,
        status: "error",
        progress: undefined,
        error: { code: envelope.code, message: envelope.message, retryable: envelope.retryable === true },
        finishedAt: at,
      };
  }
}

/**
 * Returns the same object when an action changes nothing (unknown requestId, stale seq,
 * envelope after the answer ended), so a renderer can skip work by identity.
 */
export function reduceConversation(state: Conversation, action: ConversationAction): Conversation {
  switch (action.type) {
    case "asked": {
      if (state.answers[action.requestId]) return state;
      const answer: Answer = {
        requestId: action.requestId,
        question: action.question,
        mode: action.mode,
        status: "pending",
        text: "",
        citations: [],
        lastSeq: -1,
        deltas: 0,
        askedAt: action.at,
      };
      return { order: [...state.order, action.requestId], answers: { ...state.answers, [action.requestId]: answer } };
    }
    case "envelope": {
      const answer = state.answers[action.envelope.requestId];
      if (!answer || isTerminal(answer) || action.envelope.seq <= answer.lastSeq) return state;
      return { ...state, answers: { ...state.answers, [answer.requestId]: applyEnvelope(answer, action.envelope, action.at) } };
    }
    case "stop-requested": {
      const answer = state.answers[action.requestId];
      if (!answer || isTerminal(answer) || answer.stopRequested) return state;
      return { ...state, answers: { ...state.answers, [answer.requestId]: { ...answer, stopRequested: true } } };
    }
    case "stopped-offline": {
      const answer = state.answers[action.requestId];
      if (!answer || isTerminal(answer)) return state;
      const stopped: Answer = { ...answer, status: "done", stopRequested: true, stopReason: "cancelled", finishedAt: action.at };
      return { ...state, answers: { ...state.answers, [answer.requestId]: stopped } };
    }
    case "interrupted": {
      let answers = state.answers;
      for (const requestId of action.requestIds) {
        const answer = answers[requestId];
        if (!answer || isTerminal(answer)) continue;
        const error: AnswerError = { code: "connection_lost", message: action.message, retryable: true };
        answers = { ...answers, [requestId]: { ...answer, status: "error", error, finishedAt: action.at } };
      }
      return answers === state.answers ? state : { ...state, answers };
    }
  }
}

/** The answer ended because the reader stopped it: what it shows is what was generated until then. */
export function isStopped(answer: Answer): boolean {
  return answer.status === "done" && answer.stopReason === "cancelled";
}

/** The answer still streams (or waits for its first token). */
export function isInFlight(answer: Answer): boolean {
  return answer.status === "pending" || answer.status === "streaming";
}

/**
 * The markdown an answer shows: the final formatted answer once it came, otherwise what
 * streamed so far (or before it failed), with the markers still open closed, not shown.
 */
export function displayText(answer: Answer): string {
  return answer.final ?? closePartialMarkdown(answer.text);
}

/** Citation sources with a URI, each once, in first-cited order. */
export function citedSources(answer: Answer): { uri: string; title?: string }[] {
  const seen = new Map<string, { uri: string; title?: string }>();
  for (const citation of answer.citations) {
    for (const source of citation.sources) if (!seen.has(source.uri)) seen.set(source.uri, source);
  }
  return [...seen.values()];
}
