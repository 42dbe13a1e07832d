/**
 * The results of a bench run: what goes to bench/results.json, and the markdown of
 * bench/RESULTS.md (also what the terminal shows), key ratios first.
 */
import * as os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { renderColdStart, type ColdStartResult } from "./coldstart";
import { renderConcurrency, type ConcurrencyResult } from "./concurrency";
import { renderFanout, type FanoutResult } from "./fanout";
import { renderFirstToken, type FirstTokenResult } from "./firsttoken";
import { renderCaching, type CachingResult } from "./caching";
import { renderProgram, type ProgramResult } from "./program";
import { fmt, round } from "./stats";
import { renderStreaming, type StreamingResult } from "./streaming";

export interface BenchMeta {
  date: string;
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  /** Seconds each benchmark took, as last run. */
  seconds: Record<string, number>;
  /** Share of the machine's CPU (%) busy in the second before each benchmark, none of it the bench's: other work skews every figure. */
  cpuBusyBeforePercent: Record<string, number>;
  /**
   * Where and when each benchmark last ran, since `--only` merges a new run into older ones
   * that may come from another day or machine; a benchmark missing here ran as the fields above say.
   */
  runs?: Record<string, BenchMachine>;
}

/** The machine and time of one run. */
export type BenchMachine = Omit<BenchMeta, "seconds" | "cpuBusyBeforePercent" | "runs">;

/**
 * When and on what the results were measured: "2026-11-29: 2 cores (AMD EPYC), 24 GiB, Node
 * v20.20.2", or, when `--only` merged runs of other days or machines, each with its benchmarks
 * ("2026-11-29 (streaming, fanout): …; 2026-12-07 (program): …").
 */
export function describeRuns(meta: BenchMeta, { platform }: { platform: boolean }): string {
  const describe = (m: BenchMachine) => `${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, ${platform ? `${m.platform}, ` : ""}Node ${m.node}`;
  const groups = new Map<string, string[]>();
  for (const name of Object.keys(meta.seconds)) {
    const run = meta.runs?.[name] ?? meta;
    const key = `${run.date.slice(0, 10)}: ${describe(run)}`;
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  if (groups.size <= 1) return [...groups.keys()][0] ?? `${meta.date.slice(0, 10)}: ${describe(meta)}`;
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, names]) => key.replace(": ", ` (${names.join(", ")}): `))
    .join("; ");
}

export interface BenchResults {
  meta: BenchMeta;
  streaming?: StreamingResult;
  fanout?: FanoutResult;
  coldStart?: ColdStartResult;
  concurrency?: ConcurrencyResult;
  program?: ProgramResult;
  firstToken?: FirstTokenResult;
  caching?: CachingResult;
}

/** The share of all cores' time (%) not idle over `ms`. */
export async function cpuBusyPercent(ms = 1000): Promise<number> {
  const times = () => os.cpus().reduce((sum, cpu) => ({ idle: sum.idle + cpu.times.idle, total: sum.total + Object.values(cpu.times).reduce((a, b) => a + b, 0) }), { idle: 0, total: 0 });
  const before = times();
  await sleep(ms);
  const after = times();
  const total = after.total - before.total;
  return total > 0 ? round((100 * (total - (after.idle - before.idle))) / total) : 0;
}

