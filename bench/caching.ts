/**
 * Benchmark 7, the cached second question: a session asks twice over a prompt prefix long
 * enough to cache (a system prompt of ~2,500 tokens, past Claude 3.5 Haiku's 2,048 minimum);
 * the second question's time to first token is measured with prompt caching `off` and `auto`,
 * each on a local stack of its own (the real handlers, the Bedrock emulator), sessions alternating.
 * The usage columns prove the cache was written by the first question and read by the second.
 *
 * The emulator does not model a latency effect of caching: Bedrock documents that caching
 * lowers latency but gives no figure to model, so here both cases wait the same first-token
 * delay, and any difference is noise. The real saving needs `npm start -- --bedrock aws`.
 * The long system prompt is set in the handler environment directly: a deployed system prompt
 * must fit Lambda's 4 KB of environment, so deployed, the conversation's checkpoints are the
 * ones that reach a model's minimum.
 */
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import * as path from "node:path";
import { startLocalStack, type LocalStack } from "../local/stack";
import { ENV } from "../functions/shared/env";
import type { PromptCachingMode } from "../functions/fulfillment/prompt-caching";
import { benchDeltas } from "./answer";
import { epochNow, QUIET_ENV, startWorker } from "./ipc";
import type { FirstTokenOptions } from "./firsttoken";
import { fmt, summarize, table, type Summary } from "./stats";

/** The model's pace and the sessions per case, as the first-token benchmark takes them. */
export type CachingOptions = FirstTokenOptions;

export const CACHING_DEFAULTS: CachingOptions = { deltas: 20, rate: 150, firstTokenDelayMs: 300, runs: 10 };
export const CACHING_QUICK: CachingOptions = { deltas: 5, rate: 150, firstTokenDelayMs: 20, runs: 1 };

/** ~2,500 emulator tokens (four characters each). */
export const BENCH_SYSTEM_PROMPT = "You answer questions about QnABot from its FAQ and say when you do not know. ".repeat(130);

export interface CachingCase {
  promptCaching: "off" | "auto";
  runs: number;
  /** The second question's time from the ask frame sent to its first delta, ms. */
  ttftMs: Summary;
  /** Each question's cache reads and writes, medians of the runs. */
  first: CacheCounts;
  second: CacheCounts;
}

export interface CacheCounts {
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
}

export interface CachingResult {
  options: CachingOptions;
  /** Always false: the emulator's first token is as late with a cache hit as without (see above). */
  latencyModelled: false;
  cases: CachingCase[];
}

export interface Asked {
  ttft: number;
  usage: { cacheReadInputTokens?: number; cacheWriteInputTokens?: number };
}

/** Asks one question over the session's socket; resolves with its first-delta time and end.usage. */
function ask(ws: WebSocket, question: string): Promise<Asked> {
  const requestId = randomUUID();
  return new Promise((resolve, reject) => {
    let first: number | undefined;
    const startedAt = epochNow();
    const onMessage = (data: Buffer) => {
      const envelope = JSON.parse(data.toString("utf8")) as { type: string; requestId?: string; usage?: Asked["usage"]; code?: string };
      if (envelope.requestId !== undefined && envelope.requestId !== requestId) return;
      if (envelope.type === "delta") first ??= epochNow();
      if (envelope.type === "error") reject(new Error(`caching bench: ${envelope.code}`));
      if (envelope.type !== "end") return;
      ws.off("message", onMessage);
      if (first === undefined) reject(new Error("caching bench: nothing streamed"));
      else resolve({ ttft: first - startedAt, usage: envelope.usage ?? {} });
    };
    ws.on("message", onMessage);
    ws.send(JSON.stringify({ action: "ask", requestId, question, mode: "llm" }));
  });
}

export interface SessionSample {
  first: Asked;
  second: Asked;
}

/** A fresh session asks its two questions. */
export async function session(stack: LocalStack): Promise<SessionSample> {
  const ws = new WebSocket(await stack.presign(`bench-cache-${randomUUID()}`, { format: "json" }), { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject));
  try {
    const first = await ask(ws, "How do answers stream?");
    const second = await ask(ws, "And how are they resumed?");
    return { first, second };
  } finally {
    ws.close();
  }
}

