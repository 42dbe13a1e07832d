/**
 * No silent hang, over the wire (issue 11, finding 2: under a 95% @connections 429 storm, a
 * 3.5 s post latency, or a client that stops reading for a while, json clients got
 * duplicate `start`s then nothing: no `end`, no `error`, no close; 15 of 20 answers never
 * ended in the paused-reader case). Each scenario asks on N json sockets and holds when
 * every client got its `end` or `error`, or had its socket closed, within the stated bound.
 *
 * The bounds come from the writer's documented budget (functions/stream/writer.ts and
 * aws.ts): a post is retried at most 10 times with full-jitter waits capped at 1 s (at most
 * 5.575 s of waiting per frame) and times out after 3 s; a json connection the writer gives
 * up on is closed with DeleteConnection. `npm run reliability` runs them with those defaults;
 * `npm test` with a smaller budget (BUDGETS.test.hangPosts), the same logic at a fraction of
 * the wait.
 */
import { expect } from "chai";
import type { ConnectionsApiBehaviour } from "../../local/gateway";
import type { LocalStack } from "../../local/stack";
import { countsText, tally, type Figure } from "./figures";
import { attackerCredential } from "./fuzz-handlers";
import { Client, connect, rowsAfterIdle, seededRandom, startReliabilityStack } from "./harness";

/** The answer of these scenarios: 10 deltas at 100/s, so it spans several frames. */
export const HANG_DELTAS = ["No ", "client ", "waits ", "for ", "an ", "end ", "that ", "never ", "comes, ", "ever."];
const HANG_TEXT = HANG_DELTAS.join("");

/** The writer's budget for one post, as the scenario's stack sets it (STREAM_POST_RETRIES, STREAM_POST_TIMEOUT_MS). */
export interface PostBudget {
  /** Retries of one post (the writer's default: 10). */
  readonly retries: number;
  /** A post's timeout (the transport's default: 3000 ms). */
  readonly timeoutMs: number;
  /** The @connections latency of the slow-post scenario: past the timeout. */
  readonly latencyMs: number;
}

/** The deployed defaults, with posts slower than their 3 s timeout (the attack run's 3.5 s). */
export const DEPLOYED_POST_BUDGET: PostBudget = { retries: 10, timeoutMs: 3000, latencyMs: 3500 };

/** Longest the writer waits between retries of one frame: Σ min(1000, 25·2^n) for n below the retries. */
function retryWaitBudgetMs(budget: PostBudget): number {
  return Array.from({ length: budget.retries }, (_, n) => Math.min(1000, 25 * 2 ** n)).reduce((a, b) => a + b, 0);
}
/** Frames one answer can take at most: start, one per delta, end. */
const MAX_FRAMES = HANG_DELTAS.length + 2;

/** Per scenario: the most one client may wait for its `end`/`error` or its close, from its ask. */
export function hangBoundsMs(budget: PostBudget) {
  return {
    /** Every frame may use the whole retry budget of instant 429s before it goes through or the connection is dropped. */
    storm: MAX_FRAMES * retryWaitBudgetMs(budget) + 5_000,
    /** The first frame times out on every attempt with the waits between, then DeleteConnection. */
    latency: (budget.retries + 1) * budget.timeoutMs + retryWaitBudgetMs(budget) + 5_000,
    /** The pause, then what was queued while paused arrives at once. */
    pausedAfterResumeMs: 5_000,
  } as const;
}

export interface HangEnv {
  readonly stack: LocalStack;
  readonly budget: PostBudget;
  close(): Promise<void>;
}

export async function startHangEnv(budget: PostBudget = DEPLOYED_POST_BUDGET): Promise<HangEnv> {
  const credential = attackerCredential();
  const stack = await startReliabilityStack({
    credentials: [credential],
    bedrockBehavior: { deltas: HANG_DELTAS, deltasPerSecond: 100, firstTokenDelayMs: 10 },
    env: { STREAM_POST_RETRIES: String(budget.retries), STREAM_POST_TIMEOUT_MS: String(budget.timeoutMs) },
  });
  return { stack, budget, close: () => stack.close() };
}

interface Told {
  readonly outcome: string;
  readonly ms: number;
}

let sequence = 0;

/** Asks on `clients` fresh json sockets and waits, per client, for its end/error or its close. */
async function askAndWait(stack: LocalStack, clients: number, tag: string, limitMs: number, duringAsk?: (client: Client) => Promise<void>): Promise<Told[]> {
  const opened: Client[] = [];
  try {
    for (let i = 0; i < clients; i++) opened.push(await connect(stack, `hang-${tag}-${++sequence}`));
    return await Promise.all(
      opened.map(async (client, i) => {
        const requestId = `hang-${tag}-${i}`;
        const started = Date.now();
        await client.ask(requestId, "Do answers end?");
        await duringAsk?.(client);
        await client.until(() => client.terminal(requestId) !== undefined, `end, error or close for ${requestId}`, limitMs);
        const ms = Date.now() - started;
        const terminal = client.terminal(requestId);
        if (terminal?.type === "end") {
          const text = client.of(requestId).flatMap((e) => (e.type === "delta" ? [e.text] : [])).join("");
          return { outcome: text === HANG_TEXT ? "end (whole)" : "end (not whole)", ms };
        }
        if (terminal?.type === "error") return { outcome: `error ${(terminal as { code: string }).code}`, ms };
        return { outcome: `closed ${client.closeStatus?.code}`, ms };
      }),
    );
  } finally {
    stack.gateway.setConnectionsApiBehaviour({});
    await Promise.all(opened.map((client) => client.close()));
    await stack.idle();
  }
}

