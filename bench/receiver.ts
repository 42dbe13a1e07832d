/**
 * The receiving end: a real WebSocket client on a presigned URL that timestamps every frame
 * (epochNow()) and checks what arrived against the text the model generated, so a lost,
 * duplicated or reordered frame shows as a mismatch instead of passing unseen.
 */
import WebSocket from "ws";
import { epochNow } from "./ipc";

export interface Received {
  /** epochNow() of the first answer frame. */
  firstAt?: number;
  /** epochNow() of the frame that completed the expected text. */
  doneAt?: number;
  /** Frames received. */
  frames: number;
  /** The answer text as received (text: frames concatenated; json: delta texts concatenated). */
  text: string;
  /** True when the text equals the expected text exactly (and, for json, seq had no gap and `end` came). */
  intact: boolean;
  /** json only: positions missing before an envelope's own (a lost frame; seq is the answer's position, journal.ts). */
  seqGaps: number;
  /** json only: copies of envelopes already received (resent after a post timed out), dropped as clients do. */
  seqRepeats: number;
  /** json only: each delta frame's arrival time and the text length it brought the answer to. */
  arrivals: { at: number; length: number }[];
  /** text only: each frame's arrival time and text, for the Lex Web UI display model. */
  textFrames: { at: number; text: string }[];
}

export interface Receiver {
  readonly result: Received;
  /** Resolves when the expected text is complete (json: when `end` arrived), or after `timeoutMs`. */
  readonly done: Promise<Received>;
  /** Sends a client message (json `ask`). */
  send(data: string): void;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  readonly url: string;
  /** The answer text the frames must add up to. */
  readonly expected: string;
  readonly format: "text" | "json";
  /** Gives up waiting after this long without completing. @default 120000 */
  readonly timeoutMs?: number;
}

/** Opens the connection; resolves once `$connect` has accepted it (the row is written by then). */
export async function openReceiver(options: ReceiverOptions): Promise<Receiver> {
  const ws = new WebSocket(options.url, { perMessageDeflate: false });
  const expectedBytes = Buffer.byteLength(options.expected);
  const result: Received = { frames: 0, text: "", intact: false, seqGaps: 0, seqRepeats: 0, arrivals: [], textFrames: [] };
  const chunks: Buffer[] = [];
  let bytes = 0;
  /** The position the last envelope received ends at; `start` is 0. */
  let lastSeq = -1;
  let seqOk = true;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  ws.on("message", (data: Buffer) => {
    const at = epochNow();
    result.frames++;
    if (options.format === "text") {
      result.firstAt ??= at;
      chunks.push(data);
      result.textFrames.push({ at, text: data.toString("utf8") });
      bytes += data.length;
      if (bytes >= expectedBytes && result.doneAt === undefined) {
        result.doneAt = at;
        result.text = Buffer.concat(chunks).toString("utf8");
        result.intact = bytes === expectedBytes && result.text === options.expected;
        finish();
      }
      return;
    }
    const envelope = JSON.parse(data.toString("utf8")) as { type: string; seq: number; text?: string; citations?: unknown[] };
    // A copy resent after a post timed out: the protocol has clients drop a seq they have seen.
    if (envelope.seq <= lastSeq) {
      result.seqRepeats++;
      return;
    }
    // seq is the position of the last thing a frame carries (journal.ts): each UTF-16 unit of
    // text and each citation takes one, any other event one; so a frame starts right after the last.
    const span = envelope.type === "delta" ? (envelope.text ?? "").length : envelope.type === "citation" ? (envelope.citations?.length ?? 0) : 1;
    const expectedSeq = lastSeq + span;
    if (envelope.seq > expectedSeq) {
      seqOk = false;
      result.seqGaps += envelope.seq - expectedSeq;
    }
    lastSeq = envelope.seq;
    if (envelope.type === "delta") {
      result.firstAt ??= at;
      result.text += envelope.text ?? "";
      result.arrivals.push({ at, length: result.text.length });
    } else if (envelope.type === "end" || envelope.type === "error") {
      result.doneAt = at;
      result.intact = seqOk && envelope.type === "end" && result.text === options.expected;
      finish();
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`connect refused: ${res.statusCode}`)));
  });
  ws.on("error", () => undefined);
  ws.once("close", () => finish());

  const timeoutMs = options.timeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  const done = Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]).then(() => {
    clearTimeout(timer);
    if (options.format === "text" && result.doneAt === undefined) result.text = Buffer.concat(chunks).toString("utf8");
    return result;
  });
  return {
    result,
    done,
    send: (data) => ws.send(data),
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", () => resolve());
        ws.close();
      }),
  };
}
