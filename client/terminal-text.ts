/**
 * Model text made safe to print on a terminal: an answer (or a document it quotes) may carry
 * escape sequences that retitle the window (OSC), clear or rewrite the screen (CSI, carriage
 * return, backspace), or write to the clipboard (OSC 52). Whole CSI/OSC/DCS/SOS/PM/APC
 * sequences, in their 7-bit (ESC …) and 8-bit (C1) forms, are dropped, as is every other C0/C1
 * control character but line feed and tab. The CLI's own colours are written around this text,
 * never through it. Stateful: a sequence cut between two chunks is still dropped whole. Pure.
 */

/** Longest control string (OSC, DCS, …) swallowed while waiting for its terminator; past it, text shows again. */
export const MAX_CONTROL_STRING = 512;

const ESC = "\u001b";
const BEL = "\u0007";
/** C1 introducers of control strings (DCS, SOS, OSC, PM, APC) and their ESC-letter forms. */
const STRING_INTRODUCERS = new Set(["\u0090", "\u0098", "\u009d", "\u009e", "\u009f"]);
const ESC_STRING_INTRODUCERS = new Set(["P", "X", "]", "^", "_"]);
const CSI_C1 = "\u009b";
const ST_C1 = "\u009c";

type State = "text" | "escape" | "csi" | "string" | "stringEscape";

function isDropped(code: number): boolean {
  return (code < 0x20 && code !== 0x0a && code !== 0x09) || (code >= 0x7f && code <= 0x9f);
}

export class TerminalText {
  private state: State = "text";
  private swallowed = 0;

  /** The printable part of `chunk`, given everything pushed before it. */
  push(chunk: string): string {
    let out = "";
    for (const c of chunk) {
      const code = c.charCodeAt(0);
      switch (this.state) {
        case "text":
          if (c === ESC) this.state = "escape";
          else if (c === CSI_C1) this.state = "csi";
          else if (STRING_INTRODUCERS.has(c)) this.enterString();
          else if (!isDropped(code)) out += c;
          break;
        case "escape":
          if (c === "[") this.state = "csi";
          else if (ESC_STRING_INTRODUCERS.has(c)) this.enterString();
          // ESC followed by one more character (RIS `ESC c`, charset selects…) is dropped with it.
          else this.state = c === ESC ? "escape" : "text";
          break;
        case "csi":
          // Parameters and intermediates run until a final byte (0x40-0x7E); anything else ends it too.
          if (code >= 0x40 && code <= 0x7e) this.state = "text";
          else if (code < 0x20 || code > 0x3f) {
            this.state = "text";
            if (!isDropped(code) && code > 0x7e) out += c;
          }
          break;
        case "string":
          if (c === BEL || c === ST_C1) this.state = "text";
          else if (c === ESC) this.state = "stringEscape";
          else if (this.swallowed < MAX_CONTROL_STRING) this.swallowed++;
          else {
            this.state = "text";
            if (!isDropped(code)) out += c;
          }
          break;
        case "stringEscape":
          this.state = c === "\\" ? "text" : "string";
          break;
      }
    }
    return out;
  }

  private enterString(): void {
    this.state = "string";
    this.swallowed = 0;
  }
}

/** `text` made safe to print on its own (a title, a URI, an error message). */
export function terminalSafe(text: string): string {
  return new TerminalText().push(text);
}
