/**
 * Framing of streamed answers: how many bytes text costs as posted, and the longest head of
 * it that fits one frame without splitting a character. Pure: no I/O.
 *
 * Sizes are UTF-8 bytes of the whole frame as posted: the raw text for `format=text`, the
 * serialized envelope for `format=json` (where JSON escaping inflates a control character
 * to up to 6 bytes). JavaScript strings are UTF-16, so a character outside the BMP is a
 * surrogate pair that must never be cut in two.
 */
import { envelope, type Citation, type Envelope } from "../shared/protocol";

/** API Gateway's WebSocket frame size: a post this size or smaller leaves as one frame. */
export const DEFAULT_MAX_FRAME_BYTES = 32 * 1024;
/** API Gateway's WebSocket message payload limit: a larger post is refused with 413. */
export const DEFAULT_MAX_MESSAGE_BYTES = 128 * 1024;

/** How text travels: raw UTF-8 (`format=text`) or inside a JSON string (`format=json`). */
export type TextEncoding = "text" | "json";

/** Most bytes one UTF-16 code unit can cost (a lone surrogate: U+FFFD raw, `\udXXX` in JSON). */
const MAX_UNIT_BYTES: Record<TextEncoding, number> = { text: 3, json: 6 };

/** JSON.stringify's cost of each ASCII code unit inside a string. */
const JSON_ASCII_BYTES = new Uint8Array(128).map((_, code) => {
  if (code === 0x22 || code === 0x5c) return 2; // \" \\
  if (code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) return 2; // \b \t \n \f \r
  return code < 0x20 ? 6 : 1; // \u00XX
});

/**
 * The end index of the longest head of `text` whose encoded size is at most `budget` bytes,
 * never between the two halves of a surrogate pair.
 */
export function fitPrefix(text: string, budget: number, encoding: TextEncoding): number {
  const length = text.length;
  if (length * MAX_UNIT_BYTES[encoding] <= budget) return length;
  const json = encoding === "json";
  let used = 0;
  let i = 0;
  while (i < length) {
    const unit = text.charCodeAt(i);
    let cost: number;
    let width = 1;
    if (unit < 0x80) cost = json ? JSON_ASCII_BYTES[unit] : 1;
    else if (unit < 0x800) cost = 2;
    else if (unit < 0xd800 || unit > 0xdfff) cost = 3;
    else if (unit <= 0xdbff && i + 1 < length && isLowSurrogate(text.charCodeAt(i + 1))) {
      cost = 4;
      width = 2;
    } else cost = MAX_UNIT_BYTES[encoding];
    if (used + cost > budget) break;
    used += cost;
    i += width;
  }
  return i;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** Whether `text` ends with the high half of a surrogate pair, whose low half may still come. */
export function endsWithHighSurrogate(text: string): boolean {
  const last = text.charCodeAt(text.length - 1);
  return last >= 0xd800 && last <= 0xdbff;
}

/** UTF-8 bytes of a value's JSON. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/**
 * The longest head of `text` that fits one raw-text frame, and the rest. With `tail` > 0, when
 * all of `text` would fit and it is longer than `tail` code points, its last `tail` code points
 * are kept back as the rest instead (a small last frame: StreamWriterOptions.textTailCodePoints).
 */
export function takeTextFrame(text: string, maxBytes: number, tail = 0): [frame: string, rest: string] {
  let end = fitPrefix(text, maxBytes, "text");
  // A text no longer than the tail goes whole: an empty frame would be a post for nothing.
  if (tail > 0 && end === text.length) end = tailStart(text, tail) || end;
  return [text.slice(0, end), text.slice(end)];
}

/** The index where the last `count` code points of `text` begin (0 when it has no more than that). */
export function tailStart(text: string, count: number): number {
  let i = text.length;
  for (let left = count; left > 0 && i > 0; left--) {
    i -= i >= 2 && isLowSurrogate(text.charCodeAt(i - 1)) && isHighSurrogate(text.charCodeAt(i - 2)) ? 2 : 1;
  }
  return i;
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

/** A `delta` (or `reasoning`) envelope carrying the longest head of `text` that fits one frame, and the rest. */
export function takeDeltaEnvelope(
  requestId: string,
  seq: number,
  text: string,
  maxBytes: number,
  type: "delta" | "reasoning" = "delta",
): [frame: string, rest: string] {
  const overhead = jsonBytes(envelope(type, requestId, seq, { text: "" }));
  const end = fitPrefix(text, maxBytes - overhead, "json");
  return [JSON.stringify(envelope(type, requestId, seq, { text: text.slice(0, end) })), text.slice(end)];
}

/**
 * The smallest frame size that always makes progress: a text envelope (`reasoning`, the
 * longer type name) with the largest sequence number and the most expensive code unit.
 */
export function minFrameBytes(requestId: string): number {
  return jsonBytes(envelope("reasoning", requestId, Number.MAX_SAFE_INTEGER, { text: "" })) + MAX_UNIT_BYTES.json;
}

/**
 * A `citation` envelope with as many leading citations as fit one frame, and the rest. A
 * first citation too big on its own has its text cut to fit; one that cannot fit even
 * without text is skipped (frame `undefined`), so a bad citation never stalls the stream.
 */
export function takeCitationEnvelope(
  requestId: string,
  seq: number,
  citations: Citation[],
  maxBytes: number,
): [frame: string | undefined, rest: Citation[]] {
  const base = jsonBytes(envelope("citation", requestId, seq, { citations: [] }));
  let size = base;
  let count = 0;
  for (const citation of citations) {
    const added = jsonBytes(citation) + (count > 0 ? 1 : 0); // the comma between array items
    if (size + added > maxBytes) break;
    size += added;
    count++;
  }
  if (count > 0) {
    const frame = JSON.stringify(envelope("citation", requestId, seq, { citations: citations.slice(0, count) }));
    return [frame, citations.slice(count)];
  }
  const [first] = citations;
  const room = maxBytes - base - jsonBytes({ ...first, text: "" });
  if (room < 0) return [undefined, citations.slice(1)];
  const cut = { ...first, text: first.text.slice(0, fitPrefix(first.text, room, "json")) };
  return [JSON.stringify(envelope("citation", requestId, seq, { citations: [cut] })), citations.slice(1)];
}

/**
 * Serializes an envelope that cannot be split, cutting the named text field so the whole
 * fits `maxBytes`; `cut` says whether it had to.
 */
export function fitEnvelope<E extends Envelope, F extends keyof E & string>(
  message: E & Record<F, string>,
  field: F,
  maxBytes: number,
): { frame: string; cut: boolean } {
  const frame = JSON.stringify(message);
  if (Buffer.byteLength(frame, "utf8") <= maxBytes) return { frame, cut: false };
  const value = message[field];
  const room = maxBytes - jsonBytes({ ...message, [field]: "" });
  const kept = room > 0 ? value.slice(0, fitPrefix(value, room, "json")) : "";
  return { frame: JSON.stringify({ ...message, [field]: kept }), cut: true };
}
