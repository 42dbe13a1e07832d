/**
 * Benchmark 1, the streaming path. A long mixed-script answer streams from the Bedrock
 * emulator at a model's pace while the @connections API answers each post after an injected
 * latency. Four cases run side by side in each (pace, latency) group:
 *   floor — a process of its own reads the Bedrock stream directly: no gateway, no posts;
 *   naive — QnABot's algorithm (naive.ts) in its own process, to a real WebSocket client;
 *   ours  — the stream writer with its defaults (ours.ts) in its own process, likewise;
 *   sse   — a signed POST to the streaming function URL, answered as Server-Sent Events by
 *           the real handler (url-handler.ts: the whole engine, no frame budget) on the AWS
 *           side. It makes no post, so the injected latency never touches it: its rows in
 *           each latency group are the same path under that group's load.
 * Every run starts one answer of each case at once, on the same emulator schedule and under
 * the same load. Times are taken at the receiving client against the producer's start;
 * "added" figures subtract the floor answer of the same run. Per case it also reports what
 * an answer costs the account's API Gateway request rate, and what a Lex Web UI user sees
 * (lex-web-ui-display.ts); then ours alone reruns at other text frame budgets (the curve).
 */
import { randomUUID } from "node:crypto";
import { benchDeltas } from "./answer";
import type { FrameBudget } from "./ours";
import type { Algorithm, ProducedAnswer } from "./producer";
import { openReceiver } from "./receiver";
import { startRig, type Rig } from "./rig";
import { runSlots } from "./schedule";
import { PRICES, sseCostPerThousand, webSocketCostPerThousand, type CostPerThousand } from "./cost";
import type { StreamFormat } from "../functions/shared/table";
import { DEFAULT_FLUSH_INTERVAL_MS } from "../functions/stream/writer";
import { displayLag, type ArrivedFrame, type DisplayReport } from "./lex-web-ui-display";
import { fmt, fmtBytes, median, round, summarize, table, type Summary } from "./stats";

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
  /** The frame budget's trade-off curve: ours alone (with its floor) at each interval of each format, per pace. */
  readonly curve: {
    readonly intervalsMs: Readonly<Record<StreamFormat, readonly number[]>>;
    readonly latencyMs: number;
    readonly runs: number;
    readonly slots: number;
  };
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
  curve: { intervalsMs: { text: [0, 50, 100, 150, 200, 300], json: [50, 100, 120, 150] }, latencyMs: 15, runs: 4, slots: 4 },
};

export const STREAMING_QUICK: StreamingOptions = {
  deltas: 30,
  rates: [150],
  latenciesMs: [40],
  runs: 2,
  firstTokenDelayMs: 20,
  concurrency: () => 2,
  curve: { intervalsMs: { text: [0, 100], json: [100] }, latencyMs: 15, runs: 1, slots: 1 },
};

/** API Gateway's account-wide request rate per Region, which @connections calls share. */
export const ACCOUNT_REQUESTS_PER_SECOND = 10_000;

export type StreamingCase = "floor" | Algorithm | "sse";

/** The question every SSE answer asks (the emulator answers the same text whatever it is). */
const SSE_QUESTION = "How do answers stream?";

export interface RunFailure {
  index: number;
  message: string;
}

/** What a Lex Web UI user sees (lex-web-ui-display.ts), over the runs of a case. */
export interface DisplayFigures {
  /** Per-run p50 of the display lag behind generation (ms), summarized over runs. */
  lagP50Ms: Summary;
  /** Per-run max of the display lag (ms), summarized over runs. */
  lagMaxMs: Summary;
  /** Characters (code points) never shown by the streaming path, per run. */
  unshownChars: Summary;
  unshownBytes: Summary;
  /** Share of the answer never shown by the streaming path, per run, in %. */
  unshownPercent: Summary;
}

