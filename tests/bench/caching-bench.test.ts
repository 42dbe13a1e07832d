import { expect } from "chai";
import { CACHING_QUICK, renderCaching, runCaching, type CachingResult } from "../../bench/caching";
import { parseBenchArgs } from "../../bench/run";

// Benchmark 7 in its smallest configuration: it runs end to end and its usage columns show the
// cache really written and read. No figure here is a timing assertion.
describe("benchmark 7, cached second question (bench/caching.ts), smallest configuration", function () {
  this.timeout(120_000);
  let result: CachingResult;
  before(async () => {
    result = await runCaching(CACHING_QUICK);
  });

  it("with caching off, no cache counts; with auto, the second question reads the system prompt the first session wrote", () => {
    const [off, auto] = result.cases;
    expect(off).to.deep.include({ promptCaching: "off", runs: CACHING_QUICK.runs });
    expect(off.second).to.deep.equal({ cacheReadInputTokens: 0, cacheWriteInputTokens: 0 });
    expect(auto.promptCaching).to.equal("auto");
    expect(auto.second.cacheReadInputTokens).to.be.greaterThan(2048);
    expect(auto.ttftMs.n).to.equal(CACHING_QUICK.runs);
  });

  it("says in its table that the emulator models no latency effect, and is a `--only` choice", () => {
    expect(result.latencyModelled).to.equal(false);
    expect(renderCaching(result)).to.include("does not model caching's latency effect");
    expect(parseBenchArgs(["--only", "caching"]).only).to.deep.equal(["caching"]);
  });
});
