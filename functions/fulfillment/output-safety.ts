/**
 * Output safety: the model's text (and whatever a document or a memory turn put into it) is
 * data, never markup. Stock Lex Web UI renders the final markdown with `marked` into `v-html`
 * without a sanitizer (docs/reliability-and-security.md, "Output safety"), so every answer this stack emits
 * (streamed frames, `end.final`, the Lex message and `altMessages.markdown`, the HTTP doors)
 * passes through here first. Markdown stays markdown; what would become live is neutralised:
 *
 * - `<` that would open a tag, comment or processing instruction becomes `\<` (shown as `<`);
 * - `&` that would start a character reference becomes `\&` (shown as written, never decoded
 *   into a tag by a client that decodes twice);
 * - a link destination (`](…` or a `]:` reference definition) keeps only an allowed scheme
 *   (http, https, mailto by default); otherwise its `]` becomes `\]` and the whole thing is text;
 * - an image shows only its alt text unless its host is allowed (none by default); the alt
 *   text is read again in its place, and a `&`, `]` or `!` just before it is made literal, so
 *   it cannot join its neighbours into a tag, a reference, a link or another image;
 * - inside a URL run (`http://`, `https://`, `tel:` or a kept link destination) quotes, angle
 *   brackets, backticks and backslashes are percent-encoded, so a client's own linkifier
 *   cannot be made to break out of its `href="…"`;
 * - C0/C1 control characters (but tab, line feed and carriage return) are dropped.
 *
 * The streaming form holds back a construct it cannot decide yet (a `<` at the end of a
 * delta, a `](` whose scheme has not arrived, an image not yet closed), so a frame never
 * opens something the next frame would close into live markup; the text of every frame
 * joined equals `sanitizeOutput` of the whole text, wherever the deltas were cut. Pure.
 */

export interface OutputPolicy {
  /** URL schemes a link may keep, lower case, without the colon. */
  readonly linkSchemes: readonly string[];
  /** Hosts (lower case) an image may be loaded from over https; none: every image shows its alt text. */
  readonly imageHosts: readonly string[];
}

export const DEFAULT_LINK_SCHEMES: readonly string[] = ["http", "https", "mailto"];
export const DEFAULT_OUTPUT_POLICY: OutputPolicy = { linkSchemes: DEFAULT_LINK_SCHEMES, imageHosts: [] };

/** Schemes a link may never keep, whatever the operator allows: they run script or inline content. */
export const FORBIDDEN_LINK_SCHEMES: readonly string[] = ["javascript", "vbscript", "data", "file", "blob"];

const SCHEME = /^[a-z][a-z0-9+.-]{0,31}$/;
const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The link schemes from a comma-separated setting; throws on a malformed or script-running one. */
export function parseLinkSchemes(raw: string): string[] {
  const schemes = raw.split(",").map((s) => s.trim().toLowerCase().replace(/:$/, "")).filter((s) => s !== "");
  for (const scheme of schemes) {
    if (!SCHEME.test(scheme)) throw new Error(`"${scheme}" is not a URL scheme (letters, digits, + . -, starting with a letter)`);
    if (FORBIDDEN_LINK_SCHEMES.includes(scheme)) throw new Error(`links with the "${scheme}:" scheme run script or inline content and cannot be allowed`);
  }
  return [...new Set(schemes)];
}

/** The image hosts from a comma-separated setting; throws on anything but a bare host name. */
export function parseImageHosts(raw: string): string[] {
  const hosts = raw.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "");
  for (const host of hosts) {
    if (!HOST.test(host)) throw new Error(`"${host}" is not a host name (no scheme, port, path or wildcard)`);
  }
  return [...new Set(hosts)];
}

/** Longest construct held back before it is decided to be text (an image's `![alt](url "title")`). */
export const MAX_HELD = 2048;
/** Longest character-reference name considered (`&name;`). */
const MAX_ENTITY_NAME = 32;
/** Whitespace allowed between `](` or `]:` and a destination before the destination counts as absent. */
const MAX_DEST_GAP = 16;

