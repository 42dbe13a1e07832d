/**
 * `npm run bench`: runs the benchmarks, prints their tables and writes bench/RESULTS.md and
 * bench/results.json. Benchmarks never fail on timing: the exit code is 0 unless one crashes;
 * a lost frame is reported loudly in the output.
 *
 *   npm run bench -- [--only streaming,fanout,coldstart,concurrency,program,firsttoken,caching] [--quick]
 *
 * `--only` reruns some benchmarks and merges them into the existing results; `--quick` runs
 * each in its smallest configuration (a smoke check) and writes nothing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { COLD_START_DEFAULTS, COLD_START_QUICK, runColdStart } from "./coldstart";
import { CACHING_DEFAULTS, CACHING_QUICK, runCaching } from "./caching";
import { CONCURRENCY_DEFAULTS, CONCURRENCY_QUICK, runConcurrency } from "./concurrency";
import { FANOUT_DEFAULTS, FANOUT_QUICK, runFanout } from "./fanout";
import { FIRST_TOKEN_DEFAULTS, FIRST_TOKEN_QUICK, runFirstToken } from "./firsttoken";
import { QUIET_ENV } from "./ipc";
import { PROGRAM_DEFAULTS, PROGRAM_QUICK, runProgram } from "./program";
import { cpuBusyPercent, losses, machine, renderResults, type BenchMachine, type BenchMeta, type BenchResults } from "./report";
import { STREAMING_DEFAULTS, STREAMING_QUICK, runStreaming } from "./streaming";

type Log = (line: string) => void;

/** Each benchmark by its command-line name: how to run it, full or quick, and where its result goes. */
const BENCHMARKS = {
  streaming: { key: "streaming", run: (quick: boolean, log: Log) => runStreaming(quick ? STREAMING_QUICK : STREAMING_DEFAULTS, log) },
  fanout: { key: "fanout", run: (quick: boolean, log: Log) => runFanout(quick ? FANOUT_QUICK : FANOUT_DEFAULTS, log) },
  coldstart: { key: "coldStart", run: (quick: boolean, log: Log) => runColdStart(quick ? COLD_START_QUICK : COLD_START_DEFAULTS, log) },
  concurrency: { key: "concurrency", run: (quick: boolean, log: Log) => runConcurrency(quick ? CONCURRENCY_QUICK : CONCURRENCY_DEFAULTS, log) },
  program: { key: "program", run: (quick: boolean, log: Log) => runProgram(quick ? PROGRAM_QUICK : PROGRAM_DEFAULTS, log) },
  firsttoken: { key: "firstToken", run: (quick: boolean, log: Log) => runFirstToken(quick ? FIRST_TOKEN_QUICK : FIRST_TOKEN_DEFAULTS, log) },
  caching: { key: "caching", run: (quick: boolean, log: Log) => runCaching(quick ? CACHING_QUICK : CACHING_DEFAULTS, log) },
} as const satisfies Record<string, { key: keyof BenchResults; run: (quick: boolean, log: Log) => Promise<unknown> }>;

export type BenchmarkName = keyof typeof BENCHMARKS;

const USAGE = `usage: npm run bench -- [--only ${Object.keys(BENCHMARKS).join(",")}] [--quick]`;
const RESULTS_JSON = path.join(__dirname, "results.json");
const RESULTS_MD = path.join(__dirname, "RESULTS.md");

export function parseBenchArgs(argv: readonly string[]): { only: BenchmarkName[]; quick: boolean } {
  const { values } = parseArgs({ args: [...argv], options: { only: { type: "string" }, quick: { type: "boolean", default: false } }, strict: true });
  const names = values.only ? values.only.split(",").map((s) => s.trim()).filter(Boolean) : Object.keys(BENCHMARKS);
  const unknown = names.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0 || names.length === 0) throw new Error(`unknown benchmark ${unknown.join(", ")}\n${USAGE}`);
  return { only: names as BenchmarkName[], quick: values.quick ?? false };
}

function readPrevious(): BenchResults | undefined {
  try {
    return JSON.parse(fs.readFileSync(RESULTS_JSON, "utf8")) as BenchResults;
  } catch {
    return undefined;
  }
}

function machineOf({ date, node, platform, cpu, cores, memoryGiB }: BenchMeta): BenchMachine {
  return { date, node, platform, cpu, cores, memoryGiB };
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  for (const [name, value] of Object.entries(QUIET_ENV)) process.env[name] ??= value;
  const started = performance.now();
  const log: Log = (line) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const partial = args.only.length < Object.keys(BENCHMARKS).length;
  const previous = partial && !args.quick ? readPrevious() : undefined;
  const results: BenchResults = {
    ...previous,
    meta: {
      ...machine(),
      seconds: { ...previous?.meta.seconds },
      cpuBusyBeforePercent: { ...previous?.meta.cpuBusyBeforePercent },
      // The benchmarks kept from the previous results keep the day and machine they ran on.
      runs: Object.fromEntries(Object.keys(previous?.meta.seconds ?? {}).map((name) => [name, previous!.meta.runs?.[name] ?? machineOf(previous!.meta)])),
    },
  };
  for (const name of args.only) {
    const benchmark = BENCHMARKS[name];
    const busy = await cpuBusyPercent();
    results.meta.cpuBusyBeforePercent[name] = busy;
    if (busy > 10) log(`!! ${busy} % of the CPU was busy before ${name}: other work on this machine will skew its figures`);
    const t0 = performance.now();
    log(`${name}${args.quick ? " (quick)" : ""}`);
    Object.assign(results, { [benchmark.key]: await benchmark.run(args.quick, log) });
    results.meta.seconds[name] = Math.round((performance.now() - t0) / 1000);
    results.meta.runs![name] = machineOf(results.meta);
  }
  const markdown = renderResults(results);
  process.stdout.write(`\n${markdown}`);
  if (args.quick) {
    log("quick run: nothing written");
  } else {
    fs.writeFileSync(RESULTS_JSON, `${JSON.stringify(results, null, 2)}\n`);
    fs.writeFileSync(RESULTS_MD, markdown);
    log(`wrote ${path.relative(process.cwd(), RESULTS_MD)} and ${path.relative(process.cwd(), RESULTS_JSON)}`);
  }
  const lost = losses(results);
  if (lost.length > 0) log(`!! FRAMES LOST (a bug): ${lost.join("; ")}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
