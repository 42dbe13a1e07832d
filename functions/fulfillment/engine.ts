/**
 * The one answer engine behind every front door (Lex, HTTP, WebSocket): loads the session's
 * memory, streams the generation to the session when the stack enabled streaming, formats the
 * final answer, remembers the turn. It never throws: a failure mid-way sends `fail` to the
 * stream and comes back as a clear final message, so no client is left waiting.
 */
import { logger } from "../shared/observability";
import type { AnswerMode, AnswerSource, Citation, ErrorCode, Usage } from "../shared/protocol";
import type { AnswerStream, OpenStream, StreamOpener } from "../stream/types";
import { DEFAULT_MEMORY_TURNS } from "./config";
import { AnswerCancelled, GenerationError, toGenerationError } from "./errors";
import { questionForModel } from "./continuation";
import { answerSources, formatAnswer } from "./format";
import { linksFor, type SourceLinks } from "./source-links";
import { DEFAULT_OUTPUT_POLICY, OutputSanitizer, sanitizeOutput, type OutputPolicy } from "./output-safety";
import { TIME_BUDGET_STOP_REASON, type GenerateResult, type GenerateSink, type Generator } from "./generate";
import { systemClock, type Clock } from "../shared/clock";
import { StreamGuard } from "./guard";
import { budgetSubject, estimateCostUsd, type TokenBudget, type TokenPrices } from "./token-budget";
import { meterRefusal, meterUsage, type UsageMetricsSink } from "./usage-metrics";
import { recordForFeedback } from "./feedback";
import type { FeedbackStore } from "./feedback-store";
import { DEFAULT_MEMORY_LIMITS, type ConversationMemory, type MemoryState } from "./memory";

export interface AnswerRequest {
  question: string;
  sessionId: string;
  /** The asker's canonical principal; undefined for the Lex door (Lex passes no identity). */
  principal?: string;
  mode: AnswerMode;
  /** Carried by `format=json` envelopes. */
  requestId: string;
  /** Epoch milliseconds by which generation must stop (Lambda time budget); undefined = none. */
  deadlineAt?: number;
  /** The WebSocket connection that asked; it gets the stream even when the session cannot be listed. */
  asker?: OpenStream["asker"];
  /**
   * Whose conversation memory the answer reads and extends. @default the asker's principal;
   * without one (an unknown asker), no memory. `false`: no memory at all, for an unknown asker
   * whose session's history may be another principal's.
   */
  memoryOwner?: string | false;
  /** Epoch seconds the memory written must not outlive (the claim its owner holds ends then). @default the memory's own TTL */
  memoryUntil?: number;
  /** Stream the answer when the stack streams. @default true */
  stream?: boolean;
  /** Streams the answer here instead of to the session's connections (a streaming HTTP response). */
  streamTo?: StreamOpener;
  /** The asker wants the model's reasoning streamed (`reasoning` envelopes); honoured only by a generator set up for it. @default false */
  reasoning?: boolean;
}

/** stopReason of an answer the asker stopped (`cancel`). */
export const CANCELLED_STOP_REASON = "cancelled";

export interface EngineDeps {
  /** Generators by mode; a mode without one is refused with `bad_request`. */
  generators: Partial<Record<AnswerMode, Generator>>;
  memory?: ConversationMemory;
  /** Turns of memory kept. @default DEFAULT_MEMORY_TURNS (5) */
  memoryTurns?: number;
  /** Defined exactly when the stack enabled streaming (its endpoint and table come from env). */
  openStream?: StreamOpener;
  /** Milliseconds without a Bedrock event before the answer is ended as stalled. */
  stallMs: number;
  clock?: Clock;
  /** What model text may keep of links and images; everything else is made inert. @default DEFAULT_OUTPUT_POLICY */
  outputPolicy?: OutputPolicy;
  /** Daily token budget per asker, checked before the generator runs; undefined: not budgeted. */
  budget?: TokenBudget;
  /** The model each mode answers with, named in `usage`. */
  models?: Partial<Record<AnswerMode, string>>;
  /** Token prices for the estimated cost in `usage`; undefined: no estimate. */
  prices?: TokenPrices;
  /** Where token metrics go. @default the function's Powertools metrics */
  metrics?: UsageMetricsSink;
  /** Records each ended answer of a known asker for its feedback (feedback.ts); undefined: no feedback kept. */
  feedback?: FeedbackStore;
  /** Presigns sources in allowlisted buckets (source-links.ts); undefined: only web sources are links. */
  sourceLinks?: SourceLinks;
}

export interface AnswerError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

