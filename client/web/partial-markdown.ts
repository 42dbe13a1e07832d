/**
 * Streamed markdown is cut anywhere: "_Offline stand-in" has opened an emphasis whose
 * closing "_" has not arrived yet, and a markdown renderer shows such a marker literally
 * until it does. `closePartialMarkdown` makes any prefix render as the whole text will:
 * markers still open at the end are closed, a delimiter run at the very end (half a
 * closer, or an opener with nothing after it yet) is held back, and an open code fence is
 * closed. Complete text renders exactly as before. Pure.
 */

interface Opener {
  readonly char: "*" | "_" | "~";
  /** Delimiters still unmatched. */
  count: number;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
/** Lines that start a new block: emphasis never continues across them. */
const BLOCK_START = /^ {0,3}(#{1,6}(\s|$)|[-+*]\s|\d{1,9}[.)]\s|>)/;
const TRAILING = /(\s|[*_~`])+$/u;

function isWhitespace(char: string | undefined): boolean {
  return char === undefined || /\s/u.test(char);
}

function isAlphanumeric(char: string | undefined): boolean {
  return char !== undefined && /[\p{L}\p{N}]/u.test(char);
}

/** The closers the inline markers still open at the end of `segment` need, innermost first. */
function inlineClosers(segment: string): string {
  const stack: Opener[] = [];
  let codeTicks = 0;
  let i = 0;
  while (i < segment.length) {
    const char = segment[i];
    if (char === "\\" && codeTicks === 0) {
      i += 2;
      continue;
    }
    if (char !== "`" && char !== "*" && char !== "_" && char !== "~") {
      i += 1;
      continue;
    }
    let end = i;
    while (segment[end] === char) end += 1;
    const run = end - i;
    const before = segment[i - 1];
    const after = segment[end];
    i = end;
    if (char === "`") {
      if (codeTicks === 0) codeTicks = run;
      else if (run === codeTicks) codeTicks = 0;
      continue;
    }
    if (codeTicks > 0) continue;
    // GFM strikethrough is "~~"; a single "~" is text.
    if (char === "~" && run !== 2) continue;
    const leftFlanking = !isWhitespace(after);
    const rightFlanking = !isWhitespace(before);
    // An underscore inside a word (snake_case) is text.
    const canOpen = leftFlanking && (char !== "_" || !(rightFlanking && isAlphanumeric(before)));
    const canClose = rightFlanking && (char !== "_" || !(leftFlanking && isAlphanumeric(after)));
    let left = run;
    if (canClose) {
      for (let s = stack.length - 1; s >= 0 && left > 0; s -= 1) {
        if (stack[s].char !== char) continue;
        const used = Math.min(left, stack[s].count);
        stack[s].count -= used;
        left -= used;
        if (stack[s].count === 0) stack.splice(s);
        else stack.splice(s + 1);
      }
    }
    if (left > 0 && canOpen) stack.push({ char, count: left });
  }
  let closers = codeTicks > 0 ? "`".repeat(codeTicks) : "";
  for (let s = stack.length - 1; s >= 0; s -= 1) closers += stack[s].char.repeat(stack[s].count);
  return closers;
}

export function closePartialMarkdown(text: string): string {
  const lines = text.split("\n");
  let fence: string | undefined;
  /** First line of the block the text ends in (inline markers never span blocks). */
  let blockStart = 0;
  for (const [index, line] of lines.entries()) {
    const marker = FENCE.exec(line)?.[1];
    if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) {
        fence = undefined;
        blockStart = index + 1;
      }
      continue;
    }
    if (marker !== undefined) {
      fence = marker;
      blockStart = index + 1;
    } else if (line.trim() === "") {
      blockStart = index + 1;
    } else if (BLOCK_START.test(line)) {
      blockStart = index;
    }
  }
  // Inside an open fence the text is code, shown as it is; only the fence needs closing.
  if (fence !== undefined) return `${text}${text.endsWith("\n") ? "" : "\n"}${fence}`;

  const head = lines.slice(0, blockStart).join("\n");
  // A backslash left at the end would escape the closers appended after it.
  let block = lines.slice(blockStart).join("\n");
  for (let before = ""; before !== block; ) {
    before = block;
    block = block.replace(TRAILING, "").replace(/\\+$/, "");
  }
  if (block === "") return head;
  return `${head}${blockStart > 0 ? "\n" : ""}${block}${inlineClosers(block)}`;
}
