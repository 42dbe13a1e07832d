/**
 * No silent hang, over the wire (issue 11, finding 2: under a 95% @connections 429 storm, a
 * 3.5 s post latency, or a client that stops reading for a while, json clients got
 * duplicate `start`s then nothing: no `end`, no `error`, no close; 15 of 20 answers never
 * ended in the paused-reader case). Each scenario asks on N json sockets and holds when
 * every client got its `end` or `error`, or had its socket closed, within the stated bound.
 *
 * Issue 21 (finding 2): with 95% of *every* Management API call failing (GET and DELETE too),
 * 10 of 15 json clients were never told: the writer gave up on a connection, then gave up on
 * closing it. So the storms here fail every operation (POST, GET, DELETE) with 429, 5xx or a
 * timeout, and every DynamoDB call the answering path makes (ledger, connection lookup,
 * session listing, journal, memory) with throttling, 5xx or a call that never answers.
 *
 * The bounds come from the writer's documented budget (functions/stream/writer.ts and
 * aws.ts): a post is retried at most 10 times with full-jitter waits capped at 1 s (at most
 * 5.575 s of waiting per frame) and times out after 3 s; a json connection the writer gives
 * up on is closed with DeleteConnection, retried for CLOSE_BUDGET_MS with waits capped at
 * CLOSE_RETRY_CAP_MS; a DynamoDB attempt times out after DYNAMODB_REQUEST_TIMEOUT_MS (10 s; 3 attempts). `npm run reliability` runs them with those defaults;
 * `npm test` with a smaller budget (BUDGETS.test.hangPosts), the same logic at a fraction of
 * the wait.
 */
import { expect } from "chai";
import type { ConnectionsApiBehaviour } from "../../local/gateway";
import type { LocalStack } from "../../local/stack";
import { CLOSE_BUDGET_MS } from "../../functions/stream/writer";
import { DYNAMO_MAX_ATTEMPTS, DYNAMO_REQUEST_TIMEOUT_MS } from "../../functions/shared/dynamo-timeouts";
import { startDynamoFaultProxy, withDynamoEndpoint, type DynamoFault, type DynamoFaultProxy } from "./dynamo-faults";
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
  /** A DynamoDB attempt's timeout (DYNAMODB_REQUEST_TIMEOUT_MS; deployed: 10 s). */
  readonly dynamoTimeoutMs: number;
}

/** The deployed defaults, with posts slower than their 3 s timeout (the attack run's 3.5 s). */
export const DEPLOYED_POST_BUDGET: PostBudget = { retries: 10, timeoutMs: 3000, latencyMs: 3500, dynamoTimeoutMs: DYNAMO_REQUEST_TIMEOUT_MS };

/** Longest the writer waits between retries of one frame: Σ min(1000, 25·2^n) for n below the retries. */
function retryWaitBudgetMs(budget: PostBudget): number {
  return Array.from({ length: budget.retries }, (_, n) => Math.min(1000, 25 * 2 ** n)).reduce((a, b) => a + b, 0);
}
/** Frames one answer can take at most: start, one per delta, end. */
const MAX_FRAMES = HANG_DELTAS.length + 2;

/**
 * DynamoDB calls one WebSocket answer makes one after another, each of which may take its whole
 * budget: the route's connection lookup, the two ledger slots, the session listing (the
 * journal's creation runs beside it), the memory read, the final checkpoint, the memory write.
 */
const SERIAL_DYNAMO_CALLS = 7;
/** One DynamoDB call's worst case: every attempt times out, plus the SDK's backoff between them (≤ 1 s each for throttling). */
const dynamoCallBudgetMs = (budget: PostBudget) => DYNAMO_MAX_ATTEMPTS * budget.dynamoTimeoutMs + (DYNAMO_MAX_ATTEMPTS - 1) * 1000;

