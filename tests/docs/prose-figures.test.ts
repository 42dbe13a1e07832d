/**
 * Every figure in the prose of README.md and docs/ comes from somewhere a reader can check
 * (issue 23). A figure-looking token (a number with a unit of time, size, rate or ratio, or a
 * count of checks, tests or resources) must lie in a phrase of tests/docs/prose-figures.ts:
 * a measurement is recomputed from its committed result file (bench/results.json,
 * RELIABILITY.md) with the rounding the sentence uses, a default or bound from the code
 * constant that sets it, and an AWS limit or a design number is listed with its source or
 * reason. docs/performance.md's generated block is checked whole by docs.test.ts.
 */
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { FIGURES, figureTokens, phraseSpans, prose, sources, type Entry } from "./prose-figures";

const ROOT = path.join(__dirname, "../..");
const FILES = ["README.md", ...readdirSync(path.join(ROOT, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];
const text = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

describe("docs: every figure in prose is backed by a result file, a code constant or a cited source (issue 23)", () => {
  it("finds figure-looking tokens in prose, not in code, link targets or the generated figures block", () => {
    const markdown = [
      "Posts drop 7.1–20× (text), lag 0.72 s; `flushIntervalMs: 150` ms in code; [x](a-10-s.md); 1 of 45 checks; 60 resources.",
      "<!-- FIGURES:BEGIN (generated) -->\n| 12 ms |\n<!-- FIGURES:END -->",
      "```bash\nsleep 10 s\n```",
      "1. In a list:\n   ```bash\n   sleep 20 s\n   ```",
    ].join("\n");
    expect(figureTokens(prose(markdown)).map((t) => t.text)).to.deep.equal(["7.1–20×", "0.72 s", "45 checks", "60 resources"]);
  });

  it("matches a phrase across the line breaks of wrapped prose", () => {
    expect(phraseSpans("a lag of\n  0.72 s (p50) here", "of 0.72 s (p50)")).to.deep.equal([{ start: 6, end: 23 }]);
  });

  it("lists every figure-looking token of README.md and docs/ in a phrase of prose-figures.ts", () => {
    const uncovered: string[] = [];
    for (const file of FILES) {
      const raw = text(file);
      const spans = FIGURES.filter((e) => e.file === file).flatMap((e) => phraseSpans(raw, e.phrase));
      for (const token of figureTokens(prose(raw))) {
        if (!spans.some((s) => s.start <= token.start && token.end <= s.end)) {
          const line = raw.slice(0, token.start).split("\n").length;
          uncovered.push(`${file}:${line} "${token.text}" in "${raw.slice(Math.max(0, token.start - 50), token.end + 30).replace(/\s+/g, " ")}"`);
        }
      }
    }
    expect(uncovered, "figures with no phrase in tests/docs/prose-figures.ts").to.deep.equal([]);
  });

  it("finds each phrase of prose-figures.ts where it says, and each backed figure equal to its source", () => {
    const wrong: string[] = [];
    const src = sources(ROOT);
    for (const entry of FIGURES as readonly Entry[]) {
      if (phraseSpans(text(entry.file), entry.phrase).length === 0) {
        wrong.push(`${entry.file}: no phrase "${entry.phrase}"`);
        continue;
      }
      if (!("value" in entry)) continue;
      for (const figure of [entry.value(src)].flat()) {
        if (!entry.phrase.includes(figure)) wrong.push(`${entry.file}: "${entry.phrase}" should say ${figure} (${entry.source})`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });
});