export function machine(): BenchMachine {
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

/** Every run or session whose client did not receive exactly the generated text, described; empty when none. */
export function losses(results: BenchResults): string[] {
  const found: string[] = [];
  for (const c of results.streaming?.cases ?? []) {
    const bad = c.runs - c.intact + c.failures.length;
    if (bad > 0) found.push(`streaming ${c.case} ${c.rate}/s ${c.latencyMs} ms: ${bad} run(s)`);
  }
  for (const c of results.fanout?.cases ?? []) {
    if (c.intact < c.runs) found.push(`fan-out ${c.algorithm} ×${c.connections}: ${c.runs - c.intact} run(s)`);
  }
  for (const c of results.concurrency?.cases ?? []) {
    if (c.lostSessions > 0) found.push(`concurrency ${c.mode} ${c.sessions}: ${c.lostSessions} session(s)`);
  }
  for (const p of results.streaming?.curve ?? []) {
    if (p.intact < p.runs) found.push(`frame budget curve ${p.format} ${p.intervalMs} ms at ${p.rate}/s: ${p.runs - p.intact} run(s)`);
  }
  for (const c of results.firstToken?.cases ?? []) {
    if (c.intact < c.runs) found.push(`first token ${c.door}: ${c.runs - c.intact} run(s)`);
  }
  return found;
}

/** The ratios the README quotes, from whatever the results hold. */
export function keyFigures(results: BenchResults): string[] {
  const lines: string[] = [];
  const { streaming, coldStart, concurrency, fanout, firstToken } = results;
  if (streaming) {
    const at = (c: string, rate: number, latency: number) => streaming.cases.find((x) => x.case === c && x.rate === rate && x.latencyMs === latency);
    for (const rate of streaming.options.rates) {
      for (const latency of streaming.options.latenciesMs) {
        const naive = at("naive", rate, latency);
        const ours = at("ours", rate, latency);
        if (!naive?.postsPerAnswer || !ours?.postsPerAnswer || !naive.lastLagMs || !ours.lastLagMs) continue;
        const display = (c: typeof naive) => (c.display ? `${fmt(c.display.lagP50Ms.p50)} / ${fmt(c.display.lagMaxMs.max)} ms, ${fmt(c.display.unshownChars.p50, 0)} char(s) unshown` : "–");
        lines.push(
          `${rate} deltas/s, ${latency} ms per post, naive vs ours: PostToConnection calls per answer ${fmt(naive.postsPerAnswer.p50, 0)} vs ${fmt(ours.postsPerAnswer.p50, 0)} ` +
            `(capacity ${fmt(naive.postsPerAnswer.p50 / ours.postsPerAnswer.p50, 1)}× naive: ${fmt(naive.capacity?.answersPerSecond, 0)} vs ${fmt(ours.capacity?.answersPerSecond, 0)} answers/s per account); ` +
            `last-delta lag p50 ${fmt(naive.lastLagMs.p50)} ms vs ${fmt(ours.lastLagMs.p50)} ms; added TTFT p50 ${fmt(naive.addedTtftMs!.p50)} ms vs ${fmt(ours.addedTtftMs!.p50)} ms; ` +
            `Lex Web UI display lag p50 / max ${display(naive)} vs ${display(ours)}.`,
        );
      }
    }
  }
  if (streaming) {
    for (const rate of streaming.options.rates) {
      const sse = streaming.cases.filter((c) => c.case === "sse" && c.rate === rate && c.addedTtftMs && c.lastLagMs);
      if (sse.length === 0) continue;
      const ours = (c: (typeof sse)[number]) => streaming.cases.find((x) => x.case === "ours" && x.rate === rate && x.latencyMs === c.latencyMs);
      const range = (values: (number | undefined)[], digits?: number) => {
        const known = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
        if (known.length === 0) return "–";
        const [low, high] = [Math.min(...known), Math.max(...known)];
        return low === high ? fmt(low, digits) : `${fmt(low, digits)}–${fmt(high, digits)}`;
      };
      const dollars = (values: (number | undefined)[]) => range(values, 3);
      lines.push(
        `SSE (function URL) at ${rate} deltas/s, over the floor, p50 in the ${sse.map((c) => `${c.latencyMs} ms`).join(" / ")} groups: added TTFT ${sse.map((c) => fmt(c.addedTtftMs!.p50)).join(" / ")} ms ` +
          `(WebSocket ours ${sse.map((c) => fmt(ours(c)?.addedTtftMs?.p50)).join(" / ")} ms); last-delta lag ${sse.map((c) => fmt(c.lastLagMs!.p50)).join(" / ")} ms ` +
          `(ours ${sse.map((c) => fmt(ours(c)?.lastLagMs?.p50)).join(" / ")} ms); PostToConnection ${range(sse.map((c) => c.postsPerAnswer?.max), 0)} vs ours ${range(sse.map((c) => ours(c)?.postsPerAnswer?.p50), 0)}; ` +
          `${fmt(sse[0].invocationsPerAnswer, 0)} Lambda invocation vs 2 for an \`ask\`; ${range(sse.map((c) => (c.responseBytes ? c.responseBytes.p50 / 1024 : undefined)))} KB streamed per answer; ` +
          `$${dollars(sse.map((c) => c.costPerThousand?.total))} vs $${dollars(sse.map((c) => ours(c)?.costPerThousand?.total))} per 1,000 answers (Bedrock excluded).`,
      );
    }
  }
  if (fanout) {
    const biggest = Math.max(...fanout.cases.map((c) => c.connections));
    const ours = fanout.cases.find((c) => c.connections === biggest && c.algorithm === "ours");
    const naive = fanout.cases.find((c) => c.connections === biggest && c.algorithm === "naive");
    if (ours && naive) {
      lines.push(
        `Fan-out to ${biggest} connections: completion ${fmt(naive.completionMs, 0)} ms naive vs ${fmt(ours.completionMs, 0)} ms ours; ` +
          `${fmt(naive.postsPerAnswer, 0)} vs ${fmt(ours.postsPerAnswer, 0)} posts.`,
      );
    }
  }
  if (coldStart) {
    for (const ours of coldStart.bundles.filter((b) => b.variant === "ours")) {
      const naive = coldStart.bundles.find((b) => b.function === ours.function && b.variant === "naive");
      if (!naive) continue;
      lines.push(
        `${ours.function} bundle: init ${fmt(ours.initMs)} ms vs ${fmt(naive.initMs)} ms naive (${fmt(ours.initMs / naive.initMs, 2)}× naive), ` +
          `init CPU ${fmt(ours.initCpuMs)} vs ${fmt(naive.initCpuMs)} ms (${fmt(ours.initCpuMs / naive.initCpuMs, 2)}×), ` +
          `init + first request ${fmt(ours.initMs + ours.firstRequestMs)} vs ${fmt(naive.initMs + naive.firstRequestMs)} ms (${fmt((ours.initMs + ours.firstRequestMs) / (naive.initMs + naive.firstRequestMs), 2)}×); ` +
          `${fmt(ours.bytes / 1024, 0)} KB vs ${fmt(naive.bytes / 1024, 0)} KB.`,
      );
    }
  }
  if (concurrency) {
    lines.push(
      `Concurrency: ${concurrency.cases.map((c) => `${c.mode} ${c.sessions} sessions ${fmt(c.framesPerSecond, 0)} frames/s, delivery p99 ${fmt(c.deliveryMs.p99, 0)} ms`).join("; ")}.`,
    );
  }
  if (firstToken) {
    const added = (door: string) => firstToken.cases.find((c) => c.door === door)?.addedTtftMs;
    lines.push(
      `First token added over the floor, p50 / p95: Lex door ${fmt(added("lex")?.p50)} / ${fmt(added("lex")?.p95)} ms, WebSocket ask (route + hand-off + job) ${fmt(added("ask")?.p50)} / ${fmt(added("ask")?.p95)} ms` +
        (added("sse") ? `, SSE (function URL) ${fmt(added("sse")?.p50)} / ${fmt(added("sse")?.p95)} ms.` : "."),
    );
  }
  const lost = losses(results);
  lines.push(lost.length === 0 ? "Frames lost: none (every client's text checked)." : `**FRAMES LOST: ${lost.join("; ")}.**`);
  return lines;
}

export function renderResults(results: BenchResults): string {
  const m = results.meta;
  const total = Object.values(m.seconds).reduce((sum, s) => sum + s, 0);
  const sections = [
    results.streaming && renderStreaming(results.streaming),
    results.fanout && renderFanout(results.fanout),
    results.coldStart && renderColdStart(results.coldStart),
    results.concurrency && renderConcurrency(results.concurrency),
    results.program && renderProgram(results.program),
    results.firstToken && renderFirstToken(results.firstToken),
    results.caching && renderCaching(results.caching),
  ].filter((s): s is string => Boolean(s));
  return [
    `# Benchmark results`,
    ``,
    `Produced by \`npm run bench\` (bench/run.ts) on ${describeRuns(m, { platform: true })}. ` +
      `Everything runs on loopback against the local emulators; latency where AWS has it is injected. Bench time: ${Object.entries(m.seconds)
        .map(([name, s]) => `${name} ${fmt(s, 0)} s`)
        .join(", ")} (${fmt(total, 0)} s in all). CPU busy in the second before each benchmark: ${Object.entries(m.cpuBusyBeforePercent)
        .map(([name, busy]) => `${name} ${fmt(busy, 0)} %`)
        .join(", ")}` +
      (Object.values(m.cpuBusyBeforePercent).some((busy) => busy > 10) ? ` (**other work was running on the machine: those figures are skewed**).` : ` (the machine was otherwise idle).`),
    ``,
    `## Key figures`,
    ``,
    ...keyFigures(results).map((line) => `- ${line}`),
    ``,
    `## Tables`,
    ``,
    sections.join("\n\n"),
    ``,
  ].join("\n");
}