/** What one answer costs the account's API Gateway request budget (ACCOUNT_REQUESTS_PER_SECOND). */
export interface CapacityFigures {
  /** PostToConnection calls per answer (p50) over the time it streams (busy p50), per second. */
  requestsPerSecondPerAnswer: number;
  /** Answers streaming at once before the account limit binds: limit / requests per second per answer. */
  concurrentAnswers: number;
  /** Answers started per second before the limit binds: limit / posts per answer. */
  answersPerSecond: number;
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
  /** ours: the writer's `format=text` frame budget the case ran with. */
  textFlushIntervalMs?: number;
  capacity?: CapacityFigures;
  display?: DisplayFigures;
  /** sse: response body bytes per answer (Lambda meters streamed bytes beyond 6 MB per request). */
  responseBytes?: Summary;
  /** sse: Lambda invocations per answer (the one function URL request; the door hands nothing off). */
  invocationsPerAnswer?: number;
  /** naive, ours (a WebSocket `ask`), sse: what 1,000 answers cost at bench/cost.ts's prices, from the p50s. */
  costPerThousand?: CostPerThousand;
}

/** One point of the frame budget's trade-off curve: ours at one interval of one format. */
export interface CurvePoint {
  rate: number;
  latencyMs: number;
  format: StreamFormat;
  intervalMs: number;
  runs: number;
  intact: number;
  postsPerAnswer: Summary;
  lastLagMs: Summary;
  capacity: CapacityFigures;
  /** text only: what a Lex Web UI user sees. */
  display?: DisplayFigures;
}

export interface StreamingResult {
  options: Omit<StreamingOptions, "concurrency">;
  answerChars: number;
  answerBytes: number;
  /** The writer's default frame budget, which the ours rows ran with (their clients are `format=text`). */
  flushIntervalMs: Record<StreamFormat, number>;
  cases: StreamingCaseResult[];
  curve: CurvePoint[];
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
  /** The model's schedule: when each delta was generated. */
  deltaAt?: number[];
  /** Each text frame as it reached the client. */
  frames?: ArrivedFrame[];
  /** The floor answer of the same run. */
  floor?: Sample;
  /** sse: response body bytes. */
  bytes?: number;
}

async function producerRun(rig: Rig, algorithm: Algorithm, expected: string, format: StreamFormat = "text", flushIntervalMs?: FrameBudget): Promise<Sample> {
  const sessionId = `bench-${algorithm}-${randomUUID()}`;
  const receiver = await openReceiver({ url: await rig.presign(sessionId, format), expected, format });
  try {
    const produced: ProducedAnswer = await rig.producers[algorithm].call("answer", { sessionId, requestId: randomUUID(), flushIntervalMs });
    const received = await receiver.done;
    // json: the answer is whole at its last delta; `end` follows it.
    const lastAt = format === "json" ? received.arrivals.at(-1)?.at : received.doneAt;
    if (received.firstAt === undefined || received.doneAt === undefined || lastAt === undefined) throw new Error(`${algorithm}: the client did not receive the whole answer`);
    return {
      ttft: received.firstAt - produced.startedAt,
      last: lastAt - produced.startedAt,
      intact: received.intact && produced.text === expected,
      posts: produced.posts,
      busy: produced.settledAt - produced.firstEventAt,
      invocation: produced.settledAt - produced.startedAt,
      deltaAt: produced.deltaAt,
      frames: format === "text" ? received.textFrames : undefined,
    };
  } finally {
    await receiver.close();
  }
}

/** One answer through the streaming function URL; its invocation is timed from the request to the `end` event (an upper bound on what Lambda bills). */
async function sseRun(rig: Rig, expected: string): Promise<Sample> {
  const requestId = randomUUID();
  const received = await rig.askSse({ sessionId: `bench-sse-${requestId}`, requestId, question: SSE_QUESTION, mode: "llm" }, expected);
  if (received.firstDeltaAt === undefined || received.lastDeltaAt === undefined || received.doneAt === undefined) {
    throw new Error(`sse: ${received.error ?? "the client did not receive the whole answer"}`);
  }
  return {
    ttft: received.firstDeltaAt - received.startedAt,
    last: received.lastDeltaAt - received.startedAt,
    intact: received.intact,
    posts: 0,
    invocation: received.doneAt - received.startedAt,
    bytes: received.bodyBytes,
  };
}

