/**
 * The README's figure for posts saved comes from the committed bench run (issue 23): QnABot's
 * posts per answer over ours at the default frame budget of each format, at every pace the
 * curve measured (bench/results.json, `streaming.curve`). It held for the text format only
 * when it said "7–20×"; the json format (the chat page, the CLI) saves less.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "../..");

interface CurvePoint {
  rate: number;
  format: "text" | "json";
  intervalMs: number;
  postsPerAnswer: { p50: number };
}

/** One decimal, without a trailing ".0", as docs/performance.md writes ratios. */
const ratio = (value: number) => value.toFixed(1).replace(/\.0$/, "");

describe("docs: the README's posts-saved figures come from bench/results.json (issue 23)", () => {
  it("states the range of × fewer posts for each format at its default frame budget", () => {
    const { streaming } = JSON.parse(readFileSync(path.join(ROOT, "bench/results.json"), "utf8")) as {
      streaming: { flushIntervalMs: Record<"text" | "json", number>; curve: CurvePoint[]; cases: { case: string; rate: number; postsPerAnswer?: { p50: number } }[] };
    };
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8").replace(/\s+/g, " ");
    for (const format of ["text", "json"] as const) {
      const points = streaming.curve.filter((p) => p.format === format && p.intervalMs === streaming.flushIntervalMs[format]);
      expect(points.length, format).to.be.above(1);
      const ratios = points.map((p) => {
        const naive = streaming.cases.find((c) => c.case === "naive" && c.rate === p.rate)!.postsPerAnswer!.p50;
        return naive / p.postsPerAnswer.p50;
      });
      const range = `${ratio(Math.min(...ratios))}–${ratio(Math.max(...ratios))}×`;
      expect(readme, `${format}: ${range}`).to.include(`${range} for ${format === "text" ? "Lex Web UI's text frames" : "the chat page's and CLI's json frames"}`);
    }
  });
});
