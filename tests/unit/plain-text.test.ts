import { expect } from "chai";
import fc from "fast-check";
import { plainText, PlainTextRenderer } from "../../functions/stream/plain-text";

const whole = plainText;

function inPieces(pieces: readonly string[]): string {
  const renderer = new PlainTextRenderer();
  return pieces.map((piece) => renderer.push(piece)).join("") + renderer.flush();
}

describe("stream: markdown as readable prose for format=text frames (issue 23)", () => {
  it("drops emphasis, code and heading markers; keeps bullets, links, code blocks and table rows legible", () => {
    // The answer the offline model gave, as Lex Web UI showed it raw while streaming.
    expect(whole("_Offline stand-in._ **Bedrock ConverseStream** streams via `ConverseStream`.")).to.equal(
      "Offline stand-in. Bedrock ConverseStream streams via ConverseStream.",
    );
    expect(whole("## How it works\n\n- first\n- second with ~~old~~ *new*\n  * nested\n")).to.equal("How it works\n\n• first\n• second with old new\n  • nested\n");
    expect(whole("See [the docs](https://example.com/a_b) and ![a diagram](img.png).")).to.equal("See the docs (https://example.com/a_b) and a diagram.");
    expect(whole("Run:\n\n```bash\nnpm start -- --local\necho **not bold**\n```\nDone.")).to.equal("Run:\n\nnpm start -- --local\necho **not bold**\nDone.");
    expect(whole("| Mode | Door |\n|---|:---:|\n| llm | WebSocket |\n")).to.equal("| Mode | Door |\n| llm | WebSocket |\n");
    expect(whole("> quoted\n\n---\n\nafter")).to.equal("quoted\n\n\nafter");
  });

  it("leaves what only looks like markup alone: snake_case, 2 * 3, #hashtag, -5, 1. item, escapes", () => {
    for (const text of ["use stream_writer_options", "2 * 3 = 6", "#hashtag", "-5 degrees", "1. item", "a ~ b", "wow!", "[not a link] here"]) {
      expect(whole(text), text).to.equal(text);
    }
    expect(whole("a \\*literal\\* star")).to.equal("a *literal* star");
    // What the output sanitizer escaped so no renderer reads a tag or a reference stays escaped.
    expect(whole("\\<img src=x onerror=alert(1)> and \\&lt;")).to.equal("\\<img src=x onerror=alert(1)> and \\&lt;");
  });

  it("is the identity on text with no markup character, however it is cut", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.constantFrom("a", "b", " ", "é", "😀", "日", ".", ",", "\n", "1") }), { maxLength: 12 }), (pieces) => {
        expect(inPieces(pieces)).to.equal(pieces.join(""));
      }),
    );
  });

  it("gives the same prose whatever the cuts (stateful across frames)", () => {
    const atoms = ["*", "**", "_", "`", "```", "~~", "#", "# ", "- ", "* ", "> ", "|", "---", "[", "](", ")", "!", "\\", "\n", " ", "a", "word", "x_y", "http://e.com/p", "😀", "1. ", "  "];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...atoms), { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 10 }), (parts, cutsAt) => {
        const text = parts.join("");
        const cuts = [...new Set(cutsAt.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const pieces: string[] = [];
        let from = 0;
        for (const cut of cuts) {
          pieces.push(text.slice(from, cut));
          from = cut;
        }
        pieces.push(text.slice(from));
        expect(inPieces(pieces), JSON.stringify(pieces)).to.equal(whole(text));
        // Every character piece by piece, the hardest cut.
        expect(inPieces([...text]), JSON.stringify(text)).to.equal(whole(text));
      }),
      { numRuns: 500 },
    );
  });

  it("holds only what it cannot decide yet, and nothing after the end", () => {
    const renderer = new PlainTextRenderer();
    expect(renderer.push("Hello **wor")).to.equal("Hello wor");
    expect(renderer.push("ld*")).to.equal("ld");
    expect(renderer.push("* and [a link")).to.equal(" and ");
    expect(renderer.push("](u) done\n-")).to.equal("a link (u) done\n");
    expect(renderer.flush()).to.equal("-");
  });
});
