/**
 * The final answer as the client shows it, replacing the streamed text: markdown with the
 * sources numbered as links (as QnABot's knowledge-base answers list them) and `[n]` markers
 * after the sentences they back, and a plain-text twin for channels without markdown (the Lex
 * message). Both pass the output sanitizer whole, the sources included (a document's title or
 * URI is as untrusted as the model's text). Pure.
 */
import type { AnswerSource, Citation } from "../shared/protocol";
import { CONTINUE_HINT } from "./continuation";
import { DEFAULT_OUTPUT_POLICY, sanitizeOutput, type OutputPolicy } from "./output-safety";
import { snippetOf, webLink } from "./source-links";
import { insertMarkers, placeMarkers } from "./source-markers";

export interface FormattedAnswer {
  markdown: string;
  plainText: string;
}

export interface Source {
  uri: string;
  title: string;
  /** The first passage cited from it, shortened. */
  snippet?: string;
}

export const NO_ANSWER = "Sorry, I don't have an answer to that.";
export const CUT_SHORT_NOTE = "This answer was cut short: it ran out of time before it was complete.";

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
      if (existing) {
        existing.snippet ??= snippetOf(source.snippet);
        continue;
      }
      const snippet = snippetOf(source.snippet);
      sources.push({ uri: source.uri, title: source.title?.trim() || titleFromUri(source.uri), ...(snippet ? { snippet } : {}) });
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

function markdownSource(source: AnswerSource): string {
  const title = escapeMarkdown(source.title);
  return source.url ? `[${title}](${linkTarget(source.url)})` : `${title} (${escapeMarkdown(source.uri)})`;
}

/**
 * The numbered sources of an answer: `links` holds the URLs people may click (presigned S3
 * objects, source-links.ts); without one, a web source keeps its own http(s) URL.
 */
export function answerSources(
  citations: readonly Citation[],
  links: ReadonlyMap<string, string> = new Map(),
  policy: OutputPolicy = DEFAULT_OUTPUT_POLICY,
): AnswerSource[] {
  return sourcesOf(citations).map((source, i) => {
    const url = links.get(source.uri) ?? webLink(source.uri, policy);
    return { n: i + 1, title: source.title, uri: source.uri, ...(url ? { url } : {}), ...(source.snippet ? { snippet: source.snippet } : {}) };
  });
}

export function formatAnswer(
  text: string,
  citations: readonly Citation[],
  /**
   * `continuable`: a cut-short answer's turn is remembered, so the note tells how to have the
   * rest. `sources`: the numbered sources (answerSources) when already worked out.
   */
  options: { cutShort?: boolean; continuable?: boolean; policy?: OutputPolicy; sources?: readonly AnswerSource[] } = {},
): FormattedAnswer {
  const policy = options.policy ?? DEFAULT_OUTPUT_POLICY;
  const sources = options.sources ?? answerSources(citations, undefined, policy);
  const trimmed = text.trim();
  const byUri = new Map(sources.map((s) => [s.uri, s]));
  const placements = trimmed === "" ? [] : placeMarkers(trimmed, citations, (uri) => byUri.get(uri)?.n, policy);
  const byNumber = new Map(sources.map((s) => [s.n, s]));
  const markdownMarker = (n: number): string => {
    const url = byNumber.get(n)?.url;
    return url ? `[\\[${n}\\]](${linkTarget(url)})` : `\\[${n}\\]`;
  };
  const markdown = [trimmed === "" ? NO_ANSWER : insertMarkers(trimmed, placements, markdownMarker)];
  const plain = [trimmed === "" ? NO_ANSWER : insertMarkers(trimmed, placements, (n) => `[${n}]`)];
  if (options.cutShort) {
    const note = options.continuable ? `${CUT_SHORT_NOTE} ${CONTINUE_HINT}` : CUT_SHORT_NOTE;
    markdown.push(`_${note}_`);
    plain.push(`(${note})`);
  }
  if (sources.length > 0) {
    markdown.push(["**Sources**", ...sources.map((s) => `${s.n}. ${markdownSource(s)}`)].join("\n"));
    plain.push(["Sources:", ...sources.map((s) => `${s.n}. ${s.title}: ${s.url ?? s.uri}`)].join("\n"));
  }
  return { markdown: sanitizeOutput(markdown.join("\n\n"), policy), plainText: sanitizeOutput(plain.join("\n\n"), policy) };
}