function summary(told: readonly Told[]): { outcomes: Record<string, number>; maxMs: number } {
  const outcomes: Record<string, number> = {};
  for (const t of told) tally(outcomes, t.outcome);
  return { outcomes, maxMs: Math.max(...told.map((t) => t.ms)) };
}

async function expectNoRows(stack: LocalStack): Promise<void> {
  expect(await rowsAfterIdle(stack), "rows left once every socket closed").to.deep.equal([]);
}

/** Every @connections post fails with 429 with probability 0.95 (DeleteConnection is not throttled here). */
export async function stormHang(env: HangEnv, clients: number, seed: number): Promise<Figure> {
  const random = seededRandom(seed);
  const behaviour: ConnectionsApiBehaviour = { fault: (request) => (request.method === "POST" && random() < 0.95 ? { status: 429 } : undefined) };
  env.stack.gateway.setConnectionsApiBehaviour(behaviour);
  const before = env.stack.gateway.stats().connectionsApi;
  const bounds = hangBoundsMs(env.budget);
  const told = await askAndWait(env.stack, clients, "storm", bounds.storm);
  const after = env.stack.gateway.stats().connectionsApi;
  const { outcomes, maxMs } = summary(told);
  for (const outcome of Object.keys(outcomes)) expect(outcome, `a client ended badly: ${countsText(outcomes)}`).to.not.equal("end (not whole)");
  await expectNoRows(env.stack);
  return {
    section: "No silent hang",
    check: "@connections 429 storm (95% of posts)",
    tried: `${clients} json clients ask while 95% of PostToConnection calls answer 429 (seed ${seed}); ${after.posts - before.posts} posts, ${(after.errors[429] ?? 0) - (before.errors[429] ?? 0)} refused, ${after.deletes - before.deletes} DeleteConnection`,
    result: `every client told: ${countsText(outcomes)}; slowest ${(maxMs / 1000).toFixed(1)} s (bound ${(bounds.storm / 1000).toFixed(1)} s: ${MAX_FRAMES} frames × the ${(retryWaitBudgetMs(env.budget) / 1000).toFixed(1)} s retry budget + 5 s); 0 hung, 0 rows left`,
  };
}

/** Every @connections post takes longer than the writer's post timeout. */
export async function latencyHang(env: HangEnv, clients: number): Promise<Figure> {
  const { latencyMs, timeoutMs, retries } = env.budget;
  const bounds = hangBoundsMs(env.budget);
  env.stack.gateway.setConnectionsApiBehaviour({ latencyMs: (request) => (request.method === "POST" ? latencyMs : 0) });
  const before = env.stack.gateway.stats().connectionsApi;
  const told = await askAndWait(env.stack, clients, "latency", bounds.latency);
  const after = env.stack.gateway.stats().connectionsApi;
  const { outcomes, maxMs } = summary(told);
  for (const outcome of Object.keys(outcomes)) expect(outcome, `a client ended badly: ${countsText(outcomes)}`).to.not.equal("end (not whole)");
  await expectNoRows(env.stack);
  return {
    section: "No silent hang",
    check: `@connections posts taking ${latencyMs / 1000} s`,
    tried: `${clients} json clients ask while every PostToConnection takes ${latencyMs / 1000} s (the writer's post timeout is ${timeoutMs / 1000} s, ${retries} retries); ${after.posts - before.posts} posts, ${after.deletes - before.deletes} DeleteConnection`,
    result: `every client told: ${countsText(outcomes)}; slowest ${(maxMs / 1000).toFixed(1)} s (bound ${(bounds.latency / 1000).toFixed(1)} s: ${retries + 1} timed-out attempts + the retry waits + 5 s); 0 hung, 0 rows left`,
  };
}

/** Each client stops reading right after asking, for `pauseMs`, then reads again. */
export async function pausedReaderHang(env: HangEnv, clients: number, pauseMs: number): Promise<Figure> {
  const before = env.stack.gateway.stats().connectionsApi;
  const bounds = hangBoundsMs(env.budget);
  const told = await askAndWait(env.stack, clients, "paused", pauseMs + bounds.pausedAfterResumeMs, async (client) => {
    const socket = (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    setTimeout(() => socket.resume(), pauseMs);
  });
  const after = env.stack.gateway.stats().connectionsApi;
  const { outcomes, maxMs } = summary(told);
  for (const t of told) expect(t.ms, "told only after the reader resumed").to.be.at.least(pauseMs - 50);
  for (const outcome of Object.keys(outcomes)) expect(outcome, `a client ended badly: ${countsText(outcomes)}`).to.not.equal("end (not whole)");
  await expectNoRows(env.stack);
  return {
    section: "No silent hang",
    check: "Clients that stop reading for a while",
    tried: `${clients} json clients ask, then stop reading for ${(pauseMs / 1000).toFixed(0)} s; ${after.posts - before.posts} posts, ${after.bufferFull - before.bufferFull} refused for a full client buffer`,
    result: `every client told: ${countsText(outcomes)}; slowest ${(maxMs / 1000).toFixed(1)} s after its ask (bound: the pause + ${bounds.pausedAfterResumeMs / 1000} s); 0 hung, 0 rows left`,
  };
}
