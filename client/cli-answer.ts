/**
 * Asks one question on an open `ws` socket and follows its envelopes to the end, through
 * the same frame parser and reducer as the page (so seq order and requestId matching are
 * the page's). Envelopes of other requests (another tab of the session) are ignored.
 */
import type WebSocket from "ws";
import type { AnswerMode, Envelope } from "../functions/shared/protocol";
import { CliError, EXIT } from "./exit-codes";
import { emptyConversation, reduceConversation, type Answer, type Conversation } from "./web/conversation";
import { FrameError, parseEnvelope } from "./web/envelope";

export interface AskRequest {
  requestId: string;
  question: string;
  mode: AnswerMode;
}

export interface AnswerCallbacks {
  /** Every envelope of this request, as received (for --json). */
  onEnvelope?(envelope: Envelope): void;
  /** Streamed text, in order, once per accepted delta. */
  onText?(text: string): void;
}

/** The reader stopped following the answer (Ctrl-C in `chat`); its later frames are ignored. */
export class AnswerStoppedError extends Error {
  constructor() {
    super("stopped following the answer");
    this.name = "AnswerStoppedError";
  }
}

/**
 * Resolves with the answer once it is `done` or `error` (the caller picks the exit code);
 * rejects with a CliError on a bad frame, a drop, or `timeoutMs` without a frame, and with
 * AnswerStoppedError when `signal` aborts. Until the protocol can cancel, stopping only
 * stops listening: the server finishes the answer, and its frames, matched by requestId,
 * are dropped by whoever listens next.
 */
export function askOnSocket(
  socket: WebSocket,
  request: AskRequest,
  callbacks: AnswerCallbacks,
  timeoutMs: number,
  now: () => number = Date.now,
  signal?: AbortSignal,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AnswerStoppedError());
      return;
    }
    let conversation: Conversation = reduceConversation(emptyConversation, { type: "asked", ...request, at: now() });
    let timer: ReturnType<typeof setTimeout> | undefined;

    const finish = (outcome: Answer | Error) => {
      clearTimeout(timer);
      socket.off("message", onMessage);
      socket.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const armTimeout = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => finish(new CliError(EXIT.network, `no answer frame for ${timeoutMs / 1000} s; giving up`)),
        timeoutMs,
      );
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
      if (envelope.requestId !== request.requestId) return;
      armTimeout();
      callbacks.onEnvelope?.(envelope);
      const before = conversation.answers[request.requestId];
      conversation = reduceConversation(conversation, { type: "envelope", envelope, at: now() });
      const answer = conversation.answers[request.requestId];
      if (answer.text.length > before.text.length) callbacks.onText?.(answer.text.slice(before.text.length));
      if (answer.status === "done" || answer.status === "error") finish(answer);
    };
    const onClose = (code: number) => {
      finish(new CliError(EXIT.network, `the connection closed before the answer finished (code ${code})`));
    };

    const onAbort = () => finish(new AnswerStoppedError());

    socket.on("message", onMessage);
    socket.once("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
    armTimeout();
    socket.send(JSON.stringify({ action: "ask", ...request }), (error) => {
      if (error) finish(new CliError(EXIT.network, `could not send the question: ${error.message}`));
    });
  });
}
