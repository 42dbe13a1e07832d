import { expect } from "chai";
import { liveMarkup } from "../lex-web-ui/live-markup";
import { lexWebUiHtml } from "../lex-web-ui/render";
import { CUT_SHORT_NOTE, NO_ANSWER, escapeMarkdown, formatAnswer, sourcesOf } from "../../functions/fulfillment/format";

describe("fulfillment: final answer format", () => {
  it("returns the text alone when nothing was cited", () => {
    expect(formatAnswer("  QnABot answers questions.\n", [])).to.deep.equal({
      markdown: "QnABot answers questions.",
      plainText: "QnABot answers questions.",
    });
  });

  it("numbers the distinct sources as markdown links, in the order first cited", () => {
    const { markdown, plainText } = formatAnswer("Answer.", [
      { text: "a", sources: [{ uri: "https://docs.example.com/b", title: "Guide B" }, { uri: "https://docs.example.com/a" }] },
      { text: "b", sources: [{ uri: "https://docs.example.com/b", title: "Guide B again" }] },
    ]);
    expect(markdown).to.equal(
      ["Answer.", "**Sources**\n1. [Guide B](https://docs.example.com/b)\n2. [a](https://docs.example.com/a)"].join("\n\n"),
    );
    expect(plainText).to.equal(
      ["Answer.", "Sources:\n1. Guide B: https://docs.example.com/b\n2. a: https://docs.example.com/a"].join("\n\n"),
    );
  });

  it("names an untitled source by its file name and links only http(s) targets", () => {
    const { markdown } = formatAnswer("x", [
      { text: "", sources: [{ uri: "s3://bucket/guides/QnABot%20guide.pdf" }, { uri: "javascript:alert(1)", title: "click me" }] },
    ]);
    expect(markdown).to.contain("1. QnABot guide.pdf (s3://bucket/guides/QnABot%20guide.pdf)");
    expect(markdown).to.contain("2. click me (javascript:alert\\(1\\))");
    expect(markdown).to.not.match(/\]\(javascript:/);
  });

  it("keeps titles and targets from breaking out of the link", () => {
    const { markdown } = formatAnswer("x", [
      { text: "", sources: [{ uri: "https://e.com/a (b)", title: "[evil](https://bad) *x*" }] },
    ]);
    // The title's own URL run is percent-encoded by the output sanitizer; it stays link text.
    expect(markdown).to.contain("1. [\\[evil\\]\\(https://bad%5C) \\*x\\*](https://e.com/a%20%28b%29)");
  });

  it("sanitizes the answer and its sources: a document's title or URI cannot carry live markup", () => {
    const { markdown, plainText } = formatAnswer(`<img src=x onerror="alert(1)"> ![b](https://beacon.example/p.png)`, [
      { text: "", sources: [{ uri: 'https://e.com/"onmouseover="alert(1)', title: "<script>alert(1)</script>" }] },
    ]);
    expect(liveMarkup(lexWebUiHtml(markdown))).to.deep.equal([]);
    expect(liveMarkup(lexWebUiHtml(plainText))).to.deep.equal([]);
    expect(markdown).to.include("https://e.com/%22onmouseover=%22alert").and.not.include("beacon.example");
  });

  it("adds a clear note when the time budget cut the answer short", () => {
    const { markdown, plainText } = formatAnswer("Half", [], { cutShort: true });
    expect(markdown).to.equal(`Half\n\n_${CUT_SHORT_NOTE}_`);
    expect(plainText).to.equal(`Half\n\n(${CUT_SHORT_NOTE})`);
  });

  it("never returns an empty answer (Lex refuses an empty message)", () => {
    expect(formatAnswer(" \n", []).plainText).to.equal(NO_ANSWER);
  });

  it("deduplicates sources across citations by URI", () => {
    const sources = sourcesOf([
      { text: "", sources: [{ uri: "u1" }, { uri: "u2" }] },
      { text: "", sources: [{ uri: "u2" }, { uri: "u1" }, { uri: "u3" }] },
    ]);
    expect(sources.map((s) => s.uri)).to.deep.equal(["u1", "u2", "u3"]);
  });

  it("escapes markdown syntax and collapses whitespace in link text", () => {
    expect(escapeMarkdown("a_b\n  `c` #1 <d>")).to.equal("a\\_b \\`c\\` \\#1 \\<d\\>");
  });
});
