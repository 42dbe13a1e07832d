/**
 * What a Lex Web UI user sees while an answer streams, as a pure model of its display.
 *
 * Derived from docs/clients.md ("What a stock Lex Web UI user sees", paragraph "Frames"), which records its
 * observed behaviour: while a question is pending, every text frame except the literal
 * `/stop/` is appended to a list; each arriving frame, from the second on, schedules 500 ms
 * later the display of the oldest frame not yet shown. So the display trails arrivals by about
 * 500 ms and by one whole frame, and the last frame is never shown by the streaming path (the
 * final Lex answer replaces the streamed text). Frames that arrive late are displayed late.
 *
 * Pure: times in, times out (any clock, ms).
 */
import { percentile, round } from "./stats";

/** Lex Web UI's delay between a frame's arrival and the display it schedules. */
export const LEX_WEB_UI_DISPLAY_DELAY_MS = 500;

/** The frame Lex Web UI treats as an end marker rather than text. */
export const LEX_WEB_UI_STOP_FRAME = "/stop/";

export interface ArrivedFrame {
  /** When the frame reached the browser. */
  readonly at: number;
  /** Its text (a raw `format=text` frame). */
  readonly text: string;
}

export interface DisplayedFrame extends ArrivedFrame {
  /** When the streaming path displays it; undefined: never (the last frame). */
  readonly shownAt?: number;
}

/**
 * The display time of every text frame, `/stop/` dropped. The k-th arrival from the second on
 * fires its display `delayMs` later and shows the oldest frame not yet shown; arrivals are in
 * order, so those timers fire in order and frame i is shown by the display arrival i + 1 scheduled.
 */
export function lexWebUiDisplay(frames: readonly ArrivedFrame[], delayMs = LEX_WEB_UI_DISPLAY_DELAY_MS): DisplayedFrame[] {
  const list = frames.filter((frame) => frame.text !== LEX_WEB_UI_STOP_FRAME);
  return list.map((frame, i) => (i + 1 < list.length ? { ...frame, shownAt: list[i + 1].at + delayMs } : { ...frame }));
}

export interface GeneratedDelta {
  /** When the model produced it. */
  readonly at: number;
  readonly text: string;
}

export interface DisplayReport {
  /** Display time minus generation time, per character shown (code point), in ms. */
  lagMs: { p50: number; p95: number; max: number };
  /** Characters (code points) the streaming path displays. */
  shownChars: number;
  /** Characters never displayed by the streaming path (the last frame). */
  unshownChars: number;
  unshownBytes: number;
  /** unshownChars over all characters, 0–1. */
  unshownShare: number;
}

/**
 * How far the displayed text trails generation over one answer, and what is never shown.
 * The frames must carry exactly the generated text (else the comparison means nothing).
 */
export function displayLag(generated: readonly GeneratedDelta[], frames: readonly ArrivedFrame[], delayMs = LEX_WEB_UI_DISPLAY_DELAY_MS): DisplayReport {
  const shown = lexWebUiDisplay(frames, delayMs);
  const generatedText = generated.map((d) => d.text).join("");
  const framedText = shown.map((f) => f.text).join("");
  if (framedText !== generatedText) {
    throw new Error(`the frames carry ${framedText.length} UTF-16 units that differ from the ${generatedText.length} generated`);
  }
  // When each UTF-16 unit of the answer was generated, and when it is displayed.
  const generatedAt: number[] = [];
  for (const delta of generated) for (let i = 0; i < delta.text.length; i++) generatedAt.push(delta.at);
  const lags: number[] = [];
  let unshownChars = 0;
  let unshownBytes = 0;
  let offset = 0;
  for (const frame of shown) {
    for (const char of frame.text) {
      if (frame.shownAt === undefined) {
        unshownChars++;
        unshownBytes += Buffer.byteLength(char);
      } else {
        // A character is generated no later than it arrives: the generation schedule is an
        // estimate (another run's pace), and a slowed run must not show a lag below the display's.
        lags.push(frame.shownAt - Math.min(generatedAt[offset], frame.at));
      }
      offset += char.length;
    }
  }
  const total = lags.length + unshownChars;
  return {
    lagMs: { p50: round(percentile(lags, 50)), p95: round(percentile(lags, 95)), max: round(lags.length ? Math.max(...lags) : Number.NaN) },
    shownChars: lags.length,
    unshownChars,
    unshownBytes,
    unshownShare: total === 0 ? 0 : unshownChars / total,
  };
}
