/**
 * Markdown to readable prose, as the text arrives, for `format=text` frames: Lex Web UI shows
 * them as plain text while an answer streams (clients.md, "Frames"), so `**bold**`, `_Offline_`
 * or `` `ConverseStream` `` would show their markers until Lex's final answer replaces them.
 * Markers go (emphasis, strikethrough, inline-code backticks, heading and quote marks, code
 * fences, table separator rows), what carries meaning stays legible: a bullet becomes "• ", a
 * link "text (url)", a code block's lines and a table's rows stay as they are. `json` frames and
 * the final answer keep their markdown; this is only what Lex Web UI shows meanwhile.
 *
 * Stateful and exact across cuts: whatever pieces the text arrives in, the concatenated output
 * equals that of the whole text at once. A piece whose meaning depends on what follows (a `*`
 * at the end, a line starting with `-`, a `[` that may open a link) is held until it is known,
 * or until `flush()` at the end of the answer.
 */

/** Characters that may start markup inside a line. */
const INLINE_SPECIAL = /[\n`\\*_~[!]/;
/** Characters that may start markup at the beginning of a line. */
const LINE_START_SPECIAL = /^[ \t#>\-*+_|`~]/;
/** A link or image whose text and target are complete. */
const LINK = /^!?\[([^\]\n]*)\]\(([^()\s]*)\)/;
/** What may still become a link. */
const LINK_PREFIX = /^!?(\[[^\]\n]*(\](\([^()\s]*)?)?)?$/;
/** A link longer than this is not waited for: its `[` is shown as it is. */
const MAX_LINK = 2000;
const PUNCTUATION = /[!-/:-@[-`{-~]/;
const WORD = /[\p{L}\p{N}]/u;
const SPACE = /\s/;

type Step = { consumed: number; output: string } | "more";

/** The prose of a whole markdown text: what a text connection receives for it, however it was cut. */
export function plainText(markdown: string): string {
  const renderer = new PlainTextRenderer();
  return renderer.push(markdown) + renderer.flush();
}

export class PlainTextRenderer {
  private pending = "";
  private atLineStart = true;
  private inFence = false;
  /** Length of the backtick run that opened the inline code span, 0 outside one. */
  private inlineCode = 0;
  /** The last character shown (a newline at the start): decides whether `*` and `_` are markers. */
  private previous = "\n";

  /** Takes the next piece of markdown; returns the prose that is now certain. */
  push(text: string): string {
    this.pending += text;
    return this.drain(false);
  }

  /** The answer ended: returns everything still held. */
  flush(): string {
    return this.drain(true);
  }

  private drain(final: boolean): string {
    let output = "";
    while (this.pending.length > 0) {
      const step = this.atLineStart ? this.lineStart(final) : this.inFence || this.inlineCode > 0 ? this.code(final) : this.inline(final);
      if (step === "more") break;
      this.pending = this.pending.slice(step.consumed);
      if (step.output) {
        output += step.output;
        this.previous = step.output[step.output.length - 1];
      }
    }
    return output;
  }

  /** The line's head: its markers decided, or "more" while the line so far could still be either. */
  private lineStart(final: boolean): Step {
    const newline = this.pending.indexOf("\n");
    const complete = newline >= 0 || final;
    const line = newline >= 0 ? this.pending.slice(0, newline) : this.pending;
    const wholeLine = newline >= 0 ? newline + 1 : this.pending.length;
    const done = (consumed: number, output: string): Step => {
      this.atLineStart = false;
      return { consumed, output };
    };
    const dropLine = (): Step => {
      // A dropped line takes its newline with it; the next line starts a line again.
      this.atLineStart = true;
      return { consumed: wholeLine, output: "" };
    };
    if (this.inFence) {
      if (/^ {0,3}(```|~~~)/.test(line)) {
        if (!complete) return "more";
        this.inFence = false;
        return dropLine();
      }
      if (!complete && /^ {0,3}(`{0,2}|~{0,2})$/.test(line)) return "more";
      return done(0, "");
    }
    if (!LINE_START_SPECIAL.test(line)) return line === "" && !complete ? "more" : done(0, "");
    // Lines decided only once whole: fences, rules, table rows (the separator row goes).
    if (/^ {0,3}(```|~~~)/.test(line)) {
      if (!complete) return "more";
      this.inFence = true;
      return dropLine();
    }
    if (/^ {0,3}([-*_])( *\1){2,} *$/.test(line)) {
      if (!complete) return "more";
      return dropLine();
    }
    if (/^ {0,3}\|/.test(line)) {
      if (!complete) return "more";
      return /^ {0,3}\|?[ :|-]*-[ :|-]*$/.test(line) ? dropLine() : done(0, "");
    }
    // Still open: a short run of marks, or what may become a rule ("- - -").
    if (!complete && (/^[ \t]*([#>\-*+_`~]{0,6})$/.test(line) || /^ {0,3}([-*_])( *\1)* *$/.test(line))) return "more";
    // A marker is decided once something other than its trailing spaces follows it.
    const marker = (match: RegExpExecArray | null): RegExpExecArray | "more" | null =>
      match && !complete && match[0].length === line.length ? "more" : match;
    const heading = marker(/^ {0,3}#{1,6}(?: +|$)/.exec(line));
    if (heading === "more") return "more";
    if (heading) return done(heading[0].length, "");
    const quote = marker(/^ {0,3}> ?/.exec(line));
    if (quote === "more") return "more";
    if (quote) return done(quote[0].length, "");
    const bullet = marker(/^([ \t]*)[-*+] +/.exec(line));
    if (bullet === "more") return "more";
    if (bullet) return done(bullet[0].length, `${bullet[1]}• `);
    return done(0, "");
  }

  /** Inside a code block or an inline code span: verbatim, up to its end. */
  private code(final: boolean): Step {
    const text = this.pending;
    if (this.inFence) {
      const newline = text.indexOf("\n");
      if (newline < 0) return { consumed: text.length, output: text };
      this.atLineStart = true;
      return { consumed: newline + 1, output: text.slice(0, newline + 1) };
    }
    // An inline span ends at its closing run, or (never closed) at the end of its line.
    const stop = text.search(/[`\n]/);
    if (stop < 0) return { consumed: text.length, output: text };
    if (stop > 0) return { consumed: stop, output: text.slice(0, stop) };
    if (text[0] === "\n") {
      this.inlineCode = 0;
      return { consumed: 0, output: "" };
    }
    const run = /^`+/.exec(text)![0].length;
    if (run === text.length && !final) return "more";
    if (run !== this.inlineCode) return { consumed: run, output: text.slice(0, run) };
    this.inlineCode = 0;
    return { consumed: run, output: "" };
  }

  private inline(final: boolean): Step {
    const text = this.pending;
    const special = text.search(INLINE_SPECIAL);
    if (special < 0) return { consumed: text.length, output: text };
    if (special > 0) return { consumed: special, output: text.slice(0, special) };
    const char = text[0];
    if (char === "\n") {
      this.atLineStart = true;
      return { consumed: 1, output: "\n" };
    }
    if (char === "\\") {
      if (text.length < 2) return final ? { consumed: 1, output: "\\" } : "more";
      // `\<` and `\&` stay escaped: the output sanitizer wrote them so no client could read a tag
      // or a character reference there, and prose must not undo that for any renderer.
      if (text[1] === "<" || text[1] === "&") return { consumed: 2, output: text.slice(0, 2) };
      return PUNCTUATION.test(text[1]) ? { consumed: 2, output: text[1] } : { consumed: 1, output: "\\" };
    }
    if (char === "`") {
      const run = /^`+/.exec(text)![0].length;
      if (run === text.length && !final) return "more";
      this.inlineCode = run;
      return { consumed: run, output: "" };
    }
    if (char === "[" || char === "!") {
      const link = LINK.exec(text);
      if (link) {
        const [whole, label, target] = link;
        const image = char === "!";
        return { consumed: whole.length, output: image || !target ? label : `${label} (${target})` };
      }
      if (!final && text.length < MAX_LINK && LINK_PREFIX.test(text)) return "more";
      return { consumed: 1, output: char };
    }
    // `*`, `_` or `~`: a run of markers, shown only where it cannot be one.
    const run = new RegExp(`^\\${char}+`).exec(text)![0].length;
    if (run === text.length && !final) return "more";
    const before = this.previous;
    const after = text[run] ?? "\n";
    const literal =
      (SPACE.test(before) && SPACE.test(after)) ||
      (char === "_" && WORD.test(before) && WORD.test(after)) ||
      (char === "~" && run < 2);
    return { consumed: run, output: literal ? text.slice(0, run) : "" };
  }
}
