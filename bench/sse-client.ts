/**
 * The receiving end of the streaming function URL: a SigV4-signed `POST` (service `lambda`, as
 * a function URL with AuthType AWS_IAM requires) with `Accept: text/event-stream`, read as it
 * arrives. Every Server-Sent Event (`event:` type, `id:` seq, `data:` the protocol v1
 * envelope) is timestamped (epochNow()) and checked as receiver.ts checks a json WebSocket
 * client: positions without a gap, the text exactly the generated text, `end` last.
 */
import { request } from "node:http";
import type { AwsCredentialIdentity } from "@smithy/types";
import { signFunctionUrlPost } from "../client/function-url-signer";
import { SseParser } from "../client/sse";
import { epochNow } from "./ipc";

export interface SseAsk {
  /** The function URL (`http://127.0.0.1:{port}/` locally). */
  readonly url: string;
  readonly region: string;
  readonly credentials: AwsCredentialIdentity;
  /** The body of `POST /ask`. */
  readonly body: { question: string; sessionId: string; requestId: string; mode?: string };
  /** The answer text the deltas must add up to. */
  readonly expected: string;
  /** Gives up after this long. @default 120000 */
  readonly timeoutMs?: number;
}

export interface SseReceived {
  status: number;
  /** epochNow() just before the signed request was sent (signing excluded, as the WebSocket clients sign before they start the clock). */
  startedAt: number;
  firstDeltaAt?: number;
  lastDeltaAt?: number;
  /** epochNow() of the `end` (or `error`) event. */
  doneAt?: number;
  /** Server-Sent Events received, by type. */
  events: Record<string, number>;
  /** Response body bytes (what Lambda meters as the streamed response). */
  bodyBytes: number;
  text: string;
  seqGaps: number;
  /** True when the text equals the expected text, positions had no gap and `end` came. */
  intact: boolean;
  /** The `error` event's or a refusal's message, if any. */
  error?: string;
}

export async function askOverSse(ask: SseAsk): Promise<SseReceived> {
  const url = new URL(ask.url);
  const body = JSON.stringify(ask.body);
  const signed = await signFunctionUrlPost({ url: ask.url, region: ask.region, credentials: ask.credentials, body });
  const received: SseReceived = { status: 0, startedAt: epochNow(), events: {}, bodyBytes: 0, text: "", seqGaps: 0, intact: false };
  let lastSeq = -1;
  let ended = false;
  await new Promise<void>((resolve, reject) => {
    const req = request({ method: "POST", host: url.hostname, port: url.port, path: url.pathname, headers: signed.headers }, (res) => {
      received.status = res.statusCode ?? 0;
      let refusal = "";
      const parser = new SseParser();
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        const at = epochNow();
        received.bodyBytes += Buffer.byteLength(chunk);
        if (received.status !== 200) {
          refusal += chunk;
          return;
        }
        for (const { event, id, data } of parser.push(chunk)) {
          received.events[event] = (received.events[event] ?? 0) + 1;
          const envelope = JSON.parse(data) as { type: string; seq: number; text?: string; citations?: unknown[]; message?: string };
          // seq is the position of the last thing an envelope carries (journal.ts), as in receiver.ts.
          const span = envelope.type === "delta" ? (envelope.text ?? "").length : envelope.type === "citation" ? (envelope.citations?.length ?? 0) : 1;
          if (Number(id) !== envelope.seq || envelope.type !== event) received.seqGaps++;
          if (envelope.seq > lastSeq + span) received.seqGaps += envelope.seq - (lastSeq + span);
          lastSeq = envelope.seq;
          if (envelope.type === "delta") {
            received.firstDeltaAt ??= at;
            received.lastDeltaAt = at;
            received.text += envelope.text ?? "";
          } else if (envelope.type === "end" || envelope.type === "error") {
            received.doneAt = at;
            ended = envelope.type === "end";
            if (envelope.type === "error") received.error = envelope.message ?? data;
          }
        }
      });
      res.on("end", () => {
        if (received.status !== 200) received.error = `HTTP ${received.status}: ${refusal}`;
        resolve();
      });
      res.on("error", reject);
    });
    req.setTimeout(ask.timeoutMs ?? 120_000, () => req.destroy(new Error("the SSE answer timed out")));
    req.on("error", reject);
    received.startedAt = epochNow();
    req.end(body);
  });
  received.intact = ended && received.seqGaps === 0 && received.text === ask.expected;
  return received;
}
