import { expect } from "chai";
import { COLD_START_QUICK, runColdStart, type ColdStartResult } from "../../bench/coldstart";
import { CONCURRENCY_QUICK, runConcurrency, type ConcurrencyResult } from "../../bench/concurrency";
import { FANOUT_QUICK, runFanout, type FanoutResult } from "../../bench/fanout";
import { PROGRAM_QUICK, runProgram, type ProgramResult } from "../../bench/program";
import { keyFigures, losses, machine, renderResults } from "../../bench/report";
import { parseBenchArgs } from "../../bench/run";
import { percentile } from "../../bench/stats";
import { STREAMING_QUICK, runStreaming, type StreamingResult } from "../../bench/streaming";

// Every benchmark in its smallest configuration, to prove each one runs end to end and counts
// what it claims to count. No figure here is a timing assertion.
describe("benchmarks, smallest configurations (bench/)", function () {
  this.timeout(120_000);

  let streaming: StreamingResult;
  let fanout: FanoutResult;
  let coldStart: ColdStartResult;
  let concurrency: ConcurrencyResult;
  let program: ProgramResult;

  before(async () => {
    // Separate processes and ports: the benchmarks can share the wait.
    [streaming, fanout, coldStart, concurrency, program] = await Promise.all([
      runStreaming(STREAMING_QUICK),
      runFanout(FANOUT_QUICK),
      runColdStart(COLD_START_QUICK),
      runConcurrency(CONCURRENCY_QUICK),
      runProgram(PROGRAM_QUICK),
    ]);
  });

  it("streaming: the naive baseline posts exactly once per delta, ours fewer times, and every client got the generated text exactly", () => {
    const deltas = STREAMING_QUICK.deltas;
    const byCase = (name: string) => streaming.cases.filter((c) => c.case === name);
    expect(streaming.cases.map((c) => c.case).sort()).to.deep.equal(["floor", "naive", "ours"]);
    for (const c of streaming.cases) {
      expect(c.failures, c.case).to.deep.equal([]);
      expect(c.runs, c.case).to.equal(STREAMING_QUICK.runs);
      expect(c.intact, c.case).to.equal(c.runs);
    }
    for (const naive of byCase("naive")) {
      expect([naive.postsPerAnswer!.min, naive.postsPerAnswer!.max]).to.deep.equal([deltas, deltas]);
    }
    for (const ours of byCase("ours")) {
      expect(ours.postsPerAnswer!.max).to.be.within(1, deltas - 1);
    }
    expect(streaming.postsCheck.gateway).to.equal(streaming.postsCheck.producers);
  });

  it("fan-out: every connection receives the whole answer; the naive reference posts every delta to every connection", () => {
    for (const c of fanout.cases) {
      expect(c.intact, `${c.algorithm} ×${c.connections}`).to.equal(c.runs);
      if (c.algorithm === "naive") expect(c.postsPerAnswer).to.equal(FANOUT_QUICK.deltas * c.connections);
      else expect(c.postsPerAnswer).to.be.at.most(FANOUT_QUICK.deltas * c.connections);
    }
    expect(fanout.cases.map((c) => c.connections)).to.include.members([...FANOUT_QUICK.connections]);
  });

  it("cold start: bundles each function both ways and requires each bundle in a fresh process", () => {
    expect(coldStart.bundles.map((b) => `${b.function}/${b.variant}`)).to.deep.equal(["connection/ours", "connection/naive"]);
    const [ours, naive] = coldStart.bundles;
    // Sizes are deterministic: minified ES module builds are smaller than the naive bundle.
    expect(ours.bytes).to.be.below(naive.bytes);
    for (const b of coldStart.bundles) {
      expect(b.gzipBytes).to.be.within(1, b.bytes - 1);
      expect(b.initMs).to.be.above(0);
      expect(b.runs).to.equal(COLD_START_QUICK.runs);
    }
  });

  it("concurrency: streams every session in both modes without losing, repeating or reordering a frame", () => {
    expect(concurrency.cases.map((c) => c.mode)).to.deep.equal(CONCURRENCY_QUICK.cases.map((c) => c.mode));
    for (const c of concurrency.cases) {
      expect({ lost: c.lostSessions, gaps: c.seqGaps, repeats: c.seqRepeats, errors: c.handlerErrors }, c.mode).to.deep.equal({
        lost: 0,
        gaps: 0,
        repeats: 0,
        errors: 0,
      });
      expect(c.intactSessions).to.equal(c.sessions);
      expect(c.frames).to.be.at.least(c.sessions * 3);
    }
  });

  it("program: runs the Pulumi program under mocks and counts what it registered", () => {
    expect(program.runs).to.have.length(1);
    const [run] = program.runs;
    expect(run.streaming).to.equal(false);
    expect(run.awsResources).to.be.above(0);
    expect(run.resources).to.equal(run.awsResources + run.components);
  });

  it("report: renders every section and the key figures, with no loss to report", () => {
    const results = { meta: { ...machine(), seconds: {}, cpuBusyBeforePercent: {} }, streaming, fanout, coldStart, concurrency, program };
    const markdown = renderResults(results);
    for (const title of ["1. Streaming path", "2. Fan-out", "3. Cold start", "4. Gateway concurrency", "5. Pulumi program"]) {
      expect(markdown).to.contain(title);
    }
    expect(losses(results)).to.deep.equal([]);
    expect(keyFigures(results).at(-1)).to.match(/^Frames lost: none/);
  });
});

describe("bench helpers", () => {
  it("interpolates percentiles between closest ranks", () => {
    expect(percentile([1, 2, 3, 4], 50)).to.equal(2.5);
    expect(percentile([10], 95)).to.equal(10);
    expect(percentile([5, 1, 3], 0)).to.equal(1);
    expect(percentile([5, 1, 3], 100)).to.equal(5);
    expect(Number.isNaN(percentile([], 50))).to.equal(true);
  });

  it("parses --only and --quick, refusing an unknown benchmark", () => {
    expect(parseBenchArgs(["--only", "streaming,program", "--quick"])).to.deep.equal({ only: ["streaming", "program"], quick: true });
    expect(parseBenchArgs([]).only).to.have.length(5);
    expect(() => parseBenchArgs(["--only", "streaming,nope"])).to.throw(/unknown benchmark nope/);
  });
});
