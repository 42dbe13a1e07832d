/**
 * Benchmark 5, the Pulumi program under mocks, streaming off and on: resources registered and
 * wall time. Each setting gets a fresh process; its first run includes bundling the Lambda
 * functions (esbuild, inline), its later runs reuse the process's bundles, as a second
 * component instance in one program would.
 */
import * as path from "node:path";
import { startWorker } from "./ipc";
import type { methods as ProgramMethods, ProgramRun } from "./program-worker";
import { fmt, median, round, table } from "./stats";

export interface ProgramOptions {
  readonly settings: readonly boolean[];
  /** Program runs per process after the first. */
  readonly warmRuns: number;
}

export const PROGRAM_DEFAULTS: ProgramOptions = { settings: [false, true], warmRuns: 5 };
export const PROGRAM_QUICK: ProgramOptions = { settings: [false], warmRuns: 1 };

export interface ProgramResult {
  options: ProgramOptions;
  runs: { streaming: boolean; resources: number; awsResources: number; components: number; loadMs: number; firstRunMs: number; warmRunMs: number }[];
}

/**
 * What a program run registered: every resource but explicit provider instances (neither AWS
 * resources nor components), AWS resources through either provider (the Lex bot is
 * aws-native's), and this package's components.
 */
export function countRegistered(resources: readonly { type: string }[]): { resources: number; awsResources: number; components: number } {
  return {
    resources: resources.filter((r) => !r.type.startsWith("pulumi:providers:")).length,
    awsResources: resources.filter((r) => r.type.startsWith("aws:") || r.type.startsWith("aws-native:")).length,
    components: resources.filter((r) => r.type.startsWith("qnabot-streaming:")).length,
  };
}

export async function runProgram(options: ProgramOptions = PROGRAM_DEFAULTS, log: (line: string) => void = () => undefined): Promise<ProgramResult> {
  const runs: ProgramResult["runs"] = [];
  for (const streaming of options.settings) {
    log(`program: streaming ${streaming ? "on" : "off"}, 1 + ${options.warmRuns} runs`);
    const forkedAt = performance.now();
    const worker = await startWorker<typeof ProgramMethods>(path.join(__dirname, "program-worker.ts"));
    const loadMs = performance.now() - forkedAt;
    try {
      const first: ProgramRun = await worker.call("run", { streaming });
      const warm: number[] = [];
      for (let i = 0; i < options.warmRuns; i++) {
        const again = await worker.call("run", { streaming });
        if (again.resources !== first.resources) throw new Error(`the program registered ${again.resources} resources, then ${first.resources}`);
        warm.push(again.wallMs);
      }
      runs.push({
        streaming,
        resources: first.resources,
        awsResources: first.awsResources,
        components: first.components,
        loadMs: round(loadMs),
        firstRunMs: round(first.wallMs),
        warmRunMs: round(median(warm)),
      });
    } finally {
      await worker.close();
    }
  }
  return { options, runs };
}

export function renderProgram(result: ProgramResult): string {
  return [
    `### 5. Pulumi program under mocks`,
    ``,
    `Wall time from \`createStack()\` to every registration settled (tests/infra/mocks.ts). Load = starting a fresh process and loading the program's modules (tsx, @pulumi/pulumi, @pulumi/aws); first run = the first program run in it, bundles built; warm = median of ${result.options.warmRuns} later runs in that process.`,
    ``,
    table(
      ["enableStreaming", "resources (AWS + components)", "AWS resources", "load (ms)", "first run (ms)", "warm run (ms)"],
      result.runs.map((r) => [r.streaming ? "true" : "false", String(r.resources), String(r.awsResources), fmt(r.loadMs), fmt(r.firstRunMs), fmt(r.warmRunMs)]),
    ),
  ].join("\n");
}
