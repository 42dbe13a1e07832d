/**
 * Fair use under a burst, over the wire (issue 11, finding 1: 1,000 asks from one socket left
 * ~610 `stalled` and made another user's answer, asked 1 s later, fail after ~30 s with 0
 * deltas). One signed client fires N asks at once on one socket; a bystander (another
 * principal, another session) asks 1 s later. Held when the bystander's answer is whole (and,
 * in `npm run reliability`, takes at most 2× its idle baseline), and every burst ask gets `busy` or a whole answer
 * (the ask ledger refuses what is over the limits at once). With the stage's throttling on,
 * asks past the bucket get the gateway's "Too Many Requests" frame instead; every ask is
 * still answered one way or the other.
 */
import { expect } from "chai";
import type { Envelope } from "../../functions/shared/protocol";
import type { LocalCredential, StageThrottle } from "../../local/gateway";
import type { LocalStack } from "../../local/stack";
import { countsText, tally, type Figure } from "./figures";
import { attackerCredential } from "./fuzz-handlers";
import { Client, connect, rowsAfterIdle, startReliabilityStack } from "./harness";

/** The model's pace in this scenario: slow enough that the baseline is the model, not the machine. */
const FAIRNESS_DELTAS = Array.from({ length: 12 }, (_, i) => `part${i} `);
const FAIRNESS_TEXT = FAIRNESS_DELTAS.join("");

export interface FairnessEnv {
  readonly stack: LocalStack;
  readonly burster: LocalCredential;
  close(): Promise<void>;
}

export async function startFairnessEnv(throttle: StageThrottle | false = false): Promise<FairnessEnv> {
  const burster = attackerCredential();
  const stack = await startReliabilityStack({
    credentials: [burster],
    throttle,
    bedrockBehavior: { deltas: FAIRNESS_DELTAS, deltasPerSecond: 12, firstTokenDelayMs: 200 },
  });
  return { stack, burster, close: () => stack.close() };
}

/** Asks once on a fresh json socket and returns the time to its `end`, checking the answer is whole. */
async function timedAnswer(stack: LocalStack, sessionId: string, requestId: string): Promise<number> {
  const client = await connect(stack, sessionId);
  try {
    const started = Date.now();
    await client.ask(requestId, "What is fair use?");
    const terminal = await client.settled(requestId);
    const took = Date.now() - started;
    expect(terminal?.type, `the bystander's answer: ${JSON.stringify(terminal)}`).to.equal("end");
    const text = client.of(requestId).flatMap((e) => (e.type === "delta" ? [e.text] : [])).join("");
    expect(text, "the bystander's answer is whole").to.equal(FAIRNESS_TEXT);
    return took;
  } finally {
    await client.close();
  }
}

/** What one burst ask came to: a whole answer, `busy`, another error code, the gateway's throttle frame. */
function outcomeOf(envelopes: readonly Envelope[]): string | undefined {
  const terminal = envelopes.find((e) => e.type === "end" || e.type === "error");
  if (!terminal) return undefined;
  if (terminal.type === "error") return `error ${(terminal as { code: string }).code}`;
  const text = envelopes.flatMap((e) => (e.type === "delta" ? [e.text] : [])).join("");
  return text === FAIRNESS_TEXT ? "answer" : "answer (not whole)";
}

const THROTTLE_FRAME = /^\{"message": "Too Many Requests", "connectionId":"[^"]+", "requestId":"[^"]+"\}$/;

export interface BurstResult {
  readonly asks: number;
  readonly baselineMs: number;
  readonly bystanderMs: number;
  readonly outcomes: Record<string, number>;
  readonly settledMs: number;
}

/**
 * Fires `asks` asks on one socket, a bystander's ask 1 s later; waits until every burst ask
 * is accounted for. Throws on a burst ask that got nothing, on an answer that is not whole,
 * and, given `maxSlowdown`, on a bystander slower than that many times its baseline: a
 * timing, so only `npm run reliability` (on a machine whose load it records) asks for it,
 * never `npm test`, which must pass on a busy machine.
 */
