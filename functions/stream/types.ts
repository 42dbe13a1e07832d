/**
 * Contracts of the stream writer: the injected transport and the stream an answer writes to.
 */
import type { Citation, ErrorCode, StreamMetrics, Usage } from "../shared/protocol";

/** Why a post failed, as the @connections API says it. */
export type PostFailureKind = "gone" | "forbidden" | "throttled" | "too_large" | "other";

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
}

/** Figures an answer's stream reports when it ends. */
export interface StreamReport extends StreamMetrics {
  /** Total bytes posted, summed over connections. */
  bytes: number;
  /** Connections the stream started with. */
  connections: number;
  /** Connections dropped for 410 Gone / 403. */
  gone: number;
  /** Posts retried after 429. */
  retries: number;
  /** PostToConnection calls made, summed over connections. */
  posts: number;
}

/** What an answer engine writes to while it generates; every call is non-blocking but `end`/`fail`. */
export interface AnswerStream {
  delta(text: string): void;
  citation(citations: Citation[]): void;
  guardrail(action: string): void;
  /** Flushes everything, sends `end` to json connections, and resolves when all posts settled. */
  end(result: { final: string; stopReason: string; usage?: Usage }): Promise<StreamReport>;
  /** Flushes, sends an `error` envelope (json) or the message as text (text), resolves when settled. */
  fail(error: { code: ErrorCode; message: string; retryable: boolean }): Promise<StreamReport>;
  /** Connections still receiving. 0 means posting has stopped; the answer still completes. */
  readonly liveConnections: number;
}