function median(values: readonly number[]): number {
  return summarize(values).p50;
}

type Mode = Extract<PromptCachingMode, "off" | "auto">;

/**
 * Each mode's stack runs in a process of its own (bench/caching-worker.ts: the handlers read
 * the process environment, and log as quietly as the other benchmarks'), sessions alternating
 * between the two so load on the machine falls on both alike.
 */
export async function runCaching(options: CachingOptions = CACHING_DEFAULTS, log: (line: string) => void = () => undefined): Promise<CachingResult> {
  const modes: readonly Mode[] = ["off", "auto"];
  log(`cached second question: prompt caching off vs auto, ${options.runs} sessions each, alternating`);
  const workers = await Promise.all(modes.map(() => startWorker<typeof import("./caching-worker").methods>(path.join(__dirname, "caching-worker.ts"))));
  const samples: Record<Mode, SessionSample[]> = { off: [], auto: [] };
  try {
    await Promise.all(modes.map((mode, i) => workers[i].call("start", { options, mode })));
    for (let run = 0; run < options.runs; run++) {
      for (const [i, mode] of modes.entries()) samples[mode].push(await workers[i].call("session"));
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.close()));
  }
  const usage = (mode: Mode, question: "first" | "second"): CacheCounts => ({
    cacheReadInputTokens: median(samples[mode].map((s) => s[question].usage.cacheReadInputTokens ?? 0)),
    cacheWriteInputTokens: median(samples[mode].map((s) => s[question].usage.cacheWriteInputTokens ?? 0)),
  });
  return {
    options,
    latencyModelled: false,
    cases: modes.map((mode) => ({
      promptCaching: mode,
      runs: samples[mode].length,
      ttftMs: summarize(samples[mode].map((s) => s.second.ttft)),
      first: usage(mode, "first"),
      second: usage(mode, "second"),
    })),
  };
}

/** One mode's local stack, in the calling process, warmed up by one session so no figure carries the handlers' first SDK calls. */
export async function startCachingStack(options: CachingOptions, mode: Mode): Promise<LocalStack> {
  const stack = await startLocalStack({
    page: false,
    promptCaching: mode,
    bedrockBehavior: { deltas: benchDeltas(options.deltas), deltasPerSecond: options.rate, firstTokenDelayMs: options.firstTokenDelayMs },
    env: { ...QUIET_ENV, [ENV.systemPrompt]: BENCH_SYSTEM_PROMPT },
  });
  await session(stack);
  return stack;
}

export function renderCaching(result: CachingResult): string {
  const o = result.options;
  const rows = result.cases.map((c) => [
    c.promptCaching,
    String(c.runs),
    `${fmt(c.ttftMs.p50)} / ${fmt(c.ttftMs.p95)}`,
    `${c.first.cacheReadInputTokens} / ${c.first.cacheWriteInputTokens}`,
    `${c.second.cacheReadInputTokens} / ${c.second.cacheWriteInputTokens}`,
  ]);
  return [
    `### 7. Cached second question`,
    ``,
    `Through the local stack on the Bedrock emulator, ${o.runs} sessions per case, each asking two questions over a ~2,500-token system prompt (${o.deltas} deltas at ${o.rate}/s, time to first token ${o.firstTokenDelayMs} ms). ` +
      `TTFT = the second question's ask frame sent to its first delta, p50 / p95 in ms; the token columns are medians of Bedrock's cache reads / writes as the client got them in \`end.usage\` (the system prompt is the same in every session, so after the warm-up session wrote it, first questions read it too). ` +
      `**The emulator does not model caching's latency effect** (Bedrock documents none to model): the two TTFT rows wait the same emulated first-token delay, so they show only that caching costs the stack nothing. The real saving needs \`npm start -- --bedrock aws\` and has not been measured here.`,
    ``,
    table(["promptCaching", "runs", "2nd TTFT p50/p95", "1st read / write", "2nd read / write"], rows),
  ].join("\n");
}
