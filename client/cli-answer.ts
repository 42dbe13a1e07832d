/**
 * Asks one question on an open `ws` socket and follows its envelopes to the end, through
 * the same frame parser and reducer as the page (so seq order and requestId matching are
 * the page's). Envelopes of other requests (another tab of the session) are ignored.
 *
 * A drop does not lose the answer: with `reconnect`, a new socket sends `resume` after the
 * last `seq` applied and the rest arrives exactly once. `stop` sends `cancel`: the server
 * ends the answer (stopReason `cancelled`) with what was generated so far.
 */
import type WebSocket from "ws";
import type { AnswerMode, Envelope, ProgressStage } from "../functions/shared/protocol";
import { CliError, EXIT } from "./exit-codes";
import { backoffDelay } from "./web/backoff";
import { emptyConversation, reduceConversation, type Answer, type Conversation } from "./web/conversation";
import { FrameError, parseEnvelope } from "./web/envelope";

export interface AskRequest {
  requestId: string;
  question: string;
  mode: AnswerMode;
  /** Asks for the model's reasoning too; sent only when true. */
  reasoning?: boolean;
}

export interface AnswerCallbacks {
  /** Every envelope of this request, once each, as applied (for --json). */
  onEnvelope?(envelope: Envelope): void;
  /** Streamed text, in order, once per accepted delta. */
  onText?(text: string): void;
  /** A one-line note for stderr (reconnecting, stopping). */
  onNote?(text: string): void;
  /** The model's reasoning, in order, as it arrives. */
  onReasoning?(text: string): void;
  /** A knowledge-base answer's stage before its first token. */
  onProgress?(stage: ProgressStage): void;
}

export interface FollowOptions {
  /** Give up when no frame of the answer arrives for this long. */
  readonly timeoutMs: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** Aborting it asks the server to stop the answer (Ctrl-C); aborted before the ask, nothing is sent. */
  readonly stop?: AbortSignal;
  /** A freshly signed socket of the same session, to resume on after a drop. Without it a drop fails the answer. */
  readonly reconnect?: () => Promise<WebSocket>;
  /** Connection attempts after one drop before giving up. @default 5 */
  readonly reconnectAttempts?: number;
  /**
   * How long to wait for the server's cancelled `end` after a stop; the server stops at its
   * next checkpoint (STREAM_CHECKPOINT_MS, default 1 s). Then the answer ends here as it is.
   * @default 10000
   */
  readonly stopWaitMs?: number;
  /** Delay before reconnect attempt n. @default capped jittered backoff from 250 ms */
  readonly reconnectDelayMs?: (attempt: number) => number;
}

/** The reader stopped before the question was sent (Ctrl-C while connecting). */
export class AnswerStoppedError extends Error {
  constructor() {
    super("stopped before the question was sent");
    this.name = "AnswerStoppedError";
  }
}

/**
 * One answer as the reducer sees it, fed envelopes from a socket or an SSE stream: applies
 * each envelope whose seq is past the last one applied (seq is the answer's position: it
 * grows with gaps), and reports what is new through the callbacks.
 */
export class AnswerTracker {
  private conversation: Conversation;

  constructor(
    private readonly request: AskRequest,
    private readonly callbacks: AnswerCallbacks,
    private readonly now: () => number = Date.now,
  ) {
    const { requestId, question, mode } = request;
    this.conversation = reduceConversation(emptyConversation, { type: "asked", requestId, question, mode, at: now() });
  }

  get answer(): Answer {
    return this.conversation.answers[this.request.requestId];
  }

  get finished(): boolean {
    return this.answer.status === "done" || this.answer.status === "error";
  }

  /** Applies the envelope; false when it was not new (another request's, or seen already). */
  apply(envelope: Envelope): boolean {
    const before = this.answer;
    if (envelope.requestId !== this.request.requestId || envelope.seq <= before.lastSeq) return false;
    this.callbacks.onEnvelope?.(envelope);
    this.conversation = reduceConversation(this.conversation, { type: "envelope", envelope, at: this.now() });
    const after = this.answer;
    const thought = before.reasoning ?? "";
    if ((after.reasoning ?? "").length > thought.length) this.callbacks.onReasoning?.(after.reasoning!.slice(thought.length));
    if (after.progress !== undefined && after.progress !== before.progress) this.callbacks.onProgress?.(after.progress);
    if (after.text.length > before.text.length) this.callbacks.onText?.(after.text.slice(before.text.length));
    return after !== before;
  }

