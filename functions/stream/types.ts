/**
 * Contracts of the stream writer: the injected transport and the stream an answer writes to.
 */
import type { AnswerSource, Citation, ErrorCode, ProgressStage, StreamMetrics, Usage } from "../shared/protocol";
import type { StreamFormat } from "../shared/table";

/**
 * Why a post failed, as the @connections API says it. `other`: API Gateway answered with an
 * error, or the connection was refused: not delivered. `unknown`: no answer (a timeout or a
 * reset after sending), so the frame may have arrived and resending it may show it twice.
 */
export type PostFailureKind = "gone" | "forbidden" | "throttled" | "too_large" | "other" | "unknown";

export class PostError extends Error {
  constructor(
    readonly kind: PostFailureKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "PostError";
  }
}

/** Sends one frame to one connection (PostToConnection); rejects with PostError. */
export interface StreamTransport {
  post(connectionId: string, data: Uint8Array): Promise<void>;
  /** Closes the connection's socket (DeleteConnection); a gone connection is not an error. */
  close(connectionId: string): Promise<void>;
}

/** Figures an answer's stream reports when it ends. */
export interface StreamReport extends StreamMetrics {
  /** Total bytes posted, summed over connections. */
  bytes: number;
  /** Connections the stream started with. */
  connections: number;
  /** Connections dropped for 410 Gone / 403. */
  gone: number;
  /** Posts retried after 429 or a transient failure. */
  retries: number;
  /** PostToConnection calls made, summed over connections. */
  posts: number;
}

/** What an answer engine writes to while it generates; every call is non-blocking but `end`/`fail`. */
export interface AnswerStream {
  delta(text: string): void;
  citation(citations: Citation[]): void;
  guardrail(action: string): void;
  /**
   * The model's reasoning, already made inert: `reasoning` envelopes to json connections only,
   * never to text ones (Lex Web UI), never kept for a resume. Optional so a stream written
   * before reasoning existed still fits.
   */
  reasoning?(text: string): void;
  /** What the answer is doing before its text (`progress` envelope), json connections only, not kept for a resume. */
  progress?(stage: ProgressStage): void;
  /** Flushes everything, sends `end` to json connections, and resolves when all posts settled. */
  end(result: { final: string; stopReason: string; usage?: Usage; sources?: AnswerSource[] }): Promise<StreamReport>;
  /** Flushes, sends an `error` envelope (json) or the message as text (text), resolves when settled. */
  fail(error: { code: ErrorCode; message: string; retryable: boolean }): Promise<StreamReport>;
  /** Connections still receiving. 0 means posting has stopped; the answer still completes. */
  readonly liveConnections: number;
  /** Aborted when the asker cancelled the answer (`cancel`); undefined when it cannot be cancelled. */
  readonly cancelled?: AbortSignal;
}

/** Which answer a stream carries and to whom: the session's connections of `principal`. */
export interface OpenStream {
  sessionId: string;
  /**
   * The asker's principal: only its own connections receive the answer. Without it (a Lex
   * code hook, a custom LLM hook), the session's connections receive it only while a single
   * principal claims the session. Omit it
   * only when the caller is trusted to name the session (a Lex code hook, a custom LLM hook).
   */
  principal?: string;
  /** Carried by every `format=json` envelope so a client can match the answer to its ask. */
  requestId: string;
  /**
   * The connection that asked (WebSocket `ask`). When the session's connections cannot be
   * listed, the answer still goes to it: it is the one client certainly waiting.
   */
  asker?: { connectionId: string; format: StreamFormat };
}

/**
 * Opens an answer's stream: looks up the session's connections and sends `start` to the json
 * ones. A store failure does not reject: the answer then streams to nobody.
 */
export type StreamOpener = (open: OpenStream) => Promise<AnswerStream>;