async function floorRun(rig: Rig, expected: string): Promise<Sample> {
  const answer = await rig.producers.floor.call("answer", { sessionId: "bench-floor", requestId: randomUUID() });
  return { ttft: answer.firstDeltaAt - answer.startedAt, last: answer.lastDeltaAt - answer.startedAt, intact: answer.text === expected, deltaAt: answer.deltaAt };
}

/**
 * The display report of one naive or ours answer. Its deltas were generated on the schedule
 * the floor answer of the same run read without any hold-up (a serial poster reads its own
 * deltas late), shifted to this answer's first delta; without a floor, at the nominal pace.
 */
function displayOf(sample: Sample, deltas: readonly string[], rate: number): DisplayReport {
  const first = sample.deltaAt![0];
  const floor = sample.floor?.deltaAt;
  const generated = deltas.map((text, i) => ({ text, at: first + (floor && floor.length === deltas.length ? floor[i] - floor[0] : (i * 1000) / rate) }));
  return displayLag(generated, sample.frames!);
}

function displayFigures(reports: readonly DisplayReport[]): DisplayFigures {
  return {
    lagP50Ms: summarize(reports.map((r) => r.lagMs.p50)),
    lagMaxMs: summarize(reports.map((r) => r.lagMs.max)),
    unshownChars: summarize(reports.map((r) => r.unshownChars)),
    unshownBytes: summarize(reports.map((r) => r.unshownBytes)),
    unshownPercent: summarize(reports.map((r) => 100 * r.unshownShare)),
  };
}

export function capacityOf(postsPerAnswer: number, busyMs: number): CapacityFigures {
  const requestsPerSecondPerAnswer = postsPerAnswer / (busyMs / 1000);
  return {
    requestsPerSecondPerAnswer: round(requestsPerSecondPerAnswer),
    concurrentAnswers: Math.floor(ACCOUNT_REQUESTS_PER_SECOND / requestsPerSecondPerAnswer),
    answersPerSecond: round(ACCOUNT_REQUESTS_PER_SECOND / postsPerAnswer),
  };
}

interface GroupPlan {
  rate: number;
  latencyMs: number;
  runs: number;
  slots: number;
  algorithms: readonly Algorithm[];
  /** The clients' format. @default "text" */
  format?: StreamFormat;
  /** ours: a frame budget other than the writer's default. */
  flushIntervalMs?: FrameBudget;
  /** Also stream one SSE answer per run. @default false */
  sse?: boolean;
}

interface GroupOutcome {
  samples: Record<StreamingCase, Sample[]>;
  failures: Record<StreamingCase, RunFailure[]>;
  cpu: Record<Algorithm, number>;
  gatewayPosts: number;
}

