/**
 * Benchmark 3, cold start: each Lambda bundle as the stack deploys it (components/bundle.ts:
 * ES module builds of the dependencies, tree-shaken, minified) beside a naive bundle of the
 * same handler (esbuild's defaults with CommonJS entry points, `mainFields: ["main"]`, no
 * minification). Sizes raw and gzipped; module init = the time a fresh `node` process takes
 * to `require` the bundle, as Lambda's init phase does, median over runs interleaved so
 * both variants see the same machine.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { buildBundle, FUNCTION_ENTRIES, functionEntry, packageRoot, type FunctionName } from "../components/bundle";
import { fmt, fmtBytes, median, percentile, round, table } from "./stats";

const run = promisify(execFile);

export interface ColdStartOptions {
  readonly functions: readonly FunctionName[];
  /** Fresh processes per bundle. */
  readonly runs: number;
}

export const COLD_START_DEFAULTS: ColdStartOptions = { functions: Object.keys(FUNCTION_ENTRIES) as FunctionName[], runs: 15 };
export const COLD_START_QUICK: ColdStartOptions = { functions: ["connection"], runs: 1 };

export type BundleVariant = "ours" | "naive";

export interface BundleResult {
  function: FunctionName;
  variant: BundleVariant;
  bytes: number;
  gzipBytes: number;
  /** Median ms to require the bundle in a fresh process. */
  initMs: number;
  initP95Ms: number;
  /** Median ms of the whole process (node start, require, exit). */
  processMs: number;
  runs: number;
}

export interface ColdStartResult {
  options: ColdStartOptions;
  bundles: BundleResult[];
}

/** The naive bundle: esbuild's defaults for a Node bundle, CommonJS entry points, nothing minified. */
export async function naiveBundle(entry: string): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: packageRoot(path.dirname(entry)),
    bundle: true,
    write: false,
    platform: "node",
    format: "cjs",
    mainFields: ["main"],
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

/** A Lambda-like environment: what the runtime and the stack set, nothing from this shell. */
function lambdaEnv(name: FunctionName): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    AWS_REGION: "us-east-1",
    AWS_LAMBDA_FUNCTION_NAME: `qnabot-streaming-${name}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512",
    CONNECTIONS_TABLE: "connections",
    STREAMING_ENDPOINT: "https://abc123.execute-api.us-east-1.amazonaws.com/Prod",
    MEMORY_TABLE: "memory",
    LLM_MODEL_ID: "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
}

const PROBE = `const t0 = process.hrtime.bigint(); require(process.argv[1]); process.stdout.write(String(Number(process.hrtime.bigint() - t0) / 1e6));`;

async function initOnce(file: string, env: NodeJS.ProcessEnv): Promise<{ initMs: number; processMs: number }> {
  const started = performance.now();
  const { stdout } = await run(process.execPath, ["-e", PROBE, file], { env });
  return { initMs: Number(stdout), processMs: performance.now() - started };
}

export async function runColdStart(options: ColdStartOptions = COLD_START_DEFAULTS, log: (line: string) => void = () => undefined): Promise<ColdStartResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qnabot-bench-bundles-"));
  try {
    const variants: { fn: FunctionName; variant: BundleVariant; file: string; bytes: number; gzipBytes: number }[] = [];
    for (const fn of options.functions) {
      const entry = functionEntry(fn);
      for (const [variant, code] of [
        ["ours", await buildBundle(entry)],
        ["naive", await naiveBundle(entry)],
      ] as const) {
        const file = path.join(dir, `${fn}-${variant}`, "index.js");
        fs.mkdirSync(path.dirname(file));
        fs.writeFileSync(file, code);
        variants.push({ fn, variant, file, bytes: Buffer.byteLength(code), gzipBytes: gzipSync(code).length });
      }
    }
    log(`cold start: ${variants.length} bundles, ${options.runs} fresh processes each`);
    const samples = variants.map(() => ({ init: [] as number[], process: [] as number[] }));
    for (let i = 0; i < options.runs; i++) {
      for (const [k, v] of variants.entries()) {
        const sample = await initOnce(v.file, lambdaEnv(v.fn));
        samples[k].init.push(sample.initMs);
        samples[k].process.push(sample.processMs);
      }
    }
    return {
      options,
      bundles: variants.map((v, k) => ({
        function: v.fn,
        variant: v.variant,
        bytes: v.bytes,
        gzipBytes: v.gzipBytes,
        initMs: round(median(samples[k].init)),
        initP95Ms: round(percentile(samples[k].init, 95)),
        processMs: round(median(samples[k].process)),
        runs: samples[k].init.length,
      })),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function renderColdStart(result: ColdStartResult): string {
  const rows = result.bundles.map((b) => {
    const naive = result.bundles.find((o) => o.function === b.function && o.variant === "naive")!;
    return [
      b.function,
      b.variant,
      fmtBytes(b.bytes),
      fmtBytes(b.gzipBytes),
      `${fmt(b.initMs)} / ${fmt(b.initP95Ms)}`,
      fmt(b.processMs),
      b.variant === "ours" ? `${fmt(naive.initMs / b.initMs, 2)}× faster, ${fmt(naive.bytes / b.bytes, 1)}× smaller` : "",
    ];
  });
  return [
    `### 3. Cold start`,
    ``,
    `Module init = \`require()\` of the bundle in a fresh \`node\` ${process.version} process (p50 / p95 of ${result.options.runs} runs, ms); process = the whole process from spawn to exit (p50, ms). ` +
      `Naive = esbuild defaults for Node with CommonJS entry points (\`mainFields: ["main"]\`), not minified. Lambda's own runtime (nodejs22.x, arm64) is not measured here.`,
    ``,
    table(["function", "bundle", "size", "gzip", "init p50/p95", "process", "vs naive"], rows),
  ].join("\n");
}
