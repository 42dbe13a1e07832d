/**
 * Benchmark 4, gateway concurrency: hundreds of sessions streaming at once, every client a
 * real WebSocket in `format=json` whose envelopes are checked (seq without gap or repeat,
 * the exact text, `end`). Two modes:
 *   stack  — through the whole local stack: `$connect`, an `ask` over the socket, the
 *            asynchronous hand-off, the real fulfillment function and its stream writer; the
 *            Bedrock emulator in a process of its own. Delivery is timed from the instant the
 *            emulator was scheduled to emit the frame's last delta.
 *   direct — the gateway and the writer alone: the gateway process (with `$connect` and its
 *            rows) and "Lambda" processes in which every session has its own writer and
 *            @connections transport, as one Lambda invocation has, fed at the model's pace.
 *            Delivery is timed from the delta's hand-off to the writer.
 * The stack mode hosts every answer in one process, as no deployment does: past a few
 * hundred sessions its event loop, not the gateway, is what is measured (see the notes).
 */
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { benchDeltas } from "./answer";
import type { methods as AwsMethods, AwsSideInfo } from "./aws-worker";
import type { methods as BedrockMethods } from "./bedrock-worker";
import type { methods as FleetMethods, FleetSession } from "./fleet-worker";
import { epochNow, processUsage, startWorker, type ProcessUsage, type Worker } from "./ipc";
import { openReceiver, type Received, type Receiver } from "./receiver";
import { benchCredentials, presignFor } from "./rig";
import { fmt, fmtBytes, percentile, round, table } from "./stats";

export type ConcurrencyMode = "stack" | "direct";

export interface ConcurrencyOptions {
  readonly cases: readonly { readonly mode: ConcurrencyMode; readonly sessions: number }[];
  readonly deltas: number;
  readonly rate: number;
  readonly firstTokenDelayMs: number;
  /** Answers start spread evenly over this many ms. */
  readonly rampMs: number;
  /** WebSocket connects in flight at once. */
  readonly connectConcurrency: number;
  /** "Lambda" processes of the direct mode. */
  readonly fleetProcesses: number;
  /** A client still missing frames this long after the last answer started is counted lost. */
  readonly timeoutMs: number;
}

export const CONCURRENCY_DEFAULTS: ConcurrencyOptions = {
  cases: [
    { mode: "stack", sessions: 200 },
    { mode: "direct", sessions: 200 },
    { mode: "direct", sessions: 1000 },
  ],
  deltas: 100,
  rate: 20,
  firstTokenDelayMs: 300,
  rampMs: 2000,
  connectConcurrency: 25,
  fleetProcesses: 2,
  timeoutMs: 60_000,
};

export const CONCURRENCY_QUICK: ConcurrencyOptions = {
  cases: [
    { mode: "stack", sessions: 3 },
    { mode: "direct", sessions: 3 },
  ],
  deltas: 15,
  rate: 150,
  firstTokenDelayMs: 20,
  rampMs: 20,
  connectConcurrency: 3,
  fleetProcesses: 1,
  timeoutMs: 20_000,
};

export interface ConcurrencyCaseResult {
  mode: ConcurrencyMode;
  sessions: number;
  /** Sessions whose client got every frame: seq without gap or repeat, the exact text, and `end`. */
  intactSessions: number;
  lostSessions: number;
  /** Envelopes missing from seq sequences, over all sessions. */
  seqGaps: number;
  /** Envelopes repeated or out of order, over all sessions. */
  seqRepeats: number;
  /** Frames received by all clients (start, deltas, end). */
  frames: number;
  /** frames / (last `end` − first answer start), per second. */
  framesPerSecond: number;
  postsPerSecond: number;
  postsPerAnswer: number;
  /** ms from a frame's last delta being emitted (stack) or handed to the writer (direct) to its arrival. */
  deliveryMs: { p50: number; p95: number; p99: number; max: number };
  /** stack mode: the emulator's end of each stream past its schedule (p99, ms), a check that lateness is not the emulator's. */
  emulatorLateP99Ms?: number;
  /** From the first answer start to the last `end`, ms. */
  wallMs: number;
  /** Time to open every connection (`$connect` and its rows included), ms. */
  connectMs: number;
  handlerErrors: number;
  /** Errors the @connections API answered, by status. */
  postErrors: Record<number, number>;
  /** Bytes: peak RSS of the gateway's process and its RSS once started; peak of the producers' processes (emulator, or the fleet's largest); this process's RSS at the end (the clients). */
  rss: { gatewayPeak: number; gatewayStart: number; producersPeak: number; clients: number };
}