/** Runs a group: each run starts one floor answer and one answer per algorithm at once. */
async function runGroup(rig: Rig, expected: string, plan: GroupPlan): Promise<GroupOutcome> {
  await rig.aws.call("setLatency", plan.latencyMs);
  const samples: Record<StreamingCase, Sample[]> = { floor: [], naive: [], ours: [], sse: [] };
  const failures: Record<StreamingCase, RunFailure[]> = { floor: [], naive: [], ours: [], sse: [] };
  const before = {
    gateway: (await rig.aws.call("stats")).connectionsApi.posts,
    naive: await rig.producers.naive.call("usage"),
    ours: await rig.producers.ours.call("usage"),
  };
  // Each run starts its cases together, so every naive and ours answer has a floor answer
  // streamed on the same schedule under the same load to be compared with.
  const stagger = Math.round(1000 / plan.rate) * 7 + 13;
  const names: StreamingCase[] = ["floor", ...plan.algorithms, ...(plan.sse ? (["sse"] as const) : [])];
  await runSlots(plan.runs, plan.slots, stagger, async (index) => {
    const settled = await Promise.allSettled(
      names.map((name) =>
        name === "floor" ? floorRun(rig, expected) : name === "sse" ? sseRun(rig, expected) : producerRun(rig, name, expected, plan.format, name === "ours" ? plan.flushIntervalMs : undefined),
      ),
    );
    const floor = settled[0].status === "fulfilled" ? settled[0].value : undefined;
    names.forEach((name, k) => {
      const outcome = settled[k];
      if (outcome.status === "rejected") {
        failures[name].push({ index, message: outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason) });
        return;
      }
      samples[name].push({ ...outcome.value, floor: name === "floor" ? undefined : floor });
    });
  });
  await rig.aws.call("idle");
  return {
    samples,
    failures,
    gatewayPosts: (await rig.aws.call("stats")).connectionsApi.posts - before.gateway,
    cpu: {
      naive: (await rig.producers.naive.call("usage")).cpuMs - before.naive.cpuMs,
      ours: (await rig.producers.ours.call("usage")).cpuMs - before.ours.cpuMs,
    },
  };
}