export async function burstFairness(env: FairnessEnv, asks: number, tag: string, maxSlowdown?: number): Promise<BurstResult> {
  const { stack, burster } = env;
  const baselineMs = await timedAnswer(stack, `bystander-${tag}`, `baseline-${tag}`);
  let client: Client | undefined;
  try {
    client = await connect(stack, `burst-${tag}`, { credential: burster });
    const burst = client;
    const ids = Array.from({ length: asks }, (_, i) => `burst-${tag}-${i}`);
    const started = Date.now();
    for (const id of ids) burst.ws.send(JSON.stringify({ action: "ask", requestId: id, question: "Again?", mode: "llm" }));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const bystanderMs = await timedAnswer(stack, `bystander-${tag}`, `bystander-${tag}`);

    const throttleFrames = () => burst.messages.filter((m) => THROTTLE_FRAME.test(m.text)).length;
    const accounted = () => ids.filter((id) => outcomeOf(burst.of(id)) !== undefined).length + throttleFrames();
    await burst.until(() => accounted() >= asks, `an outcome for each of the ${asks} burst asks`, 60_000);
    const settledMs = Date.now() - started;
    const outcomes: Record<string, number> = {};
    for (const id of ids) {
      const outcome = outcomeOf(burst.of(id));
      if (outcome !== undefined) tally(outcomes, outcome);
    }
    if (throttleFrames() > 0) outcomes["gateway Too Many Requests"] = throttleFrames();
    expect(burst.closed, "the burst socket stays open").to.equal(false);
    expect(Object.values(outcomes).reduce((a, b) => a + b, 0), `every burst ask accounted for: ${countsText(outcomes)}`).to.equal(asks);
    const allowed = new Set(["answer", "error busy", "gateway Too Many Requests"]);
    for (const outcome of Object.keys(outcomes)) expect(allowed.has(outcome), `burst outcome "${outcome}" (${countsText(outcomes)})`).to.equal(true);
    if (maxSlowdown !== undefined) {
      expect(bystanderMs, `the bystander's answer took ${bystanderMs} ms, its idle baseline ${baselineMs} ms`).to.be.at.most(maxSlowdown * baselineMs);
    }
    return { asks, baselineMs, bystanderMs, outcomes, settledMs };
  } finally {
    await client?.close();
    await stack.idle();
  }
}

export async function burstFigure(env: FairnessEnv, asks: number, tag: string, throttle: StageThrottle | false, trials = 1, maxSlowdown?: number): Promise<Figure> {
  const results: BurstResult[] = [];
  for (let trial = 0; trial < trials; trial++) results.push(await burstFairness(env, asks, trials === 1 ? tag : `${tag}-${trial}`, maxSlowdown));
  const left = await rowsAfterIdle(env.stack);
  expect(left, "ledger slots and connections left after the burst").to.deep.equal([]);
  const ratios = results.map((r) => r.bystanderMs / r.baselineMs);
  const each = results.map((r) => `${r.bystanderMs} ms against ${r.baselineMs} ms idle`).join("; ");
  const spread = trials === 1 ? `${ratios[0].toFixed(2)}×` : `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}× over ${trials} trials`;
  const last = results[results.length - 1];
  return {
    section: "Fair use",
    check: throttle ? `Burst of ${asks} asks from one socket, stage throttled (${throttle.rateLimit}/s, burst ${throttle.burstLimit})` : `Burst of ${asks} asks from one socket (fair use)`,
    tried: `${asks} asks sent at once on one json socket; another principal's session asks 1 s later (model: 12 deltas at 12/s after 200 ms)${trials === 1 ? "" : `; ${trials} trials`}`,
    result:
      `bystander answered whole, ${spread} its idle time (${each}); ` +
      `burst (last trial): ${countsText(last.outcomes)}, all accounted for in ${(last.settledMs / 1000).toFixed(1)} s; 0 hung, 0 ledger slots left`,
  };
}