export interface ConcurrencyResult {
  options: ConcurrencyOptions;
  cases: ConcurrencyCaseResult[];
}

/** The side that produces the answers: the stack's own fulfillment (fed by the emulator), or the fleet. */
interface Producers {
  /** Starts every answer (spread over the ramp); resolves once every producer is done, with when the first answer started. */
  run(sessionIds: readonly string[], receivers: readonly Receiver[]): Promise<number>;
  /** After the run: when session `index`'s delta `k` was produced (epoch ms), if known. */
  producedAt(sessionIds: readonly string[]): Promise<(index: number, k: number) => number | undefined>;
  /** stack mode: the emulator's lateness at stream end, p99 ms. */
  emulatorLateP99Ms?: () => Promise<number>;
  usage(): Promise<ProcessUsage[]>;
  close(): Promise<void>;
}

async function stackProducers(options: ConcurrencyOptions, deltas: string[], bedrock: Worker<typeof BedrockMethods>): Promise<Producers> {
  const interval = 1000 / options.rate;
  return {
    async run(sessionIds, receivers) {
      const startedAt = epochNow();
      await Promise.all(
        receivers.map(async (receiver, i) => {
          await sleep((i * options.rampMs) / receivers.length);
          receiver.send(JSON.stringify({ action: "ask", requestId: sessionIds[i], question: sessionIds[i], mode: "llm" }));
        }),
      );
      return startedAt;
    },
    async producedAt(sessionIds) {
      const requests = await bedrock.call("requests");
      const arrived = new Map(requests.map((r) => [r.question, r.receivedAt]));
      return (index, k) => {
        const receivedAt = arrived.get(sessionIds[index]);
        return receivedAt === undefined ? undefined : receivedAt + options.firstTokenDelayMs + k * interval;
      };
    },
    async emulatorLateP99Ms() {
      const requests = await bedrock.call("requests");
      const late = requests
        .filter((r) => r.finishedAt !== undefined)
        .map((r) => r.finishedAt! - (r.receivedAt + options.firstTokenDelayMs + (deltas.length - 1) * interval));
      return round(percentile(late, 99));
    },
    usage: async () => [await bedrock.call("usage")],
    close: () => bedrock.close(),
  };
}

async function directProducers(options: ConcurrencyOptions, deltas: string[], info: AwsSideInfo, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): Promise<Producers> {
  const fleet = await Promise.all(
    Array.from({ length: options.fleetProcesses }, () => startWorker<typeof FleetMethods>(path.join(__dirname, "fleet-worker.ts"))),
  );
  await Promise.all(fleet.map((worker) => worker.call("init", { ...info, credentials })));
  const handoffs = new Map<string, number[]>();
  return {
    async run(sessionIds) {
      const base = epochNow() + 200;
      const shares: FleetSession[][] = fleet.map(() => []);
      sessionIds.forEach((sessionId, i) => shares[i % fleet.length].push({ sessionId, startAt: base + (i * options.rampMs) / sessionIds.length }));
      const results = await Promise.all(
        fleet.map((worker, w) =>
          worker.call("stream", { sessions: shares[w], deltas, deltasPerSecond: options.rate, firstTokenDelayMs: options.firstTokenDelayMs }),
        ),
      );
      for (const result of results.flat()) {
        if (result.error) throw new Error(`fleet session ${result.sessionId} failed: ${result.error}`);
        handoffs.set(result.sessionId, result.handoffs);
      }
      return base;
    },
    async producedAt(sessionIds) {
      return (index, k) => handoffs.get(sessionIds[index])?.[k];
    },
    usage: () => Promise.all(fleet.map((worker) => worker.call("usage"))),
    close: async () => {
      await Promise.all(fleet.map((worker) => worker.close()));
    },
  };
}