export async function runStreaming(options: StreamingOptions = STREAMING_DEFAULTS, log: (line: string) => void = () => undefined): Promise<StreamingResult> {
  const deltas = benchDeltas(options.deltas);
  const expected = deltas.join("");
  const rig = await startRig({ deltas, deltasPerSecond: options.rates[0], firstTokenDelayMs: options.firstTokenDelayMs });
  const cases: StreamingCaseResult[] = [];
  const curve: CurvePoint[] = [];
  const postsCheck = { gateway: 0, producers: 0 };
  const reportLoss = (name: string, lost: number, failures: RunFailure[]) => {
    if (lost > 0) log(`  !! ${name}: ${lost} run(s) lost or garbled text (${failures.map((f) => f.message).join("; ")})`);
  };
  try {
    for (const rate of options.rates) {
      await rig.aws.call("setBedrock", { deltas, deltasPerSecond: rate, firstTokenDelayMs: options.firstTokenDelayMs });
      for (const latencyMs of options.latenciesMs) {
        const slots = options.concurrency(rate, latencyMs);
        log(`streaming: ${rate} deltas/s, ${latencyMs} ms per post, ${options.runs} runs per case on ${slots} slots`);
        const { samples, failures, gatewayPosts, cpu } = await runGroup(rig, expected, { rate, latencyMs, runs: options.runs, slots, algorithms: ["naive", "ours"], sse: true });
        // A run whose floor answer failed is compared with the group's floor median instead.
        const floorMedian = { ttft: median(samples.floor.map((s) => s.ttft)), last: median(samples.floor.map((s) => s.last)) };
        for (const name of ["floor", "naive", "ours", "sse"] as const) {
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
          if (name === "sse") {
            result.addedTtftMs = summarize(list.map((s) => s.ttft - (s.floor ?? floorMedian).ttft));
            result.lastLagMs = summarize(list.map((s) => s.last - (s.floor ?? floorMedian).last));
            result.invocationMs = summarize(list.map((s) => s.invocation!));
            result.postsPerAnswer = summarize(list.map((s) => s.posts!));
            result.responseBytes = summarize(list.map((s) => s.bytes!));
            result.invocationsPerAnswer = 1;
            result.costPerThousand = sseCostPerThousand(result.invocationMs.p50, result.responseBytes.p50);
          } else if (name !== "floor") {
            result.addedTtftMs = summarize(list.map((s) => s.ttft - (s.floor ?? floorMedian).ttft));
            result.lastLagMs = summarize(list.map((s) => s.last - (s.floor ?? floorMedian).last));
            result.invocationMs = summarize(list.map((s) => s.invocation!));
            result.postsPerAnswer = summarize(list.map((s) => s.posts!));
            result.busyMs = summarize(list.map((s) => s.busy!));
            result.cpuMsPerAnswer = list.length ? round(cpu[name] / list.length) : Number.NaN;
            result.capacity = capacityOf(result.postsPerAnswer.p50, result.busyMs.p50);
            result.display = displayFigures(list.filter((s) => s.intact).map((s) => displayOf(s, deltas, rate)));
            if (name === "ours") result.textFlushIntervalMs = DEFAULT_FLUSH_INTERVAL_MS.text;
            result.costPerThousand = webSocketCostPerThousand(result.postsPerAnswer.p50, result.invocationMs.p50);
            postsCheck.producers += list.reduce((sum, s) => sum + s.posts!, 0);
          }
          cases.push(result);
          reportLoss(name, result.runs - result.intact + result.failures.length, result.failures);
        }
        postsCheck.gateway += gatewayPosts;
      }
      const { intervalsMs, latencyMs, runs, slots } = options.curve;
      for (const format of ["text", "json"] as const) {
        log(`streaming: frame budget curve at ${rate} deltas/s, ${latencyMs} ms per post, ${format} intervals ${intervalsMs[format].join(", ")} ms, ${runs} runs each`);
        for (const intervalMs of intervalsMs[format]) {
          const plan = { rate, latencyMs, runs, slots, algorithms: ["ours"] as const, format, flushIntervalMs: { [format]: intervalMs } };
          const { samples, failures, gatewayPosts } = await runGroup(rig, expected, plan);
          const list = samples.ours;
          const floorLast = median(samples.floor.map((s) => s.last));
          const posts = summarize(list.map((s) => s.posts!));
          const intact = list.filter((s) => s.intact);
          curve.push({
            rate,
            latencyMs,
            format,
            intervalMs,
            runs: list.length,
            intact: intact.length,
            postsPerAnswer: posts,
            lastLagMs: summarize(list.map((s) => s.last - (s.floor ?? { last: floorLast }).last)),
            capacity: capacityOf(posts.p50, median(list.map((s) => s.busy!))),
            display: format === "text" ? displayFigures(intact.map((s) => displayOf(s, deltas, rate))) : undefined,
          });
          reportLoss(`ours ${format} at ${intervalMs} ms`, list.length - intact.length + failures.ours.length, failures.ours);
          postsCheck.gateway += gatewayPosts;
          postsCheck.producers += list.reduce((sum, s) => sum + s.posts!, 0);
        }
      }
    }
  } finally {
    await rig.close();
  }
  return {
    options: { deltas: options.deltas, rates: options.rates, latenciesMs: options.latenciesMs, runs: options.runs, firstTokenDelayMs: options.firstTokenDelayMs, curve: options.curve },
    answerChars: Array.from(expected).length,
    answerBytes: Buffer.byteLength(expected),
    flushIntervalMs: { ...DEFAULT_FLUSH_INTERVAL_MS },
    cases,
    curve,
    postsCheck,
  };
}

/** naive's posts per answer over ours' in the same group: how many more answers ours streams per account. */
export function capacityRatio(result: StreamingResult, rate: number, latencyMs: number): number | undefined {
  const at = (name: StreamingCase) => result.cases.find((c) => c.case === name && c.rate === rate && c.latencyMs === latencyMs)?.postsPerAnswer?.p50;
  const naive = at("naive");
  const ours = at("ours");
  return naive === undefined || ours === undefined ? undefined : round(naive / ours, 2);
}

const displayCells = (d: DisplayFigures | undefined) =>
  d ? [`${fmt(d.lagP50Ms.p50)} / ${fmt(d.lagMaxMs.max)}`, `${fmt(d.unshownChars.p50, 0)} (${fmt(d.unshownBytes.p50, 0)} B, ${fmt(d.unshownPercent.p50, 2)} %)`] : ["–", "–"];

