/**
 * Benchmark 2, fan-out: one session open in 1, 5 and 20 tabs, the same long answer streamed
 * to all of them. Completion = from the invocation start to the moment the last tab holds
 * the whole answer. Ours posts to every connection concurrently, one post in flight each;
 * the naive reference (QnABot has one connection per session) posts each delta to every
 * connection and awaits them all before the next delta.
 */
import { randomUUID } from "node:crypto";
import { benchDeltas } from "./answer";
import type { Algorithm } from "./producer";
import { openReceiver, type Receiver } from "./receiver";
import { startRig, type Rig } from "./rig";
import { fmt, median, round, table } from "./stats";

export interface FanoutOptions {
  readonly deltas: number;
  readonly rate: number;
  readonly latencyMs: number;
  readonly connections: readonly number[];
  /** Runs per connection count: ours, then the naive reference. */
  readonly runs: { readonly ours: number; readonly naive: number };
  readonly firstTokenDelayMs: number;
}

export const FANOUT_DEFAULTS: FanoutOptions = {
  deltas: 400,
  rate: 150,
  latencyMs: 15,
  connections: [1, 5, 20],
  runs: { ours: 3, naive: 1 },
  firstTokenDelayMs: 100,
};

export const FANOUT_QUICK: FanoutOptions = {
  deltas: 20,
  rate: 150,
  latencyMs: 15,
  connections: [1, 3],
  runs: { ours: 1, naive: 1 },
  firstTokenDelayMs: 20,
};

export interface FanoutCaseResult {
  connections: number;
  algorithm: Algorithm;
  runs: number;
  /** Median over runs, ms. */
  completionMs: number;
  /** Median over runs, ms: the first tab's first delta. */
  firstDeltaMs: number;
  /** Median over runs. */
  postsPerAnswer: number;
  /** Runs in which every tab received exactly the generated text. */
  intact: number;
}

export interface FanoutResult {
  options: FanoutOptions;
  cases: FanoutCaseResult[];
}

async function fanoutRun(rig: Rig, algorithm: Algorithm, connections: number, expected: string) {
  const sessionId = `bench-fanout-${randomUUID()}`;
  const receivers: Receiver[] = [];
  try {
    for (let i = 0; i < connections; i++) {
      receivers.push(await openReceiver({ url: await rig.presign(sessionId), expected, format: "text" }));
    }
    const produced = await rig.producers[algorithm].call("answer", { sessionId, requestId: randomUUID() });
    const received = await Promise.all(receivers.map((r) => r.done));
    const complete = received.every((r) => r.doneAt !== undefined);
    return {
      completion: complete ? Math.max(...received.map((r) => r.doneAt!)) - produced.startedAt : Number.NaN,
      firstDelta: Math.min(...received.map((r) => r.firstAt ?? Number.POSITIVE_INFINITY)) - produced.startedAt,
      posts: produced.posts,
      intact: complete && received.every((r) => r.intact) && produced.connections === connections,
    };
  } finally {
    await Promise.all(receivers.map((r) => r.close()));
  }
}

export async function runFanout(options: FanoutOptions = FANOUT_DEFAULTS, log: (line: string) => void = () => undefined): Promise<FanoutResult> {
  const deltas = benchDeltas(options.deltas);
  const expected = deltas.join("");
  const rig = await startRig({ deltas, deltasPerSecond: options.rate, firstTokenDelayMs: options.firstTokenDelayMs });
  const cases: FanoutCaseResult[] = [];
  try {
    await rig.aws.call("setLatency", options.latencyMs);
    for (const connections of options.connections) {
      for (const algorithm of ["ours", "naive"] as const) {
        log(`fan-out: ${connections} connection(s), ${algorithm}, ${options.runs[algorithm]} run(s)`);
        const runs = [];
        for (let i = 0; i < options.runs[algorithm]; i++) {
          runs.push(await fanoutRun(rig, algorithm, connections, expected));
          await rig.aws.call("idle");
        }
        const intact = runs.filter((r) => r.intact).length;
        if (intact < runs.length) log(`  !! fan-out ${algorithm} ×${connections}: ${runs.length - intact} run(s) lost or garbled text`);
        cases.push({
          connections,
          algorithm,
          runs: runs.length,
          completionMs: round(median(runs.map((r) => r.completion))),
          firstDeltaMs: round(median(runs.map((r) => r.firstDelta))),
          postsPerAnswer: median(runs.map((r) => r.posts)),
          intact,
        });
      }
    }
  } finally {
    await rig.close();
  }
  return { options, cases };
}

export function renderFanout(result: FanoutResult): string {
  const o = result.options;
  return [
    `### 2. Fan-out`,
    ``,
    `One session, ${o.deltas} deltas at ${o.rate}/s, ${o.latencyMs} ms per post; runs: ours ${o.runs.ours}, naive ${o.runs.naive} per connection count (medians). ` +
      `Completion = invocation start to the last tab holding the whole answer; the model alone takes about ${fmt(o.firstTokenDelayMs + ((o.deltas - 1) * 1000) / o.rate, 0)} ms.`,
    ``,
    table(
      ["connections", "algorithm", "runs", "first delta (ms)", "completion (ms)", "posts per answer", "intact"],
      result.cases.map((c) => [String(c.connections), c.algorithm, String(c.runs), fmt(c.firstDeltaMs), fmt(c.completionMs), fmt(c.postsPerAnswer, 0), `${c.intact}/${c.runs}`]),
    ),
  ].join("\n");
}