  /** Ends the answer here as stopped, with what arrived, when the server's cancelled `end` never came. */
  stoppedHere(): Answer {
    return { ...this.answer, status: "done", stopReason: "cancelled", finishedAt: this.now() };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves with the answer once it is `done` (stopped ones included: stopReason
 * `cancelled`) or `error`; the caller picks the exit code. Rejects with a CliError on a bad
 * frame, a drop it cannot resume, or `timeoutMs` without a frame, and with
 * AnswerStoppedError when `stop` aborted before anything was sent.
 */
export function askOnSocket(first: WebSocket, request: AskRequest, callbacks: AnswerCallbacks, options: FollowOptions): Promise<Answer> {
  const now = options.now ?? Date.now;
  const { requestId } = request;
  return new Promise((resolve, reject) => {
    if (options.stop?.aborted) {
      reject(new AnswerStoppedError());
      return;
    }
    const tracker = new AnswerTracker(request, callbacks, now);
    let socket = first;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopTimer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    /** Set while a `resume` is outstanding: the afterSeq it asked for. */
    let resumedAfter: number | undefined;
    /** "wanted": sent once the answer has started (its journal exists then) on an open socket. */
    let cancel: "no" | "wanted" | "sent" = "no";
    const current = (): Answer => tracker.answer;

    const detach = () => {
      socket.off("message", onMessage);
      socket.off("close", onClose);
    };
    const finish = (outcome: Answer | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(stopTimer);
      detach();
      options.stop?.removeEventListener("abort", onStop);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const armTimeout = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new CliError(EXIT.network, `no answer frame for ${options.timeoutMs / 1000} s; giving up`)), options.timeoutMs);
    };
    const sendWantedCancel = () => {
      if (cancel !== "wanted" || current().lastSeq < 0 || resumedAfter !== undefined || socket.readyState !== socket.OPEN) return;
      socket.send(JSON.stringify({ action: "cancel", requestId }));
      cancel = "sent";
    };

    const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
      let envelope: Envelope;
      try {
        envelope = parseEnvelope(isBinary ? data : data.toString());
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        finish(new CliError(EXIT.protocol, `bad frame from the server: ${error.message}`));
        return;
      }
      if (envelope.requestId !== requestId) return;
      armTimeout();
      const before = current();
      if (envelope.type === "error" && envelope.seq <= (resumedAfter ?? before.lastSeq)) {
        // Not part of the answer (its seq is not past what was applied): a refused resume or cancel.
        if (resumedAfter === undefined) return; // a cancel that came as the answer ended: its end is on its way
        finish(new CliError(EXIT.network, `the connection dropped and the rest of the answer could not be fetched: ${envelope.message}`));
        return;
      }
      if (!tracker.apply(envelope)) return;
      resumedAfter = undefined;
      if (tracker.finished) finish(tracker.answer);
      else sendWantedCancel();
    };

    const resumeOnNewSocket = async (reconnect: () => Promise<WebSocket>) => {
      const attempts = options.reconnectAttempts ?? 5;
      for (let attempt = 0; attempt < attempts; attempt += 1) {
        await sleep(options.reconnectDelayMs?.(attempt) ?? backoffDelay(attempt, Math.random, { baseMs: 250, maxMs: 4000 }));
        if (settled) return;
        let next: WebSocket;
        try {
          next = await reconnect();
        } catch (error) {
          const retry = error instanceof CliError && error.exitCode === EXIT.network && attempt + 1 < attempts;
          if (!retry) {
            finish(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          continue;
        }
        if (settled) return;
        socket = next;
        socket.on("message", onMessage);
        socket.once("close", onClose);
        // `start` (seq 0) carries nothing, so an answer not seen to start resumes after it.
        resumedAfter = Math.max(current().lastSeq, 0);
        if (cancel === "sent") cancel = "wanted";
        socket.send(JSON.stringify({ action: "resume", requestId, afterSeq: resumedAfter }));
        armTimeout();
        return;
      }
    };

    const onClose = (code: number) => {
      detach();
      if (!options.reconnect) {
        finish(new CliError(EXIT.network, `the connection closed before the answer finished (code ${code})`));
        return;
      }
      callbacks.onNote?.(`connection closed (code ${code}); reconnecting to resume the answer…`);
      void resumeOnNewSocket(options.reconnect);
    };

    const onStop = () => {
      if (settled) return;
      callbacks.onNote?.("stopping the answer…");
      cancel = "wanted";
      sendWantedCancel();
      stopTimer = setTimeout(() => {
        // The server did not confirm in time: the answer ends here with what arrived.
        finish(tracker.stoppedHere());
      }, options.stopWaitMs ?? 10_000);
    };

    socket.on("message", onMessage);
    socket.once("close", onClose);
    options.stop?.addEventListener("abort", onStop, { once: true });
    armTimeout();
    const { reasoning, ...ask } = request;
    socket.send(JSON.stringify({ action: "ask", ...ask, ...(reasoning ? { reasoning: true } : {}) }), (error) => {
      if (error) finish(new CliError(EXIT.network, `could not send the question: ${error.message}`));
    });
  });
}
