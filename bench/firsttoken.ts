/**
 * Benchmark 6, the first token by front door: how much each way of asking adds to the time to
 * the first delta at the client, through the whole local stack (aws-worker.ts: the real
 * fulfillment function behind the gateway, the Lambda API and dynalite), same run:
 *   floor — a process of its own reads the Bedrock stream directly;
 *   lex   — Lex's synchronous Invoke of the fulfillment with a Lex V2 code-hook event; the
 *           answer streams to the session's `format=text` connection;
 *   ask   — a `format=json` client sends `{"action":"ask"}` over its socket: the route
 *           invocation (connection lookup, fair-use slot, the asynchronous hand-off) returns,
 *           then the job (a second invocation) answers and streams;
 *   sse   — a signed POST to the streaming function URL (`Accept: text/event-stream`): one
 *           invocation answers as Server-Sent Events on its own response.
 * Each run starts the four at once on the same emulator schedule; "added" subtracts the
 * floor answer of the run. The local Lambda API starts an `Event` invocation at once, where
 * AWS queues it (typically tens of ms, more when it lands on a cold container: the cold
 * start of section 3), so the ask figure is a floor on what AWS adds.
 */
import { randomUUID } from "node:crypto";
import { codeHookEvent, DEFAULT_LOCAL_BOT } from "../local/lex-runtime";
import { benchDeltas } from "./answer";
import { epochNow } from "./ipc";
import { openReceiver } from "./receiver";
import { startRig } from "./rig";
import { runSlots } from "./schedule";
import { fmt, summarize, table, type Summary } from "./stats";

export interface FirstTokenOptions {
  readonly deltas: number;
  readonly rate: number;
  readonly firstTokenDelayMs: number;
  readonly runs: number;
}

export const FIRST_TOKEN_DEFAULTS: FirstTokenOptions = { deltas: 40, rate: 150, firstTokenDelayMs: 100, runs: 20 };
export const FIRST_TOKEN_QUICK: FirstTokenOptions = { deltas: 10, rate: 150, firstTokenDelayMs: 20, runs: 2 };

export type Door = "floor" | "lex" | "ask" | "sse";

export interface FirstTokenCase {
  door: Door;
  runs: number;
  /** Runs whose client received exactly the generated text. */
  intact: number;
  /** From the request (floor, sse), the Invoke (lex) or the ask frame sent (ask) to the first delta at the client. */
  ttftMs: Summary;
  /** ttft minus the floor's of the same run. */
  addedTtftMs?: Summary;
}

export interface FirstTokenResult {
  options: FirstTokenOptions;
  cases: FirstTokenCase[];
}

interface Sample {
  ttft: number;
  intact: boolean;
}