/** Per scenario: the most one client may wait for its `end`/`error` or its close, from its ask. */
export function hangBoundsMs(budget: PostBudget) {
  return {
    /**
     * Every frame may use the whole retry budget of failed posts before it goes through or the
     * connection is given up; then the close has its own budget.
     */
    storm: MAX_FRAMES * retryWaitBudgetMs(budget) + CLOSE_BUDGET_MS + 5_000,
    /** A refusal is one frame: its retry budget, then the close's. */
    refusal: retryWaitBudgetMs(budget) + CLOSE_BUDGET_MS + 5_000,
    /** The first frame times out on every attempt with the waits between, then the close's budget. */
    latency: (budget.retries + 1) * budget.timeoutMs + retryWaitBudgetMs(budget) + CLOSE_BUDGET_MS + 5_000,
    /** Every DynamoDB call on the answer's path takes its whole budget, then the answer itself. */
    dynamo: SERIAL_DYNAMO_CALLS * dynamoCallBudgetMs(budget) + 5_000,
    /** The pause, then what was queued while paused arrives at once. */
    pausedAfterResumeMs: 5_000,
  } as const;
}

export interface HangEnv {
  readonly stack: LocalStack;
  readonly budget: PostBudget;
  /** In front of the stack's dynalite: the DynamoDB storms fail calls through it. */
  readonly proxy: DynamoFaultProxy;
  close(): Promise<void>;
}

export async function startHangEnv(budget: PostBudget = DEPLOYED_POST_BUDGET): Promise<HangEnv> {
  const credential = attackerCredential();
  const stack = await startReliabilityStack({
    credentials: [credential],
    bedrockBehavior: { deltas: HANG_DELTAS, deltasPerSecond: 100, firstTokenDelayMs: 10 },
    env: {
      STREAM_POST_RETRIES: String(budget.retries),
      STREAM_POST_TIMEOUT_MS: String(budget.timeoutMs),
      DYNAMODB_REQUEST_TIMEOUT_MS: String(budget.dynamoTimeoutMs),
    },
  });
  const proxy = await startDynamoFaultProxy(stack.dynamo.endpoint);
  return {
    stack,
    budget,
    proxy,
    async close() {
      await stack.close();
      await proxy.close();
    },
  };
}

interface Told {
  readonly outcome: string;
  readonly ms: number;
}

let sequence = 0;

