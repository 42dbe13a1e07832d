/**
 * Benchmark 1, the streaming path. A long mixed-script answer streams from the Bedrock
 * emulator at a model's pace while the @connections API answers each post after an injected
 * latency. Three cases run side by side in each (pace, latency) group:
 *   floor — a process of its own reads the Bedrock stream directly: no gateway, no posts;
 *   naive — QnABot's algorithm (naive.ts) in its own process, to a real WebSocket client;
 *   ours  — the stream writer with its defaults (ours.ts) in its own process, likewise.
 * Every run starts one answer of each case at once, on the same emulator schedule and under
 * the same load. Times are taken at the receiving client against the producer's start;
 * "added" figures subtract the floor answer of the same run.
 */
import { randomUUID } from "node:crypto";
import { benchDeltas } from "./answer";
import type { Algorithm, ProducedAnswer } from "./producer";
import { openReceiver } from "./receiver";
import { startRig, type Rig } from "./rig";
import { runSlots } from "./schedule";
import { fmt, median, round, summarize, table, type Summary } from "./stats";

export interface StreamingOptions {
  /** Deltas per answer. */
  readonly deltas: number;
  /** Model paces, in deltas per second. */
  readonly rates: readonly number[];
  /** Injected @connections latencies, in ms per post. */
  readonly latenciesMs: readonly number[];
  /** Runs per case and group. */
  readonly runs: number;
  /** The model's time to first token. */
  readonly firstTokenDelayMs: number;
  /** Concurrent sessions per case in a group. */
  readonly concurrency: (rate: number, latencyMs: number) => number;
}

/**
 * Slots per case: posts cost about 1.3 ms of CPU on this machine (SDK signing, the gateway's
 * SigV4 check), so groups that post at the model's pace run fewer sessions at once; groups
 * whose posts wait on latency run more, which keeps the machine far from saturation.
 */
export const STREAMING_DEFAULTS: StreamingOptions = {
  deltas: 400,
  rates: [50, 150],
  latenciesMs: [0, 15, 40],
  runs: 20,
  firstTokenDelayMs: 100,
  concurrency: (rate, latencyMs) => (latencyMs === 0 ? (rate > 100 ? 2 : 4) : latencyMs < 30 ? 5 : 10),
};

export const STREAMING_QUICK: StreamingOptions = {
  deltas: 30,
  rates: [150],
  latenciesMs: [40],
  runs: 2,
  firstTokenDelayMs: 20,
  concurrency: () => 2,
};

export type StreamingCase = "floor" | Algorithm;

export interface RunFailure {
  index: number;
  message: string;
}

export interface StreamingCaseResult {
  rate: number;
  latencyMs: number;
  case: StreamingCase;
  runs: number;
  concurrency: number;
  /** Runs whose received text equalled the generated text exactly. */
  intact: number;
  failures: RunFailure[];
  /** From the start (invocation, or the floor's request) to the first delta at the client. */
  ttftMs: Summary;
  /** From the start to the last delta at the client. */
  lastMs: Summary;
  /** ttft minus the floor's, run by run (the floor answer started with it). */
  addedTtftMs?: Summary;
  /** last minus the floor's, run by run. */
  lastLagMs?: Summary;
  /** Producer wall time from the invocation start to the last post settled: what Lambda bills. */
  invocationMs?: Summary;
  postsPerAnswer?: Summary;
  /** Producer wall time from the first Bedrock event to the last post settled. */
  busyMs?: Summary;
  /** Producer process CPU (user + system) over the group, per answer. */
  cpuMsPerAnswer?: number;
}

export interface StreamingResult {
  options: Omit<StreamingOptions, "concurrency">;
  answerChars: number;
  answerBytes: number;
  cases: StreamingCaseResult[];
  /** Posts the gateway counted vs the producers' own counts, summed over groups. */
  postsCheck: { gateway: number; producers: number };
}

interface Sample {
  ttft: number;
  last: number;
  intact: boolean;
  posts?: number;
  busy?: number;
  invocation?: number;
  /** The floor answer of the same run. */
  floor?: Sample;
}