const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;
const TAG_START = /[A-Za-z/!?]/;
const ALNUM = /[A-Za-z0-9]/;
const SCHEME_CHAR = /[A-Za-z0-9+.-]/;
const WHITESPACE = /\s/;
/** Inside a URL run these become %XX: nothing a linkifier copies into `href="…"` or a text node can break out. */
const URL_UNSAFE = /["'<>`\\]/;
const URL_MARKERS = ["http://", "https://", "tel:"];
const LAST_WHITESPACE = /\s(?=\S*$)/;
/** Characters that may start a construct; every other one is emitted as is (outside a URL run). */
const SPECIAL = /[\\<&!\]]/g;

/** Dropped before anything else looks at the text, so none can hide a construct from the checks below. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

function percent(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;
}

/**
 * One decision: the text to emit and how many input characters it stands for, or (`insert`)
 * text that replaces those characters in the input and is read again in its place;
 * undefined = need more input.
 */
type Step = { out: string; used: number; insert?: string } | undefined;

/**
 * The streaming sanitizer: `push` each delta, `flush` at the end; the pieces joined are the
 * safe text. One instance per answer.
 */
export class OutputSanitizer {
  private pending = "";
  /** Last characters of the current whitespace-free run, lower case, to spot a URL starting. */
  private runTail = "";
  /** True while the current run is a URL (see URL_UNSAFE). */
  private inUrl = false;
  private readonly schemes: ReadonlySet<string>;
  private readonly imageHosts: ReadonlySet<string>;

  constructor(private readonly policy: OutputPolicy = DEFAULT_OUTPUT_POLICY) {
    this.schemes = new Set(policy.linkSchemes.filter((s) => !FORBIDDEN_LINK_SCHEMES.includes(s)));
    this.imageHosts = new Set(policy.imageHosts);
  }

  push(chunk: string): string {
    this.pending += chunk.replace(CONTROL, "");
    return this.drain(false);
  }

  flush(): string {
    return this.drain(true);
  }

  private drain(final: boolean): string {
    let s = this.pending;
    const out: string[] = [];
    let i = 0;
    while (i < s.length) {
      const step = this.step(s, i, final);
      if (step === undefined) break;
      if (step.insert !== undefined) {
        s = s.slice(0, i) + step.insert + s.slice(i + step.used);
        continue;
      }
      out.push(step.out);
      i += step.used;
    }
    this.pending = s.slice(i);
    return out.join("");
  }

  /**
   * A markdown character made literal: a backslash escape in text; inside a URL run, where a
   * backslash would be copied into the address, percent-encoding.
   */
  private neutral(c: string): string {
    return this.inUrl ? percent(c) : `\\${c}`;
  }

  /** URL-run bookkeeping over emitted text: a run ends at whitespace; it is a URL once it holds a marker. */
  private track(text: string): void {
    const lastSpace = text.search(LAST_WHITESPACE);
    const run = lastSpace < 0 ? this.runTail + text : text.slice(lastSpace + 1);
    if (lastSpace >= 0) this.inUrl = false;
    const lower = run.toLowerCase();
    if (!this.inUrl && URL_MARKERS.some((marker) => lower.includes(marker))) this.inUrl = true;
    this.runTail = lower.slice(-8);
  }

  /** The URL-run state follows what is emitted, so sanitizing the result again finds the same runs. */
  private emit(out: string, raw: string): Step {
    this.track(out);
    return { out, used: raw.length };
  }

  private step(s: string, i: number, final: boolean): Step {
    const c = s[i];
    if (this.inUrl && URL_UNSAFE.test(c)) return this.emit(percent(c), c);
    const next = s[i + 1];
    const needNext = next === undefined && !final;
    switch (c) {
      case "\\":
        if (needNext) return undefined;
        // An escaped character is literal to markdown: emitted as is, it is never a construct.
        if (next !== undefined && ASCII_PUNCTUATION.test(next)) return this.emit(c + next, c + next);
        return this.emit(c, c);
      case "<":
        if (needNext) return undefined;
        if (next !== undefined && /[A-Za-z]/.test(next)) return this.autolink(s, i, final);
        return this.emit(next !== undefined && TAG_START.test(next) ? "\\<" : "<", c);
      case "&":
        return this.ampersand(s, i, final);
      case "!": {
        if (needNext) return undefined;
        if (next === "[") return this.image(s, i, final);
        // An image right after may be replaced by its alt text: `!` + `[…](…)` must not become one.
        const image = imageAhead(s, i + 1, final);
        return image === undefined ? undefined : this.emit(image ? this.neutral(c) : c, c);
      }
      case "]": {
        if (needNext) return undefined;
        if (next === "(" || next === ":") return this.destination(s, i, final);
        // Likewise `]` + an alt text starting with `(` must not become a link destination.
        const image = imageAhead(s, i + 1, final);
        return image === undefined ? undefined : this.emit(image ? this.neutral(c) : c, c);
      }
      default: {
        if (WHITESPACE.test(c)) return this.emit(c, c);
        // Ordinary text up to the next character that may matter, in one step: it stops before
        // a construct, a whitespace (a new run) and, in a URL run, an unsafe character; outside
        // one, right after a URL marker, where the run becomes one.
        SPECIAL.lastIndex = i;
        let end = SPECIAL.exec(s)?.index ?? s.length;
        const space = s.slice(i, end).search(WHITESPACE);
        if (space >= 0) end = i + space;
        const piece = s.slice(i, end);
        const cut = this.inUrl ? piece.search(URL_UNSAFE) : markerEnd(this.runTail, piece);
        const plain = cut > 0 ? piece.slice(0, cut) : piece;
        return this.emit(plain, plain);
      }
    }
  }