export function renderStreaming(result: StreamingResult): string {
  const rows = result.cases.map((c) => [
    `${c.rate}/s`,
    c.case === "sse" ? `none (${c.latencyMs} ms group)` : `${c.latencyMs} ms`,
    c.case,
    `${c.runs}×${c.concurrency}`,
    c.addedTtftMs ? `${fmt(c.addedTtftMs.p50)} / ${fmt(c.addedTtftMs.p95)}` : `(${fmt(c.ttftMs.p50)} / ${fmt(c.ttftMs.p95)})`,
    c.lastLagMs ? `${fmt(c.lastLagMs.p50)} / ${fmt(c.lastLagMs.p95)}` : `(${fmt(c.lastMs.p50)} / ${fmt(c.lastMs.p95)})`,
    c.postsPerAnswer ? fmt(c.postsPerAnswer.p50, 0) : "0",
    c.busyMs ? fmt(c.busyMs.p50, 0) : "–",
    c.cpuMsPerAnswer !== undefined ? fmt(c.cpuMsPerAnswer) : "–",
    `${c.intact}/${c.runs + c.failures.length}`,
  ]);
  const capacityRows = result.cases
    .filter((c) => c.case === "naive" || c.case === "ours")
    .map((c) => {
      const ratio = c.case === "ours" ? capacityRatio(result, c.rate, c.latencyMs) : undefined;
      const bound = c.case === "ours" ? (c.textFlushIntervalMs ?? 0) + c.latencyMs : undefined;
      return [
        `${c.rate}/s`,
        `${c.latencyMs} ms`,
        c.case,
        fmt(c.postsPerAnswer!.p50, 0),
        fmt(c.capacity!.requestsPerSecondPerAnswer),
        fmt(c.capacity!.concurrentAnswers, 0),
        fmt(c.capacity!.answersPerSecond),
        ratio === undefined ? "" : `${fmt(ratio, 1)}×`,
        bound === undefined ? "" : `${fmt(c.lastLagMs!.p95)} ≤ ${fmt(bound, 0)}`,
        ...displayCells(c.display),
      ];
    });
  const curveRows = result.curve.map((p) => [
    `${p.rate}/s`,
    `${p.latencyMs} ms`,
    p.format,
    `${fmt(p.intervalMs, 0)} ms${p.intervalMs === result.flushIntervalMs[p.format] ? " (default)" : ""}`,
    fmt(p.postsPerAnswer.p50, 0),
    fmt(p.capacity.requestsPerSecondPerAnswer),
    `${fmt(p.lastLagMs.p50)} / ${fmt(p.lastLagMs.p95)}`,
    ...displayCells(p.display),
    `${p.intact}/${p.runs}`,
  ]);
  const o = result.options;
  return [
    `### 1. Streaming path`,
    ``,
    `${o.deltas} deltas (${result.answerChars} characters, ${result.answerBytes} UTF-8 bytes, Latin/CJK/emoji), time to first token ${o.firstTokenDelayMs} ms; clients connect with \`format=text\` (Lex Web UI's), ours runs the writer's defaults (frame budget: text ${result.flushIntervalMs.text} ms, json ${result.flushIntervalMs.json} ms). ` +
      `Runs: ${o.runs} per case and group (runs×concurrent slots; each run streams one floor, one naive, one ours and one SSE answer at once). Floor rows show absolute times in parentheses (from the request); ` +
      `naive/ours rows show time added over the floor answer started with them in the same run (from the invocation start, connection lookup included; sse from its request), p50 / p95 in ms. ` +
      `Posts = PostToConnection calls per answer (p50); busy = producer wall time from the first Bedrock event to the last post settled (p50, ms); ` +
      `CPU = producer process CPU per answer (ms). Intact = runs whose client received exactly the generated text.`,
    ``,
    table(["pace", "post latency", "case", "runs", "added TTFT p50/p95", "last-delta lag p50/p95", "posts", "busy", "CPU", "intact"], rows),
    ``,
    `PostToConnection calls counted by the gateway: ${result.postsCheck.gateway}; by the producers: ${result.postsCheck.producers} (frame budget curve included).`,
    ``,
    `#### Capacity and what a Lex Web UI user sees`,
    ``,
    `Same runs. @connections calls share the account's ${fmt(ACCOUNT_REQUESTS_PER_SECOND, 0)} requests/s API Gateway limit: req/s per answer = posts per answer / busy time; ` +
      `answers at once = ${fmt(ACCOUNT_REQUESTS_PER_SECOND, 0)} / req/s per answer (a slow serial loop streams each answer longer, which lowers its rate but not its cost); ` +
      `answers/s = ${fmt(ACCOUNT_REQUESTS_PER_SECOND, 0)} / posts per answer; × naive = naive's posts per answer over ours (the answers per second one account carries, ours over naive). ` +
      `Lag bound: ours' last-delta lag p95 against one text interval + one post latency (ms). ` +
      `Display = the Lex Web UI display model (bench/lex-web-ui-display.ts, from clients.md "Frames": each frame shown 500 ms after the next one arrives, the last never): ` +
      `lag of a character's display behind its generation, median of the runs' p50 / largest of the runs' max (ms); unshown = the last frame, never shown by the streaming path (p50 per answer: characters, bytes, share of the answer).`,
    ``,
    table(["pace", "post latency", "case", "posts", "req/s per answer", "answers at once", "answers/s", "× naive", "lag bound", "display lag p50 / max", "unshown"], capacityRows),
    ``,
    `#### Frame budget: the trade-off curve`,
    ``,
    `Ours alone (each run with its floor answer) at other intervals, clients of each format, ${o.curve.runs} runs per point on ${o.curve.slots} slots, ${o.curve.latencyMs} ms per post. ` +
      `Fewer posts per answer buy account capacity (naive posts ${fmt(o.deltas, 0)} per answer); a longer interval delays Lex Web UI's display (it trails arrivals by one whole frame plus 500 ms); ` +
      `json posts carry \`start\` and \`end\` too, and json clients (the chat page) reveal text smoothly between frames. ` +
      `Last-delta lag (json: to the last delta) stays about one post whatever the interval, because the writer sends what waits the moment the answer ends.`,
    ``,
    table(["pace", "post latency", "format", "interval", "posts", "req/s per answer", "last-delta lag p50/p95", "display lag p50 / max", "unshown", "intact"], curveRows),
    ...renderSse(result),
  ].join("\n");
}