async function producerRun(rig: Rig, algorithm: Algorithm, expected: string): Promise<Sample> {
  const sessionId = `bench-${algorithm}-${randomUUID()}`;
  const receiver = await openReceiver({ url: await rig.presign(sessionId, "text"), expected, format: "text" });
  try {
    const produced: ProducedAnswer = await rig.producers[algorithm].call("answer", { sessionId, requestId: randomUUID() });
    const received = await receiver.done;
    if (received.firstAt === undefined || received.doneAt === undefined) throw new Error(`${algorithm}: the client did not receive the whole answer`);
    return {
      ttft: received.firstAt - produced.startedAt,
      last: received.doneAt - produced.startedAt,
      intact: received.intact && produced.text === expected,
      posts: produced.posts,
      busy: produced.settledAt - produced.firstEventAt,
      invocation: produced.settledAt - produced.startedAt,
    };
  } finally {
    await receiver.close();
  }
}

async function floorRun(rig: Rig, expected: string): Promise<Sample> {
  const answer = await rig.producers.floor.call("answer", { sessionId: "bench-floor", requestId: randomUUID() });
  return { ttft: answer.firstDeltaAt - answer.startedAt, last: answer.lastDeltaAt - answer.startedAt, intact: answer.text === expected };
}

export async function runStreaming(options: StreamingOptions = STREAMING_DEFAULTS, log: (line: string) => void = () => undefined): Promise<StreamingResult> {
  const deltas = benchDeltas(options.deltas);
  const expected = deltas.join("");
  const rig = await startRig({ deltas, deltasPerSecond: options.rates[0], firstTokenDelayMs: options.firstTokenDelayMs });
  const cases: StreamingCaseResult[] = [];
  const postsCheck = { gateway: 0, producers: 0 };
  try {
    for (const rate of options.rates) {
      await rig.aws.call("setBedrock", { deltas, deltasPerSecond: rate, firstTokenDelayMs: options.firstTokenDelayMs });
      for (const latencyMs of options.latenciesMs) {
        await rig.aws.call("setLatency", latencyMs);
        const slots = options.concurrency(rate, latencyMs);
        log(`streaming: ${rate} deltas/s, ${latencyMs} ms per post, ${options.runs} runs per case on ${slots} slots`);
        const samples: Record<StreamingCase, Sample[]> = { floor: [], naive: [], ours: [] };
        const failures: Record<StreamingCase, RunFailure[]> = { floor: [], naive: [], ours: [] };
        const before = {
          gateway: (await rig.aws.call("stats")).connectionsApi.posts,
          naive: await rig.producers.naive.call("usage"),
          ours: await rig.producers.ours.call("usage"),
        };
        // Each run starts the three cases together, so every naive and ours answer has a floor
        // answer streamed on the same schedule under the same load to be compared with.
        const stagger = Math.round(1000 / rate) * 7 + 13;
        await runSlots(options.runs, slots, stagger, async (index) => {
          const settled = await Promise.allSettled([floorRun(rig, expected), producerRun(rig, "naive", expected), producerRun(rig, "ours", expected)]);
          const floor = settled[0].status === "fulfilled" ? settled[0].value : undefined;
          (["floor", "naive", "ours"] as const).forEach((name, k) => {
            const outcome = settled[k];
            if (outcome.status === "rejected") {
              failures[name].push({ index, message: outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason) });
              return;
            }
            samples[name].push({ ...outcome.value, floor: name === "floor" ? undefined : floor });
          });
        });
        await rig.aws.call("idle");
        const gatewayPosts = (await rig.aws.call("stats")).connectionsApi.posts - before.gateway;
        const cpu = {
          naive: (await rig.producers.naive.call("usage")).cpuMs - before.naive.cpuMs,
          ours: (await rig.producers.ours.call("usage")).cpuMs - before.ours.cpuMs,
        };
        // A run whose floor answer failed is compared with the group's floor median instead.
        const floorMedian = { ttft: median(samples.floor.map((s) => s.ttft)), last: median(samples.floor.map((s) => s.last)) };
        for (const name of ["floor", "naive", "ours"] as const) {
          const list = samples[name];
          const result: StreamingCaseResult = {
            rate,
            latencyMs,
            case: name,
            runs: list.length,
            concurrency: slots,
            intact: list.filter((s) => s.intact).length,
            failures: failures[name],
            ttftMs: summarize(list.map((s) => s.ttft)),
            lastMs: summarize(list.map((s) => s.last)),
          };
          if (name !== "floor") {
            result.addedTtftMs = summarize(list.map((s) => s.ttft - (s.floor ?? floorMedian).ttft));
            result.lastLagMs = summarize(list.map((s) => s.last - (s.floor ?? floorMedian).last));
            result.invocationMs = summarize(list.map((s) => s.invocation!));
            result.postsPerAnswer = summarize(list.map((s) => s.posts!));
            result.busyMs = summarize(list.map((s) => s.busy!));
            result.cpuMsPerAnswer = list.length ? round(cpu[name] / list.length) : Number.NaN;
            postsCheck.producers += list.reduce((sum, s) => sum + s.posts!, 0);
          }
          cases.push(result);
          const lost = result.runs - result.intact + result.failures.length;
          if (lost > 0) log(`  !! ${name}: ${lost} run(s) lost or garbled text (${result.failures.map((f) => f.message).join("; ")})`);
        }
        postsCheck.gateway += gatewayPosts;
      }
    }
  } finally {
    await rig.close();
  }
  return {
    options: { deltas: options.deltas, rates: options.rates, latenciesMs: options.latenciesMs, runs: options.runs, firstTokenDelayMs: options.firstTokenDelayMs },
    answerChars: Array.from(expected).length,
    answerBytes: Buffer.byteLength(expected),
    cases,
    postsCheck,
  };
}

