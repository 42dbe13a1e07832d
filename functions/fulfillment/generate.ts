/**
 * What the answer engine asks of a generator (Bedrock ConverseStream, RetrieveAndGenerateStream,
 * a custom LLM Lambda), so the engine is the same whatever answers.
 */
import type { Citation, ProgressStage, Usage } from "../shared/protocol";
import type { StreamGuard } from "./guard";

/** One question and its answer, as conversation memory keeps them. */
export interface Turn {
  question: string;
  answer: string;
  /** True when the answer ran out of time before it was complete (a "continue" may resume it). */
  cutShort?: boolean;
}

export interface GenerateRequest {
  question: string;
  /** Earlier turns of the session, oldest first. */
  history: Turn[];
  sessionId: string;
  /** The asker's principal; undefined for the Lex door. */
  principal?: string;
  requestId: string;
  /** The knowledge base's own session id from the previous answer, for follow-up questions. */
  kbSessionId?: string;
  /** True when the answer is being streamed: use the streaming APIs. */
  streaming: boolean;
  /**
   * The asker wants the model's reasoning, and the stack allows it: a generator that can ask
   * its model to reason (reasoning.ts) does, and reports it to `sink.reasoning`. Only with
   * `streaming`. @default false
   */
  reasoning?: boolean;
}

/** Where a generator reports progress while it runs; every call returns at once. */
export interface GenerateSink {
  delta(text: string): void;
  citation(citations: Citation[]): void;
  guardrail(action: string): void;
  /** The model's reasoning, never part of the answer: streamed to json clients only, never remembered or logged. */
  reasoning?(text: string): void;
  /** What the generator is doing before its first delta (a knowledge base retrieving, then generating). */
  progress?(stage: ProgressStage): void;
}

export interface GenerateResult {
  /** The generated text, exactly the concatenation of the deltas sent. */
  text: string;
  /** Bedrock's stop reason (`end_turn`, `max_tokens`, ...) or `time_budget` when cut short. */
  stopReason: string;
  usage?: Usage;
  citations: Citation[];
  /** Knowledge base session id to send with the next question of this session. */
  kbSessionId?: string;
  /** Last guardrail action reported (`INTERVENED`, `NONE`). */
  guardrailAction?: string;
}

export interface Generator {
  /**
   * True when the generator streams to the session by itself (a custom LLM Lambda given
   * `streamingAttributes`): the engine then opens no stream of its own for the answer.
   */
  readonly streamsItself: boolean;
  /** Throws GenerationError, BudgetExhausted or an SDK error; the engine maps them. */
  generate(request: GenerateRequest, sink: GenerateSink, guard: StreamGuard): Promise<GenerateResult>;
}

/** Stop reason of an answer cut short by the Lambda time budget. */
export const TIME_BUDGET_STOP_REASON = "time_budget";
