import { expect } from "chai";
import fc from "fast-check";
import { STAND_IN_NOTICE, composeAnswer, lastUserText } from "../../local/bedrock/answer";
import { formatAnswer } from "../../functions/fulfillment/format";
import { checkBehavior } from "../../local/bedrock/behavior";
import { MAX_DELTA_CODE_POINTS, splitIntoDeltas } from "../../local/bedrock/deltas";
import { planAnswer } from "../../local/bedrock/plan";
import { DEFAULT_DOCUMENTS_DIR, DocumentIndex, parseDocument, tokenize } from "../../local/bedrock/retrieval";

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe("bedrock emulator: stand-in model", () => {
  const index = DocumentIndex.fromDirectory(DEFAULT_DOCUMENTS_DIR);

  describe("tokenize", () => {
    it("drops stopwords and one-letter words, strips plurals, splits camel case and keeps other scripts", () => {
      expect(tokenize("What are the streams of a ConverseStream in 日本語?")).to.deep.equal([
        "stream",
        "conversestream",
        "converse",
        "stream",
        "日本語",
      ]);
      expect(tokenize("access class")).to.deep.equal(["access", "class"]);
    });
  });

  describe("parseDocument", () => {
    it("takes the title from the first heading, leaves headings out and keeps a list with the line introducing it", () => {
      const { document, passages } = parseDocument("x.md", "# Title\n\nFirst para.\n\n## Section\n\nThese:\n\n- a\n- b\n\nLast.\n");
      expect(document).to.deep.equal({ file: "x.md", title: "Title", uri: "s3://local-documents/x.md" });
      expect(passages).to.deep.equal(["First para.", "These:\n\n- a\n- b", "Last."]);
    });

    it("keeps a paragraph that introduces a table or a code block with it (issue 23)", () => {
      const { passages } = parseDocument("x.md", "# T\n\nRun:\n\n```bash\nnpm start\n```\n\nThe keys:\n\n| Key | Default |\n|---|---|\n| a | 1 |\n");
      expect(passages).to.deep.equal(["Run:\n\n```bash\nnpm start\n```", "The keys:\n\n| Key | Default |\n|---|---|\n| a | 1 |"]);
    });
  });

  describe("search", () => {
    it("finds every bundled document from its own title", () => {
      expect(index.documents.length).to.be.within(6, 10);
      for (const document of index.documents) {
        expect(index.search(document.title, 1)[0]?.passage.document, document.title).to.equal(document);
      }
    });

    it("returns nothing for a question the documents do not cover", () => {
      expect(index.search("What is the capital of France?", 3)).to.deep.equal([]);
    });
  });

  describe("composeAnswer", () => {
    it("opens with the stand-in notice, quotes the best passages with markdown, and cites their exact spans", () => {
      const answer = composeAnswer(index, "Does Lex Web UI need changes?");
      expect(answer.text.startsWith(STAND_IN_NOTICE)).to.equal(true);
      expect(answer.text).to.include("**Using Lex Web UI**");
      // Its sources listed as the fulfillment lists a knowledge base's (format.ts): they look the same in either mode (issue 23).
      expect(answer.text).to.include("**Sources**\n1. Using Lex Web UI (s3://local-documents/lex-web-ui.md)");
      expect(answer.text).to.include(formatAnswer("x", [{ text: "", sources: [{ uri: "s3://local-documents/lex-web-ui.md", title: "Using Lex Web UI" }] }]).markdown.slice(3));
      expect(answer.citations).to.not.be.empty;
      for (const c of answer.citations) expect(answer.text.slice(c.start, c.end)).to.equal(c.passage.text);
      expect(composeAnswer(index, "Does Lex Web UI need changes?")).to.deep.equal(answer);
    });

    it("can answer with a code block and a table (issue 23: their rendering could not be tried offline)", () => {
      const answer = composeAnswer(index, "Which config keys and defaults does the stack have, and how do I set them?");
      expect(answer.text).to.include("```bash\npulumi config set enableStreaming true\n");
      expect(answer.text).to.match(/\n\| Key \| Default \| What it sets \|\n\|---\|---\|---\|\n/);
    });

    it("says so, and lists what it covers, when nothing matches", () => {
      const answer = composeAnswer(index, "What is the capital of France?");
      expect(answer.citations).to.deep.equal([]);
      expect(answer.text).to.include("say nothing");
      for (const d of index.documents) expect(answer.text).to.include(`- ${d.title}`);
    });
  });

  describe("lastUserText", () => {
    it("joins the text blocks of the last user message and skips assistant turns and other blocks", () => {
      const messages = [
        { role: "user", content: [{ text: "first" }] },
        { role: "assistant", content: [{ text: "reply" }] },
        { role: "user", content: [{ text: "second" }, { image: {} }, { text: "part" }] },
        { role: "assistant", content: [{ text: "prefill" }] },
      ];
      expect(lastUserText(messages)).to.equal("second\npart");
      expect(lastUserText([])).to.equal("");
    });
  });

  describe("splitIntoDeltas", () => {
    it("cuts words with their spaces, long words in pieces, and rejoins exactly (property)", () => {
      const text = fc.string({ unit: fc.constantFrom("a", "é", " ", "\n", "日", "👩‍💻", "🚀", "e\u0301", "ß") as fc.Arbitrary<string>, maxLength: 200 });
      fc.assert(
        fc.property(text, fc.integer({ min: 1, max: 12 }), (t, max) => {
          const deltas = splitIntoDeltas(t, max);
          expect(deltas.join("")).to.equal(t);
          for (const d of deltas) {
            expect(d).to.not.equal("");
            expect(Array.from(d).length).to.be.at.most(max);
            expect(LONE_SURROGATE.test(d)).to.equal(false);
          }
        }),
        { numRuns: 300 },
      );
      expect(splitIntoDeltas("Hello streaming world")).to.deep.equal(["Hello ", "streamin", "g ", "world"]);
      expect(MAX_DELTA_CODE_POINTS).to.equal(8);
    });
  });

  describe("planAnswer", () => {
    it("sends each citation right after the delta that completes the text it cites", () => {
      const plan = planAnswer({}, index, "How does the stream writer coalesce deltas?");
      expect(plan.deltas.join("")).to.equal(plan.text);
      expect(plan.citations).to.not.be.empty;
      for (const c of plan.citations) {
        const end = c.start + c.text.length;
        expect(plan.deltas.slice(0, c.afterDelta + 1).join("").length).to.be.at.least(end);
        expect(plan.deltas.slice(0, c.afterDelta).join("").length).to.be.below(end);
      }
    });

    it("uses scripted deltas as given and places scripted citations, defaulting to the last delta", () => {
      const plan = planAnswer(
        { deltas: ["ab", "cd"], citations: [{ text: "cd", references: [{ uri: "s3://b/k", text: "t" }] }, { afterDelta: 9, references: [] }] },
        index,
        "ignored",
      );
      expect(plan.text).to.equal("abcd");
      expect(plan.citations.map((c) => [c.afterDelta, c.start, c.text])).to.deep.equal([
        [1, 2, "cd"],
        [1, 0, "abcd"],
      ]);
    });
  });

  describe("checkBehavior", () => {
    it("refuses nonsense up front", () => {
      expect(() => checkBehavior({ deltasPerSecond: -1 })).to.throw(RangeError, /deltasPerSecond/);
      expect(() => checkBehavior({ firstTokenDelayMs: Number.NaN })).to.throw(RangeError, /firstTokenDelayMs/);
      expect(() => checkBehavior({ httpError: { type: "ThrottlingException", status: 200 } })).to.throw(RangeError, /status/);
      expect(() => checkBehavior({ streamError: { type: "", afterDeltas: 1 } })).to.throw(TypeError, /type/);
      expect(() => checkBehavior({ stall: { afterDeltas: 1, forMs: -5 } })).to.throw(RangeError, /forMs/);
      expect(() => checkBehavior({ responseDelayMs: -1 })).to.throw(RangeError, /responseDelayMs/);
      expect(() => checkBehavior({ deltasPerSecond: 150, stall: { afterDeltas: 0 } })).to.not.throw();
    });
  });
});
