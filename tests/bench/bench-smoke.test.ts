import { expect } from "chai";
import { COLD_START_QUICK, COMPONENTS, coldStartRatios, runColdStart, type ColdStartResult } from "../../bench/coldstart";
import { CONCURRENCY_QUICK, runConcurrency, type ConcurrencyResult } from "../../bench/concurrency";
import { FANOUT_QUICK, runFanout, type FanoutResult } from "../../bench/fanout";
import { FIRST_TOKEN_QUICK, runFirstToken, type FirstTokenResult } from "../../bench/firsttoken";
import { PROGRAM_QUICK, runProgram, type ProgramResult } from "../../bench/program";
import { keyFigures, losses, machine, renderResults } from "../../bench/report";
import { parseBenchArgs } from "../../bench/run";
import { percentile } from "../../bench/stats";
import { ACCOUNT_REQUESTS_PER_SECOND, STREAMING_QUICK, capacityRatio, runStreaming, type StreamingResult } from "../../bench/streaming";
import { DEFAULT_FLUSH_INTERVAL_MS } from "../../functions/stream/writer";
import { PRICES, sseCostPerThousand, webSocketCostPerThousand } from "../../bench/cost";

// Every benchmark in its smallest configuration, to prove each one runs end to end and counts
// what it claims to count. No figure here is a timing assertion.
describe("benchmarks, smallest configurations (bench/)", function () {
  this.timeout(120_000);

  let streaming: StreamingResult;
  let fanout: FanoutResult;
  let coldStart: ColdStartResult;
  let concurrency: ConcurrencyResult;
  let program: ProgramResult;
  let firstToken: FirstTokenResult;

  before(async () => {
    // Separate processes and ports: the benchmarks can share the wait.
    [streaming, fanout, coldStart, concurrency, program, firstToken] = await Promise.all([
      runStreaming(STREAMING_QUICK),
      runFanout(FANOUT_QUICK),
      runColdStart(COLD_START_QUICK),
      runConcurrency(CONCURRENCY_QUICK),
      runProgram(PROGRAM_QUICK),
      runFirstToken(FIRST_TOKEN_QUICK),
    ]);
  });

  it("streaming: the naive baseline posts exactly once per delta, ours fewer times, and every client got the generated text exactly", () => {
    const deltas = STREAMING_QUICK.deltas;
    const byCase = (name: string) => streaming.cases.filter((c) => c.case === name);
    expect(streaming.cases.map((c) => c.case).sort()).to.deep.equal(["floor", "naive", "ours", "sse"]);
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

  it("streaming: capacity per answer against the account limit, ours vs naive, from the same runs", () => {
    expect(streaming.flushIntervalMs).to.deep.equal(DEFAULT_FLUSH_INTERVAL_MS);
    for (const c of streaming.cases.filter((x) => x.case === "naive" || x.case === "ours")) {
      const { capacity, postsPerAnswer, busyMs } = c;
      expect(capacity!.answersPerSecond, c.case).to.be.closeTo(ACCOUNT_REQUESTS_PER_SECOND / postsPerAnswer!.p50, 0.05);
      expect(capacity!.requestsPerSecondPerAnswer).to.be.closeTo(postsPerAnswer!.p50 / (busyMs!.p50 / 1000), 0.05);
      expect(capacity!.concurrentAnswers).to.equal(Math.floor(ACCOUNT_REQUESTS_PER_SECOND / (postsPerAnswer!.p50 / (busyMs!.p50 / 1000))));
    }
    const [rate] = STREAMING_QUICK.rates;
    const [latency] = STREAMING_QUICK.latenciesMs;
    const ours = streaming.cases.find((c) => c.case === "ours")!;
    expect(ours.textFlushIntervalMs).to.equal(DEFAULT_FLUSH_INTERVAL_MS.text);
    expect(capacityRatio(streaming, rate, latency)).to.be.above(1);
  });

  it("streaming: the Lex Web UI display model runs on every intact answer; the last frame is always unshown", () => {
    for (const c of streaming.cases.filter((x) => x.case === "naive" || x.case === "ours")) {
      const d = c.display!;
      expect(d.lagP50Ms.n, c.case).to.equal(c.intact);
      // Every shown character waits at least the display's 500 ms.
      expect(d.lagP50Ms.min, c.case).to.be.at.least(500);
      expect(d.lagMaxMs.min, c.case).to.be.at.least(d.lagP50Ms.min);
      expect(d.unshownChars.min, c.case).to.be.at.least(1);
      expect(d.unshownBytes.min, c.case).to.be.at.least(d.unshownChars.min);
      expect(d.unshownPercent.max, c.case).to.be.within(0, 100);
    }
    // naive's last frame is its last delta, 3–6 code points (bench/answer.ts).
    expect(streaming.cases.find((c) => c.case === "naive")!.display!.unshownChars.min).to.be.within(3, 6);
  });

  it("streaming: the SSE path streams every answer whole with no PostToConnection and one invocation, timed against the floor of the same run and priced", () => {
    const sse = streaming.cases.filter((c) => c.case === "sse");
    expect(sse.map((c) => `${c.rate}/${c.latencyMs}`)).to.deep.equal(STREAMING_QUICK.rates.flatMap((rate) => STREAMING_QUICK.latenciesMs.map((latency) => `${rate}/${latency}`)));
    for (const c of sse) {
      expect(c.intact).to.equal(c.runs);
      expect(c.addedTtftMs!.n).to.equal(c.runs);
      expect(c.lastLagMs!.n).to.equal(c.runs);
      // No post: the gateway's count (checked against the WebSocket producers' above) leaves none to SSE.
      expect([c.postsPerAnswer!.min, c.postsPerAnswer!.max]).to.deep.equal([0, 0]);
      expect(c.invocationsPerAnswer).to.equal(1);
      // Every delta is an SSE event of its own (no frame budget), each bigger than its text.
      expect(c.responseBytes!.min).to.be.above(streaming.answerBytes + STREAMING_QUICK.deltas * "event: delta\n".length);
      // The invocation runs at least until the last delta reached the client.
      expect(c.invocationMs!.min).to.be.above(0);
      expect(c.costPerThousand).to.deep.equal(sseCostPerThousand(c.invocationMs!.p50, c.responseBytes!.p50));
      expect(c.costPerThousand!.messages).to.equal(0);
      // A few KB per answer, far under the 6 MB per response that streams without a bytes charge.
      expect(c.costPerThousand!.streamedBytes).to.equal(0);
    }
    for (const c of streaming.cases.filter((x) => x.case === "naive" || x.case === "ours")) {
      expect(c.costPerThousand).to.deep.equal(webSocketCostPerThousand(c.postsPerAnswer!.p50, c.invocationMs!.p50));
    }
    const markdown = renderResults({ meta: { ...machine(), seconds: {}, cpuBusyBeforePercent: {} }, streaming });
    expect(markdown).to.contain("#### Server-Sent Events beside the WebSocket and the floor");
    expect(markdown).to.contain(`$${PRICES.lambdaStreamedPerGb} per GB streamed beyond the first 6 MB`);
    expect(keyFigures({ meta: { ...machine(), seconds: {}, cpuBusyBeforePercent: {} }, streaming }).some((line) => line.startsWith("SSE (function URL)"))).to.equal(true);
  });

  it("streaming: the frame budget curve covers every interval of each format, with the display only for text", () => {
    const { intervalsMs } = STREAMING_QUICK.curve;
    const expected = STREAMING_QUICK.rates.flatMap((rate) => (["text", "json"] as const).flatMap((format) => intervalsMs[format].map((interval) => `${rate}/${format}/${interval}`)));
    expect(streaming.curve.map((p) => `${p.rate}/${p.format}/${p.intervalMs}`)).to.deep.equal(expected);
    for (const p of streaming.curve) {
      expect(p.intact, `${p.format} ${p.intervalMs}`).to.equal(p.runs);
      expect(p.display === undefined, p.format).to.equal(p.format === "json");
      expect(p.postsPerAnswer.p50).to.be.within(1, STREAMING_QUICK.deltas + 2);
    }
    // A longer text interval never costs more posts (the same answer, the same pace).
    const text = streaming.curve.filter((p) => p.format === "text");
    expect(text[text.length - 1].postsPerAnswer.p50).to.be.at.most(text[0].postsPerAnswer.p50);
  });

  it("fan-out: every connection receives the whole answer; the naive reference posts every delta to every connection", () => {
    for (const c of fanout.cases) {
      expect(c.intact, `${c.algorithm} ×${c.connections}`).to.equal(c.runs);
      if (c.algorithm === "naive") expect(c.postsPerAnswer).to.equal(FANOUT_QUICK.deltas * c.connections);
      else expect(c.postsPerAnswer).to.be.at.most(FANOUT_QUICK.deltas * c.connections);
    }
    expect(fanout.cases.map((c) => c.connections)).to.include.members([...FANOUT_QUICK.connections]);
  });

  it("cold start: bundles each function both ways, requires each in a fresh process, times its CPU and its first request, and prices each dependency", () => {
    expect(coldStart.bundles.map((b) => `${b.function}/${b.variant}`)).to.deep.equal(["connection/ours", "connection/naive"]);
    const [ours, naive] = coldStart.bundles;
    // Sizes are deterministic: minified ES module builds are smaller than the naive bundle.
    expect(ours.bytes).to.be.below(naive.bytes);
    for (const b of coldStart.bundles) {
      expect(b.gzipBytes).to.be.within(1, b.bytes - 1);
      expect(b.initMs).to.be.above(0);
      expect(b.initCpuMs).to.be.above(0);
      // The first request ran (every endpoint refused it) and came back.
      expect(b.firstRequestMs, b.variant).to.be.above(0);
      expect(b.firstRequestCpuMs, b.variant).to.be.above(0);
      expect(b.runs).to.equal(COLD_START_QUICK.runs);
    }
    const ratios = coldStartRatios(coldStart, "connection")!;
    expect(ratios.init).to.be.above(0);
    expect(coldStart.components.map((c) => c.name)).to.deep.equal(Object.keys(COMPONENTS));
    for (const c of coldStart.components) expect(c.initMs, c.name).to.be.above(0);
    // The empty bundle is the base; an SDK client is far bigger.
    expect(coldStart.components[0].bytes).to.be.below(coldStart.components.find((c) => c.name === "Lambda client")!.bytes);
  });

  it("first token: the floor, the Lex door, the WebSocket ask and SSE each stream the whole answer, timed against the floor of the same run", () => {
    expect(firstToken.cases.map((c) => c.door)).to.deep.equal(["floor", "lex", "ask", "sse"]);
    for (const c of firstToken.cases) {
      expect(c.runs, c.door).to.equal(FIRST_TOKEN_QUICK.runs);
      expect(c.intact, c.door).to.equal(c.runs);
      expect(c.ttftMs.min, c.door).to.be.above(0);
      expect(c.addedTtftMs === undefined, c.door).to.equal(c.door === "floor");
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
    const results = { meta: { ...machine(), seconds: {}, cpuBusyBeforePercent: {} }, streaming, fanout, coldStart, concurrency, program, firstToken };
    const markdown = renderResults(results);
    for (const title of [
      "1. Streaming path",
      "Capacity and what a Lex Web UI user sees",
      "Frame budget: the trade-off curve",
      "2. Fan-out",
      "3. Cold start",
      "4. Gateway concurrency",
      "5. Pulumi program",
      "6. First token by front door",
      "Server-Sent Events beside the WebSocket and the floor",
    ]) {
      expect(markdown).to.contain(title);
    }
    expect(losses(results)).to.deep.equal([]);
    expect(keyFigures(results).at(-1)).to.match(/^Frames lost: none/);
  });
});

describe("bench helpers", () => {
  it("prices an SSE answer: one request and its duration, streamed bytes only beyond 6 MB, no WebSocket message", () => {
    const p = PRICES;
    const small = sseCostPerThousand(2000, 50_000);
    expect(small.messages).to.equal(0);
    expect(small.streamedBytes).to.equal(0);
    expect(small.lambda).to.be.closeTo((p.fulfillmentMemoryGb * 2 * p.lambdaArmGbSecond + p.lambdaRequestPerMillion / 1e6) * 1000, 1e-6);
    // 1 GB beyond the first 6 MB costs the per-GB price once per answer.
    expect(sseCostPerThousand(2000, 2 ** 30 + 6 * 2 ** 20).streamedBytes).to.be.closeTo(p.lambdaStreamedPerGb * 1000, 1e-6);
    const ws = webSocketCostPerThousand(20, 2000);
    expect(ws.messages).to.be.closeTo((21 * p.webSocketMessagePerMillion) / 1000, 1e-9);
    expect(ws.lambda - small.lambda).to.be.closeTo((p.lambdaRequestPerMillion / 1e6) * 1000, 1e-6);
  });

  it("interpolates percentiles between closest ranks", () => {
    expect(percentile([1, 2, 3, 4], 50)).to.equal(2.5);
    expect(percentile([10], 95)).to.equal(10);
    expect(percentile([5, 1, 3], 0)).to.equal(1);
    expect(percentile([5, 1, 3], 100)).to.equal(5);
    expect(Number.isNaN(percentile([], 50))).to.equal(true);
  });

  it("parses --only and --quick, refusing an unknown benchmark", () => {
    expect(parseBenchArgs(["--only", "streaming,program", "--quick"])).to.deep.equal({ only: ["streaming", "program"], quick: true });
    expect(parseBenchArgs([]).only).to.have.length(7);
    expect(() => parseBenchArgs(["--only", "streaming,nope"])).to.throw(/unknown benchmark nope/);
  });
});