  /** `<scheme:…>` with an allowed scheme and nothing a quote or tag could hide in stays an autolink; any other `<letter` is escaped. */
  private autolink(s: string, i: number, final: boolean): Step {
    let j = i + 1;
    while (j < s.length && j - i <= MAX_HELD && !/[>\s"'`\\<]/.test(s[j])) j++;
    if (j === s.length && !final && j - i <= MAX_HELD) return undefined;
    const scheme = /^<([A-Za-z][A-Za-z0-9+.-]{0,31}):/.exec(s.slice(i, j))?.[1]?.toLowerCase();
    if (s[j] === ">" && scheme !== undefined && this.schemes.has(scheme)) {
      const kept = s.slice(i, j + 1);
      return this.emit(kept, kept);
    }
    return this.emit("\\<", "<");
  }

  /** `&#…`, `&name;` and the legacy `&lt`/`&gt` (decoded even without `;`) are references: escaped. */
  private ampersand(s: string, i: number, final: boolean): Step {
    // An image right after may be replaced by an alt text that spells a reference name.
    const image = imageAhead(s, i + 1, final);
    if (image === undefined) return undefined;
    if (image) return this.emit(this.neutral("&"), "&");
    let j = i + 1;
    while (j < s.length && j - i - 1 < MAX_ENTITY_NAME && (j === i + 1 ? /[A-Za-z#]/ : ALNUM).test(s[j])) j++;
    if (j === s.length && !final && j - i - 1 < MAX_ENTITY_NAME) return undefined;
    const name = s.slice(i + 1, j);
    // An image right after the name may be replaced by an alt text that completes it (`&l![](…)t;`).
    const imageAfter = name !== "" && s[j] === "!" ? imageAhead(s, j, final) : false;
    if (imageAfter === undefined) return undefined;
    const reference = imageAfter || name.startsWith("#") || (name !== "" && (s[j] === ";" || /^(lt|gt)/i.test(name)));
    return this.emit(reference ? this.neutral("&") : "&", "&");
  }

  /**
   * At `](` or `]:`: the destination keeps its `]` only when its scheme is allowed, and is then
   * a URL run; otherwise `\]` makes the whole construct text.
   */
  private destination(s: string, i: number, final: boolean): Step {
    let j = i + 2;
    while (j < s.length && j - i - 2 < MAX_DEST_GAP && /[ \t\r\n]/.test(s[j])) j++;
    const start = j;
    while (j < s.length && j - start <= 32 && SCHEME_CHAR.test(s[j])) j++;
    if (j === s.length && !final && j - i < MAX_DEST_GAP + 2 + 33) return undefined;
    const scheme = s.slice(start, j).toLowerCase();
    if (s[j] === ":" && SCHEME.test(scheme) && this.schemes.has(scheme)) {
      const kept = s.slice(i, j + 1);
      const step = this.emit(kept, kept);
      this.inUrl = true;
      return step;
    }
    return this.emit(this.neutral("]"), "]");
  }

  /**
   * At `![`: a complete inline image `![alt](url "title")` is kept only from an allowed host;
   * any other shows its alt text. Anything that is not (yet) such an image gets `\!`, so no
   * client can turn it into an image later.
   */
  private image(s: string, i: number, final: boolean): Step {
    // Inside a URL run no image is parsed: %21 keeps it from ever becoming one.
    if (this.inUrl) return this.emit(this.neutral("!"), "!");
    const parsed = parseInlineImage(s, i);
    if (parsed === "incomplete") {
      if (!final && s.length - i < MAX_HELD) return undefined;
      return this.emit("\\!", "!");
    }
    if (parsed === undefined || parsed.end - i > MAX_HELD) return this.emit("\\!", "!");
    const raw = s.slice(i, parsed.end);
    if (this.imageAllowed(parsed.url)) {
      return this.emit(`![${sanitizeOutput(parsed.alt, this.policy)}](${parsed.url.replace(/[\s"'<>`\\]/g, percent)})`, raw);
    }
    // The alt text takes the image's place in the input and is read in context, so it cannot
    // join what follows into something live (`![<](x)img onerror=…>`).
    return { out: "", used: raw.length, insert: parsed.alt };
  }

  private imageAllowed(url: string): boolean {
    if (this.imageHosts.size === 0 || !/^https:\/\//i.test(url)) return false;
    try {
      const parsed = new URL(url);
      return parsed.protocol === "https:" && parsed.username === "" && parsed.password === "" && this.imageHosts.has(parsed.hostname);
    } catch {
      return false;
    }
  }
}

/** Where in `piece` a URL marker completes, given the run's `tail` before it; -1 when none does. */
function markerEnd(tail: string, piece: string): number {
  const lower = (tail + piece).toLowerCase();
  let first = -1;
  for (const marker of URL_MARKERS) {
    const at = lower.indexOf(marker);
    const end = at < 0 ? -1 : at + marker.length - tail.length;
    if (end > 0 && (first < 0 || end < first)) first = end;
  }
  return first;
}

/** Whether `![` starts at `j`; undefined when the text ends before it can tell. */
function imageAhead(s: string, j: number, final: boolean): boolean | undefined {
  if (s[j] !== "!") return j < s.length || final ? false : undefined;
  if (j + 1 >= s.length) return final ? false : undefined;
  return s[j + 1] === "[";
}

/**
 * `![alt](url)` or `![alt](url "title")` starting at `i`: its parts, "incomplete" when the
 * text ends before it can be decided, undefined when it is not one.
 */
function parseInlineImage(s: string, i: number): { alt: string; url: string; end: number } | "incomplete" | undefined {
  let j = i + 2;
  let depth = 1;
  for (; ; j++) {
    if (j >= s.length) return "incomplete";
    if (j - i > MAX_HELD) return undefined;
    const c = s[j];
    if (c === "\\") {
      j++;
      continue;
    }
    if (c === "\n" && /^\n[ \t]*\n/.test(s.slice(j, j + MAX_DEST_GAP))) return undefined;
    if (c === "[") depth++;
    if (c === "]" && --depth === 0) break;
  }
  const alt = s.slice(i + 2, j);
  j++;
  if (j >= s.length) return "incomplete";
  if (s[j] !== "(") return undefined;
  j++;
  while (j < s.length && /[ \t\n]/.test(s[j])) j++;
  const urlStart = j;
  let parens = 0;
  for (; ; j++) {
    if (j >= s.length) return "incomplete";
    const c = s[j];
    if (WHITESPACE.test(c)) break;
    if (c === "(") parens++;
    if (c === ")" && parens-- === 0) break;
  }
  const url = s.slice(urlStart, j);
  while (j < s.length && /[ \t\n]/.test(s[j])) j++;
  if (j >= s.length) return "incomplete";
  const quote = s[j];
  if (quote === '"' || quote === "'") {
    const close = s.indexOf(quote, j + 1);
    if (close < 0) return "incomplete";
    j = close + 1;
    while (j < s.length && /[ \t\n]/.test(s[j])) j++;
    if (j >= s.length) return "incomplete";
  }
  if (s[j] !== ")") return undefined;
  return { alt, url, end: j + 1 };
}

/** The safe form of a whole text: the same as streaming it in any pieces. */
export function sanitizeOutput(text: string, policy: OutputPolicy = DEFAULT_OUTPUT_POLICY): string {
  const sanitizer = new OutputSanitizer(policy);
  return sanitizer.push(text) + sanitizer.flush();
}
