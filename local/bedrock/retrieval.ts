/**
 * Passage retrieval for the offline stand-in model: the bundled markdown documents are cut
 * into paragraphs and ranked with BM25, so answers are deterministic and need no model.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Where the bundled documents live, and the bucket their citations name. */
export const DEFAULT_DOCUMENTS_DIR = join(__dirname, "..", "documents");
export const DOCUMENTS_URI_PREFIX = "s3://local-documents/";

export interface SourceDocument {
  /** File name, e.g. `stream-writer.md`. */
  readonly file: string;
  /** The document's first `# ` heading (the file name without one). */
  readonly title: string;
  /** `s3://local-documents/{file}`, as a knowledge base citation would give it. */
  readonly uri: string;
}

export interface Passage {
  readonly document: SourceDocument;
  /** Position of the passage in its document, from 0. */
  readonly index: number;
  /** The paragraph or list, as markdown. */
  readonly text: string;
}

export interface ScoredPassage {
  readonly passage: Passage;
  readonly score: number;
}

const STOPWORDS = new Set(
  (
    "a an and are as at be by can do does for from has have how i if in into is it its me my of on or so " +
    "that the their them then there these this to was what when where which who why will with you your " +
    "about after all also any before being but each how just more most not only other our out over same " +
    "should some such than they those through too up very we were would"
  ).split(" "),
);

/**
 * Lower-cased word tokens without stopwords, with a plural `s` stripped so "streams" finds
 * "stream"; a camel-case identifier also yields its parts, so "ConverseStream" finds "stream".
 */
export function tokenize(text: string): string[] {
  const raw = text.normalize("NFKC").match(/[\p{L}\p{N}]+/gu) ?? [];
  const words = raw.flatMap((w) => {
    const parts = w.match(/\p{Lu}+(?![\p{Ll}])|\p{Lu}?\p{Ll}+|\p{N}+|[^\p{Lu}\p{Ll}\p{N}]+/gu) ?? [w];
    return parts.length > 1 ? [w, ...parts] : [w];
  });
  return words
    .map((w) => w.toLowerCase())
    .filter((w) => w.length > 1 && !STOPWORDS.has(w))
    .map((w) => (w.length > 3 && w.endsWith("s") && !w.endsWith("ss") ? w.slice(0, -1) : w));
}

/** Splits a markdown document into its title and paragraph/list passages (headings are not passages). */
export function parseDocument(file: string, markdown: string): { document: SourceDocument; passages: string[] } {
  const blocks = markdown
    .replace(/\r\n/g, "\n")
    .split(/\n\s*\n/)
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  const titleBlock = blocks.find((b) => b.startsWith("# "));
  const title = titleBlock ? titleBlock.slice(2).split("\n")[0].trim() : file.replace(/\.md$/, "");
  // A paragraph that introduces a list, a table or a code block ("...these events:") belongs with it.
  const passages: string[] = [];
  for (const block of blocks.filter((b) => !/^#{1,6}\s/.test(b))) {
    const previous = passages.length - 1;
    if (previous >= 0 && passages[previous].endsWith(":") && /^((-|\*|\d+\.)\s|\||```)/.test(block)) {
      passages[previous] += `\n\n${block}`;
    } else {
      passages.push(block);
    }
  }
  return { document: { file, title, uri: `${DOCUMENTS_URI_PREFIX}${file}` }, passages };
}

const K1 = 1.2;
const B = 0.75;
/** Weight of the whole document's match in a passage's score: the right document first, then its best passages. */
const DOCUMENT_WEIGHT = 0.5;

/** Okapi BM25 over a fixed set of term bags. */
class Bm25 {
  private readonly bags: Array<{ frequencies: Map<string, number>; length: number }>;
  private readonly documentFrequency = new Map<string, number>();
  private readonly averageLength: number;

  constructor(termLists: readonly string[][]) {
    this.bags = termLists.map((terms) => {
      const frequencies = new Map<string, number>();
      for (const t of terms) frequencies.set(t, (frequencies.get(t) ?? 0) + 1);
      for (const t of frequencies.keys()) this.documentFrequency.set(t, (this.documentFrequency.get(t) ?? 0) + 1);
      return { frequencies, length: terms.length };
    });
    this.averageLength = this.bags.reduce((sum, b) => sum + b.length, 0) / Math.max(1, this.bags.length);
  }

  score(bag: number, queryTerms: readonly string[]): number {
    const { frequencies, length } = this.bags[bag];
    const n = this.bags.length;
    let score = 0;
    for (const term of queryTerms) {
      const tf = frequencies.get(term);
      if (!tf) continue;
      const df = this.documentFrequency.get(term) ?? 0;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      score += (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * length) / this.averageLength));
    }
    return score;
  }
}

/**
 * Passage search: a passage scores by its own BM25 match (its terms include the document
 * title, so topic words match) plus a share of its whole document's match.
 */
export class DocumentIndex {
  private readonly passageIndex: Bm25;
  private readonly documentIndex: Bm25;

  constructor(
    readonly documents: readonly SourceDocument[],
    private readonly passages: readonly Passage[],
  ) {
    this.passageIndex = new Bm25(passages.map((p) => tokenize(`${p.document.title} ${p.text}`)));
    this.documentIndex = new Bm25(
      documents.map((d) => tokenize([d.title, ...passages.filter((p) => p.document === d).map((p) => p.text)].join(" "))),
    );
  }

  /** Indexes `{file, markdown}` pairs, in the order given. */
  static fromMarkdown(files: ReadonlyArray<{ file: string; markdown: string }>): DocumentIndex {
    const documents: SourceDocument[] = [];
    const passages: Passage[] = [];
    for (const { file, markdown } of files) {
      const parsed = parseDocument(file, markdown);
      documents.push(parsed.document);
      parsed.passages.forEach((text, index) => passages.push({ document: parsed.document, index, text }));
    }
    return new DocumentIndex(documents, passages);
  }

  /** Indexes every `*.md` file of a directory, sorted by name so the ranking is stable. */
  static fromDirectory(dir: string): DocumentIndex {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".md"))
      .sort()
      .map((file) => ({ file, markdown: readFileSync(join(dir, file), "utf8") }));
    if (files.length === 0) throw new Error(`no markdown documents in ${dir}`);
    return DocumentIndex.fromMarkdown(files);
  }

  /** Passages whose own text matches, best first (ties keep document order). */
  search(query: string, limit: number): ScoredPassage[] {
    const queryTerms = [...new Set(tokenize(query))];
    const documentScores = new Map(this.documents.map((d, i) => [d, this.documentIndex.score(i, queryTerms)]));
    const scored: ScoredPassage[] = [];
    this.passages.forEach((passage, i) => {
      const own = this.passageIndex.score(i, queryTerms);
      if (own > 0) scored.push({ passage, score: own + DOCUMENT_WEIGHT * (documentScores.get(passage.document) ?? 0) });
    });
    return scored.sort((a, b) => b.score - a.score).slice(0, limit);
  }
}
