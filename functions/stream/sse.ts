/**
 * Protocol v1 envelopes as Server-Sent Events on an HTTP response (a Lambda function URL in
 * RESPONSE_STREAM mode): `event:` the envelope's type, `id:` its `seq`, `data:` the envelope
 * JSON. The stream writer posts envelopes here as it posts them to a WebSocket, so framing,
 * coalescing and positions are the same; a post resolves once the response has taken the
 * bytes (backpressure), and fails as "gone" once the reader has left.
 */
import { once } from "node:events";
import type { Writable } from "node:stream";
import { PostError, type StreamTransport } from "./types";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** One SSE event for one envelope. JSON never holds a raw line break, so `data:` is one line. */
export function sseEvent(envelopeJson: string): string {
  const { type, seq } = JSON.parse(envelopeJson) as { type: string; seq: number };
  return `event: ${type}\nid: ${seq}\ndata: ${envelopeJson}\n\n`;
}

export class SseTransport implements StreamTransport {
  constructor(private readonly response: Writable) {}

  async post(_connectionId: string, data: Uint8Array): Promise<void> {
    const { response } = this;
    if (response.destroyed || response.writableEnded) throw new PostError("gone", "the HTTP reader has gone");
    const event = encoder.encode(sseEvent(decoder.decode(data)));
    if (response.write(event)) return;
    // The listener of whichever does not happen is removed, so waits never pile up listeners.
    const settled = new AbortController();
    try {
      await Promise.race([
        once(response, "drain", { signal: settled.signal }),
        once(response, "close", { signal: settled.signal }).then(() => {
          throw new PostError("gone", "the HTTP reader has gone");
        }),
      ]);
    } finally {
      settled.abort();
    }
  }

  async close(): Promise<void> {
    this.response.end();
  }
}
