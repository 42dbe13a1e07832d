/**
 * The final answer as the client shows it, replacing the streamed text: markdown with the
 * sources numbered as links (as QnABot's knowledge-base answers list them), and a plain-text
 * twin for channels without markdown (the Lex message). Both pass the output sanitizer whole,
 * the sources included (a document's title or URI is as untrusted as the model's text). Pure.
 */
import type { Citation } from "../shared/protocol";
import { CONTINUE_HINT } from "./continuation";
import { DEFAULT_OUTPUT_POLICY, sanitizeOutput, type OutputPolicy } from "./output-safety";

export interface FormattedAnswer {
  markdown: string;
  plainText: string;
}

export interface Source {
  uri: string;
  title: string;
}

export const NO_ANSWER = "Sorry, I don't have an answer to that.";
export const CUT_SHORT_NOTE = "This answer was cut short: it ran out of time before it was complete.";

/** Only these become links; anything else (s3://, javascript:, ...) is shown as text. */
const LINKABLE = /^https?:\/\//i;

function titleFromUri(uri: string): string {
  const path = uri.replace(/[?#].*$/, "").replace(/\/+$/, "");
  const last = path.slice(path.lastIndexOf("/") + 1);
  try {
    return decodeURIComponent(last) || uri;
  } catch {
    return last || uri;
  }
}

/** Distinct sources of all citations, in the order they were first cited. */
export function sourcesOf(citations: readonly Citation[]): Source[] {
  const sources: Source[] = [];
  for (const citation of citations) {
    for (const source of citation.sources) {
      const existing = sources.find((s) => s.uri === source.uri);
      if (existing) continue;
      sources.push({ uri: source.uri, title: source.title?.trim() || titleFromUri(source.uri) });
    }
  }
  return sources;
}

/** Escapes what would otherwise start markdown syntax inside link text or plain text. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>()#|!]/g, (c) => `\\${c}`).replace(/\s+/g, " ");
}

/** Percent-encodes what would end a markdown link destination early. */
function linkTarget(uri: string): string {
  return uri.replace(/[\s()<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

function markdownSource(source: Source): string {
  const title = escapeMarkdown(source.title);
  return LINKABLE.test(source.uri) ? `[${title}](${linkTarget(source.uri)})` : `${title} (${escapeMarkdown(source.uri)})`;
}

export function formatAnswer(
  text: string,
  citations: readonly Citation[],
  /** `continuable`: a cut-short answer's turn is remembered, so the note tells how to have the rest. */
  options: { cutShort?: boolean; continuable?: boolean; policy?: OutputPolicy } = {},
): FormattedAnswer {
  const body = text.trim() === "" ? NO_ANSWER : text.trim();
  const sources = sourcesOf(citations);
  const markdown = [body];
  const plain = [body];
  if (options.cutShort) {
    const note = options.continuable ? `${CUT_SHORT_NOTE} ${CONTINUE_HINT}` : CUT_SHORT_NOTE;
    markdown.push(`_${note}_`);
    plain.push(`(${note})`);
  }
  if (sources.length > 0) {
    markdown.push(["**Sources**", ...sources.map((s, i) => `${i + 1}. ${markdownSource(s)}`)].join("\n"));
    plain.push(["Sources:", ...sources.map((s, i) => `${i + 1}. ${s.title}: ${s.uri}`)].join("\n"));
  }
  const policy = options.policy ?? DEFAULT_OUTPUT_POLICY;
  return { markdown: sanitizeOutput(markdown.join("\n\n"), policy), plainText: sanitizeOutput(plain.join("\n\n"), policy) };
}