const dollars = (value: number | undefined) => (value === undefined ? "–" : `$${value < 0.1 ? value.toFixed(4) : value.toFixed(3)}`);
const p50p95 = (s: Summary | undefined) => (s ? `${fmt(s.p50)} / ${fmt(s.p95)}` : "–");

/** The SSE rows beside ours (WebSocket) of the same group, and what 1,000 answers cost each way. */
function renderSse(result: StreamingResult): string[] {
  const pairs = result.cases.filter((c) => c.case === "sse").map((sse) => ({ sse, ours: result.cases.find((c) => c.case === "ours" && c.rate === sse.rate && c.latencyMs === sse.latencyMs) }));
  if (pairs.length === 0) return [];
  const rows = pairs.map(({ sse, ours }) => [
    `${sse.rate}/s`,
    `${sse.latencyMs} ms`,
    `${p50p95(sse.addedTtftMs)} vs ${p50p95(ours?.addedTtftMs)}`,
    `${p50p95(sse.lastLagMs)} vs ${p50p95(ours?.lastLagMs)}`,
    `${fmt(sse.postsPerAnswer?.max, 0)} vs ${fmt(ours?.postsPerAnswer?.p50, 0)}`,
    `${fmt(sse.invocationsPerAnswer, 0)} vs 2`,
    `${fmtBytes(sse.responseBytes?.p50 ?? Number.NaN)} (${fmtBytes(sse.responseBytes?.max ?? Number.NaN)})`,
    `${fmt((sse.invocationMs?.p50 ?? Number.NaN) / 1000, 2)} vs ${fmt((ours?.invocationMs?.p50 ?? Number.NaN) / 1000, 2)} s`,
    `${dollars(sse.costPerThousand?.total)} vs ${dollars(ours?.costPerThousand?.total)}`,
    `${sse.intact}/${sse.runs + sse.failures.length}`,
  ]);
  const costRows = pairs.flatMap(({ sse, ours }) =>
    [ours, sse].flatMap((c) =>
      c?.costPerThousand
        ? [[`${c.rate}/s, ${c.latencyMs} ms`, c.case === "sse" ? "SSE (function URL)" : "WebSocket (ours)", dollars(c.costPerThousand.messages), dollars(c.costPerThousand.lambda), dollars(c.costPerThousand.streamedBytes), dollars(c.costPerThousand.dynamo), dollars(c.costPerThousand.total)]]
        : [],
    ),
  );
  const p = PRICES;
  return [
    ``,
    `#### Server-Sent Events beside the WebSocket and the floor`,
    ``,
    `Same runs: each run also POSTs to the streaming function URL (SigV4, service \`lambda\`; \`Accept: text/event-stream\`) and reads the answer as Server-Sent Events; the real handler (url-handler.ts: door, engine, memory, fair-use slot, the writer with no frame budget) runs on the AWS side, in the process of the gateway, dynalite and the Bedrock emulator. ` +
      `SSE makes no PostToConnection, so the injected post latency does not apply to it: its rows in each latency group are the same path under that group's load. ` +
      `Added TTFT and last-delta lag (to the last delta) are over the floor answer of the same run, p50 / p95 ms, SSE vs ours (WebSocket, \`format=text\`); ours is timed from its invocation start, SSE from the request (SigV4 check, event, fair-use slot and memory read included). ` +
      `Calls per answer: PostToConnection (SSE: the largest count of any run; the gateway's count equals the WebSocket producers', so SSE made none) and Lambda invocations (SSE: the one function URL request; a WebSocket \`ask\`: the route and the job). ` +
      `Response = SSE body bytes per answer, p50 (max). Invocation = SSE: request to \`end\` at the client (an upper bound on billed duration); ours: its producer's invocation. Cost per 1,000 answers at the prices below.`,
    ``,
    table(["pace", "group", "added TTFT p50/p95, SSE vs ours", "last-delta lag p50/p95, SSE vs ours", "PostToConnection, SSE vs ours", "invocations, SSE vs ask", "response", "invocation", "cost per 1,000", "intact"], rows),
    ``,
    `Cost per 1,000 answers, assumed prices (US East (N. Virginia), on demand, no free tier; Bedrock tokens excluded): WebSocket $${p.webSocketMessagePerMillion.toFixed(2)} per million messages (posts + the \`ask\`); ` +
      `Lambda arm64 $${p.lambdaArmGbSecond} per GB-s at ${p.fulfillmentMemoryGb * 1024} MB and $${p.lambdaRequestPerMillion.toFixed(2)} per million requests (WebSocket ${p.lambdaRequestsPerAnswer}, SSE ${p.sseLambdaRequestsPerAnswer} per answer); ` +
      `Lambda response streaming $${p.lambdaStreamedPerGb} per GB streamed beyond the first ${fmt(p.lambdaStreamedFreeBytesPerResponse / 2 ** 20, 0)} MB of each response; ` +
      `DynamoDB on demand $${p.dynamoReadPerMillion} / $${p.dynamoWritePerMillion} per million read / write units, ${p.readUnitsPerAnswer} RRU and ${p.writeUnitsPerAnswer} WRU per answer either way (an upper bound: SSE reads no connection rows).`,
    ``,
    table(["pace, group", "transport", "messages", "Lambda", "streamed bytes", "DynamoDB", "total"], costRows),
  ];
}