export function renderStreaming(result: StreamingResult): string {
  const rows = result.cases.map((c) => [
    `${c.rate}/s`,
    `${c.latencyMs} ms`,
    c.case,
    `${c.runs}×${c.concurrency}`,
    c.addedTtftMs ? `${fmt(c.addedTtftMs.p50)} / ${fmt(c.addedTtftMs.p95)}` : `(${fmt(c.ttftMs.p50)} / ${fmt(c.ttftMs.p95)})`,
    c.lastLagMs ? `${fmt(c.lastLagMs.p50)} / ${fmt(c.lastLagMs.p95)}` : `(${fmt(c.lastMs.p50)} / ${fmt(c.lastMs.p95)})`,
    c.postsPerAnswer ? fmt(c.postsPerAnswer.p50, 0) : "0",
    c.busyMs ? fmt(c.busyMs.p50, 0) : "–",
    c.cpuMsPerAnswer !== undefined ? fmt(c.cpuMsPerAnswer) : "–",
    `${c.intact}/${c.runs + c.failures.length}`,
  ]);
  const o = result.options;
  return [
    `### 1. Streaming path`,
    ``,
    `${o.deltas} deltas (${result.answerChars} characters, ${result.answerBytes} UTF-8 bytes, Latin/CJK/emoji), time to first token ${o.firstTokenDelayMs} ms. ` +
      `Runs: ${o.runs} per case and group (runs×concurrent slots; each run streams one floor, one naive and one ours answer at once). Floor rows show absolute times in parentheses (from the request); ` +
      `naive/ours rows show time added over the floor answer started with them in the same run (from the invocation start, connection lookup included), p50 / p95 in ms. ` +
      `Posts = PostToConnection calls per answer (p50); busy = producer wall time from the first Bedrock event to the last post settled (p50, ms); ` +
      `CPU = producer process CPU per answer (ms). Intact = runs whose client received exactly the generated text.`,
    ``,
    table(["pace", "post latency", "case", "runs", "added TTFT p50/p95", "last-delta lag p50/p95", "posts", "busy", "CPU", "intact"], rows),
    ``,
    `PostToConnection calls counted by the gateway: ${result.postsCheck.gateway}; by the producers: ${result.postsCheck.producers}.`,
  ].join("\n");
}