export async function runFirstToken(options: FirstTokenOptions = FIRST_TOKEN_DEFAULTS, log: (line: string) => void = () => undefined): Promise<FirstTokenResult> {
  const deltas = benchDeltas(options.deltas);
  const expected = deltas.join("");
  const rig = await startRig({ deltas, deltasPerSecond: options.rate, firstTokenDelayMs: options.firstTokenDelayMs });
  const samples: Record<Door, Sample[]> = { floor: [], lex: [], ask: [], sse: [] };
  const added: Record<Exclude<Door, "floor">, number[]> = { lex: [], ask: [], sse: [] };
  try {
    const floor = async (): Promise<Sample> => {
      const answer = await rig.producers.floor.call("answer", { sessionId: "bench-floor", requestId: randomUUID() });
      return { ttft: answer.firstDeltaAt - answer.startedAt, intact: answer.text === expected };
    };
    const lex = async (): Promise<Sample> => {
      const sessionId = `bench-lex-${randomUUID()}`;
      const receiver = await openReceiver({ url: await rig.presign(sessionId, "text"), expected, format: "text" });
      try {
        const event = codeHookEvent({ bot: DEFAULT_LOCAL_BOT, sessionId, text: "How do answers stream?", sessionAttributes: {}, requestAttributes: {}, originatingRequestId: randomUUID() });
        const startedAt = epochNow();
        await rig.aws.call("invokeFulfillment", event);
        const received = await receiver.done;
        if (received.firstAt === undefined) throw new Error("lex: nothing streamed");
        return { ttft: received.firstAt - startedAt, intact: received.intact };
      } finally {
        await receiver.close();
      }
    };
    const ask = async (): Promise<Sample> => {
      const requestId = randomUUID();
      const receiver = await openReceiver({ url: await rig.presign(`bench-ask-${requestId}`, "json"), expected, format: "json" });
      try {
        const startedAt = epochNow();
        receiver.send(JSON.stringify({ action: "ask", requestId, question: "How do answers stream?", mode: "llm" }));
        const received = await receiver.done;
        if (received.firstAt === undefined) throw new Error("ask: nothing streamed");
        return { ttft: received.firstAt - startedAt, intact: received.intact };
      } finally {
        await receiver.close();
      }
    };
    const sse = async (): Promise<Sample> => {
      const requestId = randomUUID();
      const received = await rig.askSse({ sessionId: `bench-sse-${requestId}`, requestId, question: "How do answers stream?", mode: "llm" }, expected);
      if (received.firstDeltaAt === undefined) throw new Error(`sse: ${received.error ?? "nothing streamed"}`);
      return { ttft: received.firstDeltaAt - received.startedAt, intact: received.intact };
    };
    log(`first token: floor, Lex door, WebSocket ask and SSE, ${options.runs} runs`);
    // One run at a time: the three answers of a run share the machine, and nothing else does.
    await runSlots(options.runs, 1, 0, async () => {
      const [f, l, a, e] = await Promise.all([floor(), lex(), ask(), sse()]);
      samples.floor.push(f);
      samples.lex.push(l);
      samples.ask.push(a);
      samples.sse.push(e);
      added.lex.push(l.ttft - f.ttft);
      added.ask.push(a.ttft - f.ttft);
      added.sse.push(e.ttft - f.ttft);
    });
    await rig.aws.call("idle");
  } finally {
    await rig.close();
  }
  return {
    options,
    cases: (["floor", "lex", "ask", "sse"] as const).map((door) => ({
      door,
      runs: samples[door].length,
      intact: samples[door].filter((s) => s.intact).length,
      ttftMs: summarize(samples[door].map((s) => s.ttft)),
      ...(door === "floor" ? {} : { addedTtftMs: summarize(added[door]) }),
    })),
  };
}

export function renderFirstToken(result: FirstTokenResult): string {
  const o = result.options;
  const rows = result.cases.map((c) => [
    c.door,
    String(c.runs),
    `${fmt(c.ttftMs.p50)} / ${fmt(c.ttftMs.p95)}`,
    c.addedTtftMs ? `${fmt(c.addedTtftMs.p50)} / ${fmt(c.addedTtftMs.p95)}` : "–",
    `${c.intact}/${c.runs}`,
  ]);
  return [
    `### 6. First token by front door`,
    ``,
    `Through the whole local stack, ${o.runs} runs one at a time, each starting a floor answer, a Lex V2 code-hook Invoke, a WebSocket \`ask\` and a signed SSE request to the streaming function URL at once (${o.deltas} deltas at ${o.rate}/s, time to first token ${o.firstTokenDelayMs} ms). ` +
      `TTFT = from the request (floor, sse), the Invoke (lex) or the ask frame sent (ask) to the first delta at the client, p50 / p95 in ms; added = minus the floor answer of the same run. ` +
      `The ask path is two invocations (the route: connection lookup, fair-use slot, asynchronous hand-off; then the job). The local Lambda API runs an \`Event\` invocation at once, where AWS queues it, so its figure is a lower bound. The SSE door is one invocation answering on its own response (no connection lookup, no hand-off, no post).`,
    ``,
    table(["door", "runs", "TTFT p50/p95", "added TTFT p50/p95", "intact"], rows),
  ].join("\n");
}