async function runCase(options: ConcurrencyOptions, mode: ConcurrencyMode, sessions: number, log: (line: string) => void): Promise<ConcurrencyCaseResult> {
  const deltas = benchDeltas(options.deltas);
  const expected = deltas.join("");
  const ends = deltaEnds(deltas);
  const { user, role } = benchCredentials();
  const sessionIds = Array.from({ length: sessions }, (_, i) => `bench-${mode}-${i}`);

  let bedrock: Worker<typeof BedrockMethods> | undefined;
  let env: Record<string, string> = {};
  if (mode === "stack") {
    bedrock = await startWorker<typeof BedrockMethods>(path.join(__dirname, "bedrock-worker.ts"));
    const endpoint = await bedrock.call("start", { deltas, deltasPerSecond: options.rate, firstTokenDelayMs: options.firstTokenDelayMs });
    env = { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: endpoint };
  }
  const aws = await startWorker<typeof AwsMethods>(path.join(__dirname, "aws-worker.ts"));
  const receivers: Receiver[] = [];
  let producers: Producers | undefined;
  try {
    const info = await aws.call("start", { credentials: [user, role], env });
    const credentials = { accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey, sessionToken: role.sessionToken };
    producers = mode === "stack" ? await stackProducers(options, deltas, bedrock!) : await directProducers(options, deltas, info, credentials);
    const presign = presignFor(info, user);
    const gatewayStart = (await aws.call("usage")).rssBytes;

    const connectStarted = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(options.connectConcurrency, sessions) }, async () => {
        while (next < sessions) {
          const i = next++;
          receivers[i] = await openReceiver({ url: await presign(sessionIds[i], "json"), expected, format: "json", timeoutMs: options.rampMs + options.timeoutMs });
        }
      }),
    );
    await aws.call("idle");
    const connectMs = performance.now() - connectStarted;
    log(`concurrency (${mode}): ${sessions} sessions connected in ${fmt(connectMs, 0)} ms; streaming`);

    const [received, startedAt] = await Promise.all([Promise.all(receivers.map((r) => r.done)), producers.run(sessionIds, receivers)]);
    await aws.call("idle");
    const stats = await aws.call("stats");
    const producedAt = await producers.producedAt(sessionIds);
    const latencies = deliveryLatencies(received, ends, producedAt);
    const wallMs = Math.max(...received.map((r) => r.doneAt ?? 0)) - startedAt;
    const frames = received.reduce((sum, r) => sum + r.frames, 0);
    const intact = received.filter((r) => r.intact).length;
    const seqGaps = received.reduce((sum, r) => sum + r.seqGaps, 0);
    const seqRepeats = received.reduce((sum, r) => sum + r.seqRepeats, 0);
    if (intact < sessions) log(`  !! ${mode} ${sessions}: ${sessions - intact} session(s) lost or garbled frames (seq gaps ${seqGaps}, repeats ${seqRepeats})`);
    const [gatewayUsage, producerUsage] = await Promise.all([aws.call("usage"), producers.usage()]);
    return {
      mode,
      sessions,
      intactSessions: intact,
      lostSessions: sessions - intact,
      seqGaps,
      seqRepeats,
      frames,
      framesPerSecond: round((frames * 1000) / wallMs, 0),
      postsPerSecond: round((stats.connectionsApi.posts * 1000) / wallMs, 0),
      postsPerAnswer: round(stats.connectionsApi.posts / sessions),
      deliveryMs: {
        p50: round(percentile(latencies, 50)),
        p95: round(percentile(latencies, 95)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies.length ? Math.max(...latencies) : Number.NaN),
      },
      emulatorLateP99Ms: await producers.emulatorLateP99Ms?.(),
      wallMs: round(wallMs, 0),
      connectMs: round(connectMs, 0),
      handlerErrors: stats.handlerErrors,
      postErrors: stats.connectionsApi.errors,
      rss: {
        gatewayPeak: gatewayUsage.maxRssBytes,
        gatewayStart,
        producersPeak: Math.max(...producerUsage.map((u) => u.maxRssBytes)),
        clients: processUsage().rssBytes,
      },
    };
  } finally {
    await Promise.all(receivers.map((r) => r?.close()));
    await producers?.close();
    await aws.close(60_000);
    if (!producers) await bedrock?.close();
  }
}