/** Asks on `clients` fresh json sockets and waits, per client, for its end/error or its close. */
async function askAndWait(
  stack: LocalStack,
  clients: number,
  tag: string,
  limitMs: number,
  hooks: {
    duringAsk?: (client: Client) => Promise<void>;
    connected?: () => void;
    wrap?: <T>(run: () => Promise<T>) => Promise<T>;
    /** What each client asks. @default a question the stack answers */
    question?: string;
  } = {},
): Promise<Told[]> {
  const opened: Client[] = [];
  const { duringAsk, connected, wrap = (run) => run(), question = "Do answers end?" } = hooks;
  try {
    for (let i = 0; i < clients; i++) opened.push(await connect(stack, `hang-${tag}-${++sequence}`));
    // The storm starts once every client is connected: it is the answer's path that is under test.
    connected?.();
    return await wrap(() => Promise.all(
      opened.map(async (client, i) => {
        const requestId = `hang-${tag}-${i}`;
        const started = Date.now();
        await client.ask(requestId, question);
        await duringAsk?.(client);
        await client.until(() => client.terminal(requestId) !== undefined, `end, error or close for ${requestId}`, limitMs);
        const ms = Date.now() - started;
        const terminal = client.terminal(requestId);
        if (terminal?.type === "end") {
          // A post that timed out may have arrived and been sent again: the client drops a seq it has seen.
          const seen = new Set<number>();
          const text = client
            .of(requestId)
            .filter((e) => !seen.has(e.seq) && seen.add(e.seq) !== undefined)
            .flatMap((e) => (e.type === "delta" ? [e.text] : []))
            .join("");
          return { outcome: text === HANG_TEXT ? "end (whole)" : "end (not whole)", ms };
        }
        if (terminal?.type === "error") return { outcome: `error ${(terminal as { code: string }).code}`, ms };
        return { outcome: `closed ${client.closeStatus?.code}`, ms };
      }),
    ));
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

/** How a Management API storm fails a call: LimitExceededException, a 5xx, or no answer within the writer's timeout. */
export type ManagementFault = "429" | "5xx" | "timeout";

const MANAGEMENT_FAULT_TEXT: Record<ManagementFault, string> = {
  "429": "answer 429 LimitExceededException",
  "5xx": "answer 500 InternalServerErrorException",
  timeout: "take longer than the post timeout",
};

/** 95% of every @connections call (POST, GET and DELETE) fails with `fault`. */
export async function managementApiStorm(env: HangEnv, clients: number, seed: number, fault: ManagementFault): Promise<Figure> {
  const random = seededRandom(seed);
  const behaviour: ConnectionsApiBehaviour =
    fault === "timeout"
      ? { latencyMs: () => (random() < 0.95 ? env.budget.latencyMs : 0) }
      : { fault: () => (random() < 0.95 ? { status: fault === "429" ? 429 : 500 } : undefined) };
  const before = env.stack.gateway.stats().connectionsApi;
  const bounds = hangBoundsMs(env.budget);
  const told = await askAndWait(env.stack, clients, `storm-${fault}`, bounds.storm, {
    connected: () => env.stack.gateway.setConnectionsApiBehaviour(behaviour),
  });
  const after = env.stack.gateway.stats().connectionsApi;
  const { outcomes, maxMs } = summary(told);
  for (const outcome of Object.keys(outcomes)) expect(outcome, `a client ended badly: ${countsText(outcomes)}`).to.not.equal("end (not whole)");
  await expectNoRows(env.stack);
  const calls = `${after.posts - before.posts} posts, ${after.deletes - before.deletes} DeleteConnection, ${after.gets - before.gets} GetConnection`;
  return {
    section: "No silent hang",
    check: `@connections storm: 95% of every call ${fault === "timeout" ? "times out" : `answers ${fault}`}`,
    tried: `${clients} json clients ask while 95% of all @connections calls (POST, GET, DELETE) ${MANAGEMENT_FAULT_TEXT[fault]} (seed ${seed}); ${calls}`,
    result: `every client told: ${countsText(outcomes)}; slowest wait ${(maxMs / 1000).toFixed(1)} s against a bound of ${(bounds.storm / 1000).toFixed(1)} s (${MAX_FRAMES} frames × the ${(retryWaitBudgetMs(env.budget) / 1000).toFixed(1)} s retry budget + the ${CLOSE_BUDGET_MS / 1000} s close budget + 5 s); 0 hung, 0 rows left`,
  };
}

/** Longest question the ask route takes (protocol.ts); one character more is refused before any work. */
const REFUSED_QUESTION = "x".repeat(4001);

/**
 * Refusals under a Management API storm (issue 21 residue): the ask route refuses before the
 * hand-off (here a question over 4,000 characters; `busy` and a reused `requestId` take the
 * same path) by posting an `error` frame. Posted once, 95% of them were lost and their
 * clients waited with open sockets; now each is retried as an answer's frame is, and a json
 * socket it cannot reach is closed.
 */
export async function refusalStorm(env: HangEnv, clients: number, seed: number, fault: Exclude<ManagementFault, "timeout">): Promise<Figure> {
  const random = seededRandom(seed);
  const before = env.stack.gateway.stats().connectionsApi;
  const bounds = hangBoundsMs(env.budget);
  const told = await askAndWait(env.stack, clients, `refusal-${fault}`, bounds.refusal, {
    question: REFUSED_QUESTION,
    connected: () => env.stack.gateway.setConnectionsApiBehaviour({ fault: () => (random() < 0.95 ? { status: fault === "429" ? 429 : 500 } : undefined) }),
  });
  const after = env.stack.gateway.stats().connectionsApi;
  const { outcomes, maxMs } = summary(told);
  for (const outcome of Object.keys(outcomes)) expect(outcome, `a refused client got something else: ${countsText(outcomes)}`).to.match(/^(error bad_request|closed)/);
  await expectNoRows(env.stack);
  return {
    section: "No silent hang",
    check: `Refusals under a @connections storm: 95% of every call answers ${fault}`,
    tried: `${clients} json clients each send an ask the route refuses (a 4,001-character question) while 95% of all @connections calls ${MANAGEMENT_FAULT_TEXT[fault]} (seed ${seed}); ${after.posts - before.posts} posts, ${after.deletes - before.deletes} DeleteConnection`,
    result: `every client told: ${countsText(outcomes)}; slowest wait ${(maxMs / 1000).toFixed(1)} s against a bound of ${(bounds.refusal / 1000).toFixed(1)} s (the ${(retryWaitBudgetMs(env.budget) / 1000).toFixed(1)} s retry budget of one frame + the ${CLOSE_BUDGET_MS / 1000} s close budget + 5 s); 0 hung, 0 rows left`,
  };
}

const DYNAMO_FAULT_TEXT: Record<Exclude<DynamoFault, undefined>, string> = {
  throttle: "answer 400 ProvisionedThroughputExceededException",
  error: "answer 500 InternalServerError",
  drop: "have their connection reset",
  hang: "never answer",
};

/**
 * 95% of every DynamoDB call the answering path makes fails with `fault`: the `ask` route's
 * connection lookup, the ask ledger, the writer's session listing, the journal, the memory.
 */
export async function dynamoStorm(env: HangEnv, clients: number, seed: number, fault: Exclude<DynamoFault, undefined>): Promise<Figure> {
  const random = seededRandom(seed);
  const bounds = hangBoundsMs(env.budget);
  const before = { ...env.proxy.failed };
  const told = await askAndWait(env.stack, clients, `dynamo-${fault}`, bounds.dynamo, {
    connected: () => env.proxy.setRule(() => (random() < 0.95 ? fault : undefined)),
    wrap: (run) => withDynamoEndpoint(env.proxy.endpoint, run),
  }).finally(() => env.proxy.setRule(undefined));
  const { outcomes, maxMs } = summary(told);
  for (const outcome of Object.keys(outcomes)) expect(outcome, `a client ended badly: ${countsText(outcomes)}`).to.not.equal("end (not whole)");
  await expectNoRows(env.stack);
  const failed = countsText(Object.fromEntries(Object.entries(env.proxy.failed).map(([operation, n]) => [operation, n - (before[operation] ?? 0)])));
  return {
    section: "No silent hang",
    check: `DynamoDB storm: 95% of every call ${fault === "hang" ? "times out" : fault === "throttle" ? "throttled" : "answers 5xx"}`,
    tried: `${clients} json clients ask while 95% of the answering path's DynamoDB calls (connection lookup, ask ledger, session listing, journal, memory) ${DYNAMO_FAULT_TEXT[fault]} (seed ${seed}); failed calls: ${failed}`,
    result: `every client told: ${countsText(outcomes)}; slowest wait ${(maxMs / 1000).toFixed(1)} s against a bound of ${(bounds.dynamo / 1000).toFixed(1)} s (${SERIAL_DYNAMO_CALLS} calls in a row × ${DYNAMO_MAX_ATTEMPTS} attempts of ${env.budget.dynamoTimeoutMs / 1000} s + backoff, + 5 s); 0 hung, 0 rows left`,
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
  const told = await askAndWait(env.stack, clients, "paused", pauseMs + bounds.pausedAfterResumeMs, {
    duringAsk: async (client) => {
      const socket = (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      socket.pause();
      setTimeout(() => socket.resume(), pauseMs);
    },
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