export interface AnswerResult {
  /** The final formatted answer (markdown), or a clear message when it failed. */
  answer: string;
  /** The same, as plain text (channels without markdown). */
  plainText: string;
  /** The generated text, sanitized (on failure: whatever was generated before it). */
  text: string;
  citations: Citation[];
  /** The numbered sources the answer's `[n]` markers cite; empty or absent when it cites none. */
  sources?: AnswerSource[];
  usage?: Usage;
  /** Bedrock's stop reason, `time_budget` when cut short, `error` on failure. */
  stopReason: string;
  /** True when the answer went out over the session's stream. */
  streamed: boolean;
  kbSessionId?: string;
  error?: AnswerError;
}

export const MODE_UNAVAILABLE = {
  llm: "LLM mode is not configured on this stack.",
  kb: "Knowledge-base mode is not configured on this stack.",
} as const;

async function openQuietly(open: StreamOpener, request: AnswerRequest): Promise<AnswerStream | undefined> {
  try {
    const { sessionId, principal, requestId, asker } = request;
    return await open({ sessionId, principal, requestId, ...(asker ? { asker } : {}) });
  } catch (error) {
    logger.warn("stream could not be opened; answering without streaming", { error: errorName(error) });
    return undefined;
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/** Bedrock's usage with the model that answered and, when prices are configured, its estimated cost. */
export function describeUsage(usage: Usage, mode: AnswerMode, deps: Pick<EngineDeps, "models" | "prices">): Usage {
  const model = deps.models?.[mode];
  return {
    ...usage,
    ...(model ? { model } : {}),
    ...(deps.prices ? { estimatedCostUsd: estimateCostUsd(usage, deps.prices) } : {}),
  };
}

/** Presigned links of the cited sources; a signing failure (no credentials) leaves every source as text. */
async function sourceLinksOf(citations: readonly Citation[], linker: SourceLinks | undefined, policy: OutputPolicy): Promise<Map<string, string>> {
  if (!linker || citations.length === 0) return new Map();
  try {
    return await linksFor(citations.flatMap((c) => c.sources.map((s) => s.uri)), linker, policy);
  } catch (error) {
    logger.warn("source links could not be signed; sources are shown as text", { error: errorName(error) });
    return new Map();
  }
}

export async function answer(request: AnswerRequest, deps: EngineDeps): Promise<AnswerResult> {
  const clock = deps.clock ?? systemClock;
  const startedAt = clock.now();
  const owner = request.memoryOwner ?? request.principal ?? false;
  const memoryStore = owner === false ? undefined : deps.memory;
  const openStream = request.stream === false ? undefined : (request.streamTo ?? deps.openStream);
  const generator = deps.generators[request.mode];
  let stream: AnswerStream | undefined;
  let streamedByGenerator = false;
  const policy = deps.outputPolicy ?? DEFAULT_OUTPUT_POLICY;
  // Every delta is made inert here, before the writer: each door, format, journal and memory
  // sees the same safe text, and a construct cut between two deltas is held until decided.
  const sanitizer = new OutputSanitizer(policy);
  // Kept so a failure's result still says what was generated before it.
  let generated = "";
  // The reasoning is made inert as the answer is, by its own sanitizer (a construct never spans the two).
  const reasoningSanitizer = new OutputSanitizer(policy);
  const flushReasoning = () => {
    const held = reasoningSanitizer.flush();
    if (held !== "") stream?.reasoning?.(held);
  };
  const sink: GenerateSink = {
    reasoning(chunk) {
      const safe = reasoningSanitizer.push(chunk);
      if (safe !== "") stream?.reasoning?.(safe);
    },
    progress: (stage) => stream?.progress?.(stage),
    delta(chunk) {
      flushReasoning();
      const safe = sanitizer.push(chunk);
      if (safe === "") return;
      generated += safe;
      stream?.delta(safe);
    },
    citation: (citations) => stream?.citation(citations),
    guardrail: (action) => stream?.guardrail(action),
  };

  const fail = async (error: unknown): Promise<AnswerResult> => {
    const failure = toGenerationError(error);
    logger.warn("answer failed", {
      requestId: request.requestId,
      mode: request.mode,
      code: failure.code,
      retryable: failure.retryable,
      detail: failure.detail,
    });
    // No stream yet (a generator that streams by itself, or none for the mode): open one to
    // say it failed, so a client waiting on its socket is not left hanging.
    if (!stream && openStream) stream = await openQuietly(openStream, request);
    const payload = failure.toJSON();
    let streamed = streamedByGenerator;
    if (stream) {
      try {
        streamed = (await stream.fail(payload)).connections > 0;
      } catch (e) {
        logger.warn("stream fail() failed", { error: errorName(e) });
      }
    }
    return {
      answer: failure.message,
      plainText: failure.message,
      text: generated,
      citations: [],
      sources: [],
      stopReason: "error",
      streamed,
      error: payload,
    };
  };

  if (!generator) return fail(new GenerationError("bad_request", MODE_UNAVAILABLE[request.mode], false));

  const subject = budgetSubject(request);
  if (deps.budget) {
    try {
      await deps.budget.check(subject);
    } catch (error) {
      if (error instanceof GenerationError) {
        meterRefusal(deps.metrics);
        return fail(error);
      }
      // An outage of the bookkeeping must not stop every answer: metered, not refused.
      logger.warn("token budget unavailable; the ask is let through", { error: errorName(error) });
    }
  }

  const loadMemory = async (): Promise<MemoryState> => {
    if (!memoryStore || owner === false) return { turns: [] };
    try {
      return await memoryStore.load(request.sessionId, owner);
    } catch (error) {
      logger.warn("memory could not be read; answering without history", { error: errorName(error) });
      return { turns: [] };
    }
  };

  // A generator that streams itself (a custom LLM Lambda) reaches WebSocket connections only;
  // an HTTP response gets its text when it returns.
  const selfStreaming = generator.streamsItself && request.streamTo === undefined;
  const streaming = openStream !== undefined && (selfStreaming || !generator.streamsItself);
  // Memory and the session's connections are independent reads: one round trip before the model, not two.
  const [memory, opened] = await Promise.all([
    loadMemory(),
    openStream && !selfStreaming ? openQuietly(openStream, request) : Promise.resolve(undefined),
  ]);
  stream = opened;
  streamedByGenerator = streaming && selfStreaming;

  let result: GenerateResult;
  let cancelled = false;
  try {
    result = await generator.generate(
      {
        question: questionForModel(request.question, memory.turns),
        history: memory.turns,
        sessionId: request.sessionId,
        principal: request.principal,
        requestId: request.requestId,
        kbSessionId: memory.kbSessionId,
        streaming,
        ...(request.reasoning === true && streaming ? { reasoning: true } : {}),
      },
      sink,
      new StreamGuard({ stallMs: deps.stallMs, deadlineAt: request.deadlineAt, cancel: stream?.cancelled, clock }),
    );
  } catch (error) {
    // Stopped on purpose: the answer is what was generated so far, ended and remembered as such.
    if (!(error instanceof AnswerCancelled)) return fail(error);
    cancelled = true;
    result = { text: generated, stopReason: CANCELLED_STOP_REASON, citations: [] };
  }

  flushReasoning();
  const held = sanitizer.flush();
  if (held !== "") stream?.delta(held);
  // A cancelled answer is what was streamed (safe already); a finished one, the generator's whole text made safe.
  const text = cancelled ? generated + held : sanitizeOutput(result.text, policy);
  if (generator.streamsItself && stream && text !== "") stream.delta(text);
  const cutShort = result.stopReason === TIME_BUDGET_STOP_REASON;
  const memoryTurns = deps.memoryTurns ?? DEFAULT_MEMORY_TURNS;
  const remembered = memoryStore !== undefined && owner !== false && text.trim() !== "";
  const usage = result.usage && describeUsage(result.usage, request.mode, deps);
  if (usage) {
    meterUsage(usage, deps.metrics);
    await deps.budget?.record(subject, usage).catch((error) => logger.warn("token usage could not be recorded", { error: errorName(error) }));
  }
  const sources = answerSources(result.citations, await sourceLinksOf(result.citations, deps.sourceLinks, policy), policy);
  const formatted = formatAnswer(text, result.citations, { cutShort, continuable: remembered && memoryTurns > 0, policy, sources });
  // Before `end` goes out, so an asker who rates the answer as soon as it ends finds its record.
  const model = usage?.model ?? deps.models?.[request.mode];
  await recordForFeedback(deps.feedback, { ...request, final: formatted.markdown, model, citations: result.citations, stopReason: result.stopReason });
  let streamed = streamedByGenerator;
  if (stream) {
    try {
      const report = await stream.end({ final: formatted.markdown, stopReason: result.stopReason, usage, sources });
      streamed = report.connections > 0;
    } catch (error) {
      logger.warn("stream end() failed", { error: errorName(error) });
    }
  }

  if (remembered) {
    const limits = { turns: memoryTurns, ...DEFAULT_MEMORY_LIMITS };
    const turn = { question: request.question, answer: text, ...(cutShort ? { cutShort } : {}) };
    await memoryStore
      .append(request.sessionId, owner, turn, limits, result.kbSessionId, request.memoryUntil)
      .catch((error) => logger.warn("memory could not be written", { error: errorName(error) }));
  }

  logger.info("answer finished", {
    requestId: request.requestId,
    mode: request.mode,
    stopReason: result.stopReason,
    streamed,
    citations: result.citations.length,
    inputTokens: usage?.inputTokens,
    outputTokens: usage?.outputTokens,
    durationMs: clock.now() - startedAt,
  });

  return {
    answer: formatted.markdown,
    plainText: formatted.plainText,
    text,
    citations: result.citations,
    sources,
    usage,
    stopReason: result.stopReason,
    streamed,
    kbSessionId: result.kbSessionId,
  };
}
