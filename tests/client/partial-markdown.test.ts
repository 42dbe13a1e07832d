import { expect } from "chai";
import fc from "fast-check";
import { Marked } from "marked";
import { closePartialMarkdown } from "../../client/web/partial-markdown";

// The page's renderer (client/web/markdown.ts) is marked with these options, then DOMPurify,
// which removes markup but never changes text; marked alone is enough to see the text.
const markdown = new Marked({ gfm: true, async: false });
const html = (text: string) => markdown.parse(text, { async: false });
/** The text a reader sees: tags removed (the generated words hold no &, <, >, quotes). */
const visible = (text: string) => html(text).replace(/<[^>]*>/g, "");

/** A document as a model streams it: paragraphs and list items of words and balanced inline markup. */
const word = fc.stringMatching(/^[A-Za-z0-9é日本語🎉]{1,8}$/);
const words = fc.array(word, { minLength: 1, maxLength: 4 }).map((list) => list.join(" "));
const inline: fc.Arbitrary<string> = fc.oneof(
  words,
  words.map((w) => `*${w}*`),
  words.map((w) => `**${w}**`),
  words.map((w) => `_${w}_`),
  words.map((w) => `__${w}__`),
  words.map((w) => `\`${w}\``),
  words.map((w) => `~~${w}~~`),
  fc.tuple(words, words).map(([a, b]) => `**${a} *${b}***`),
  fc.tuple(words, words).map(([a, b]) => `_${a} **${b}**_`),
);
const line = fc.array(inline, { minLength: 1, maxLength: 5 }).map((parts) => parts.join(" "));
const block = fc.oneof(
  line,
  fc.array(line, { minLength: 1, maxLength: 3 }).map((items) => items.map((item) => `- ${item}`).join("\n")),
  line.map((l) => `## ${l}`),
);
const documentArb = fc.array(block, { minLength: 1, maxLength: 4 }).map((blocks) => blocks.join("\n\n"));

/** Every prefix a stream can show: whole code points (the writer never splits one). */
function prefixes(text: string): string[] {
  const points = [...text];
  return points.map((_, i) => points.slice(0, i + 1).join(""));
}

describe("client: partial markdown while streaming", () => {
  it("hides or closes markers that have not closed yet (issue 12: the stand-in's leading _)", () => {
    expect(closePartialMarkdown("_Offline stand-in model: this")).to.equal("_Offline stand-in model: this_");
    expect(html(closePartialMarkdown("_Offline stand-in model: this"))).to.equal("<p><em>Offline stand-in model: this</em></p>\n");
    expect(closePartialMarkdown("The answer **gro")).to.equal("The answer **gro**");
    expect(closePartialMarkdown("The answer **grows*")).to.equal("The answer **grows**");
    expect(closePartialMarkdown("The answer **")).to.equal("The answer");
    expect(closePartialMarkdown("Run `npm sta")).to.equal("Run `npm sta`");
    expect(closePartialMarkdown("Some ~~old")).to.equal("Some ~~old~~");
    expect(closePartialMarkdown("**a *b")).to.equal("**a *b***");
  });

  it("leaves text alone that is not a marker: snake_case, a lone ~, a list bullet, escapes", () => {
    expect(closePartialMarkdown("set snake_case")).to.equal("set snake_case");
    expect(closePartialMarkdown("about ~5 s")).to.equal("about ~5 s");
    expect(closePartialMarkdown("* item one\n* item")).to.equal("* item one\n* item");
    expect(closePartialMarkdown("2 \\* 3 is six")).to.equal("2 \\* 3 is six");
    expect(closePartialMarkdown("a \\*")).to.equal("a");
  });

  it("closes an open code fence and shows its content as code", () => {
    expect(closePartialMarkdown("Run:\n\n```sh\nnpm st")).to.equal("Run:\n\n```sh\nnpm st\n```");
    expect(html(closePartialMarkdown("```\na **b"))).to.equal("<pre><code>a **b\n</code></pre>\n");
    expect(closePartialMarkdown("```\ncode\n```\n\n_aft")).to.equal("```\ncode\n```\n\n_aft_");
  });

  it("only the last block can be open: earlier paragraphs and list items render as they are", () => {
    expect(closePartialMarkdown("**Title**\n\n- one *x*\n- two _y")).to.equal("**Title**\n\n- one *x*\n- two _y_");
    expect(closePartialMarkdown("a *b\n\nc")).to.equal("a *b\n\nc");
  });

  it("property: no prefix of a document shows a markdown marker as text", () => {
    fc.assert(
      fc.property(documentArb, (doc) => {
        for (const prefix of prefixes(doc)) {
          const shown = visible(closePartialMarkdown(prefix));
          if (/[*_`~]/.test(shown)) throw new Error(`${JSON.stringify(prefix)} shows ${JSON.stringify(shown)}`);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("property: a complete document renders exactly as without it", () => {
    fc.assert(
      fc.property(documentArb, (doc) => html(closePartialMarkdown(doc)) === html(doc)),
      { numRuns: 300 },
    );
  });

  it("property: only appends closers to the text it keeps, which is a prefix of the input", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("a", " ", "*", "_", "`", "~", "\n", "\\", "#", "-", "1", ".") }), (text) => {
        const out = closePartialMarkdown(text);
        const kept = out.replace(/[*_`~\n]*$/, "");
        return text.startsWith(kept) || (text + "\n").startsWith(kept);
      }),
      { numRuns: 2000 },
    );
  });
});