/** Cumulative UTF-16 length of the answer after each delta. */
function deltaEnds(deltas: readonly string[]): number[] {
  const ends: number[] = [];
  let end = 0;
  for (const delta of deltas) ends.push((end += delta.length));
  return ends;
}

/** Per delta frame: arrival minus the production time of the last delta the frame completes. */
function deliveryLatencies(received: Received[], ends: number[], producedAt: (index: number, k: number) => number | undefined): number[] {
  const latencies: number[] = [];
  for (const [index, r] of received.entries()) {
    for (const arrival of r.arrivals) {
      const after = ends.findIndex((end) => end > arrival.length);
      const k = after < 0 ? ends.length - 1 : after - 1;
      const at = k >= 0 ? producedAt(index, k) : undefined;
      if (at !== undefined) latencies.push(arrival.at - at);
    }
  }
  return latencies;
}

export async function runConcurrency(options: ConcurrencyOptions = CONCURRENCY_DEFAULTS, log: (line: string) => void = () => undefined): Promise<ConcurrencyResult> {
  const cases: ConcurrencyCaseResult[] = [];
  for (const { mode, sessions } of options.cases) cases.push(await runCase(options, mode, sessions, log));
  return { options, cases };
}

export function renderConcurrency(result: ConcurrencyResult): string {
  const o = result.options;
  const late = result.cases.filter((c) => c.emulatorLateP99Ms !== undefined);
  return [
    `### 4. Gateway concurrency`,
    ``,
    `Each session: its own WebSocket (\`format=json\`, every envelope checked), one answer of ${o.deltas} deltas at ${o.rate}/s (first token ${o.firstTokenDelayMs} ms), ` +
      `answers starting spread over ${o.rampMs} ms. **stack** = through the whole local stack (an \`ask\` over the socket, the hand-off, the real fulfillment function; ` +
      `all handlers, the writer, the gateway and dynalite share one process; the Bedrock emulator has its own); delivery from the delta's scheduled emission. ` +
      `**direct** = the gateway process (with \`$connect\` and dynalite) and ${o.fleetProcesses} "Lambda" process(es) where each session has its own writer and transport, ` +
      `fed at the model's pace; delivery from the delta's hand-off to the writer. Lost = sessions with a seq gap, different text, or no \`end\` within ${fmt(o.timeoutMs / 1000, 0)} s (a copy resent after a post timed out is dropped, as clients do).`,
    ``,
    table(
      ["mode", "sessions", "frames/s", "posts/s", "posts per answer", "delivery p50/p95/p99 (ms)", "lost sessions", "handler errors", "gateway peak RSS (at start)", "producers peak RSS", "connect all (ms)", "wall (ms)"],
      result.cases.map((c) => [
        c.mode,
        String(c.sessions),
        fmt(c.framesPerSecond, 0),
        fmt(c.postsPerSecond, 0),
        fmt(c.postsPerAnswer),
        `${fmt(c.deliveryMs.p50)} / ${fmt(c.deliveryMs.p95)} / ${fmt(c.deliveryMs.p99)}`,
        c.lostSessions === 0 ? "0" : `**${c.lostSessions}** (gaps ${c.seqGaps}, repeats ${c.seqRepeats})`,
        String(c.handlerErrors),
        `${fmtBytes(c.rss.gatewayPeak)} (${fmtBytes(c.rss.gatewayStart)})`,
        fmtBytes(c.rss.producersPeak),
        fmt(c.connectMs, 0),
        fmt(c.wallMs, 0),
      ]),
    ),
    ...(late.length ? [``, `Emulator lateness at stream end, p99: ${late.map((c) => `${c.sessions} sessions ${fmt(c.emulatorLateP99Ms)} ms`).join(", ")}.`] : []),
  ].join("\n");
}
