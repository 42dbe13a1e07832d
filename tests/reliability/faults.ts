/**
 * Faults over the wire on the local stack: DynamoDB down at connect, ask and disconnect time,
 * @connections throttling storms and 5xx, Bedrock failing before and inside the stream,
 * stalling, and running out of the Lambda time budget, and clients vanishing at random
 * points. After each: every client got its answer or a clear error (or was closed), the
 * answer is whole where one is possible, and no row is left once the sockets are closed.
 */
import { journalPositions } from "../unit/stream-fakes";
import { expect } from "chai";
import { CONTINUE_HINT } from "../../functions/fulfillment/continuation";
import { CUT_SHORT_NOTE } from "../../functions/fulfillment/format";
import type { Envelope } from "../../functions/shared/protocol";
import type { LocalCredential } from "../../local/gateway";
import type { LocalStack } from "../../local/stack";
import { countsText, type Figure } from "./figures";
import { isConnectionLookup, isSessionRead, startDynamoFaultProxy, withDynamoEndpoint, type DynamoFaultProxy } from "./dynamo-faults";
import { attackerCredential } from "./fuzz-handlers";
import { Client, connect, pool, rowsAfterIdle, seededRandom, startReliabilityStack } from "./harness";

/** What the Bedrock emulator answers in these scenarios: multi-byte characters split across deltas included. */
export const FAULT_DELTAS = ["Reliable ", "answers ", "arrive ", "whole: ", "日本", "語 ", "\ud83d", "\ude00", " and ", "done."];
export const FAULT_TEXT = FAULT_DELTAS.join("");

export interface FaultEnv {
  readonly stack: LocalStack;
  readonly credential: LocalCredential;
  readonly proxy: DynamoFaultProxy;
}

/** The stall bound of the stall scenario: small, so a stall is reported long before any timeout. */
export const FAULT_STALL_MS = 1000;
/** The fulfillment timeout of the time-budget scenario: 1.5 s of generation before the 5 s margin. */
export const TIME_BUDGET_TIMEOUT_MS = 6_500;

/**
 * The local stack and a DynamoDB fault proxy in front of its dynalite. `slowModel`: a model
 * slower than the fulfillment timeout (the time-budget scenario); otherwise a fast one whose
 * answers still span several frames.
 */
export async function startFaultEnv(slowModel = false): Promise<FaultEnv & { close(): Promise<void> }> {
  const credential = attackerCredential();
  const stack = await startReliabilityStack(
    slowModel
      ? {
          credentials: [credential],
          fulfillmentTimeoutMs: TIME_BUDGET_TIMEOUT_MS,
          bedrockBehavior: { deltas: Array.from({ length: 400 }, (_, i) => `word${i} `), deltasPerSecond: 40, firstTokenDelayMs: 0 },
        }
      : { credentials: [credential], bedrockBehavior: { deltas: FAULT_DELTAS, deltasPerSecond: 100, firstTokenDelayMs: 10 } },
  );
  const proxy = await startDynamoFaultProxy(stack.dynamo.endpoint);
  return {
    stack,
    credential,
    proxy,
    async close() {
      await stack.close();
      await proxy.close();
    },
  };
}

let sequence = 0;
const nextId = (prefix: string) => `${prefix}-${++sequence}`;

/** The delta texts of a request, concatenated, and checks of its envelope order. */
export function expectWholeAnswer(client: Client, requestId: string, text: string): Envelope {
  const envelopes = client.of(requestId);
  expect(envelopes.map((e) => e.seq), "seq: the answer's position").to.deep.equal(journalPositions(envelopes));
  expect(envelopes[0]?.type, "first envelope").to.equal("start");
  const end = envelopes[envelopes.length - 1];
  expect(end?.type, `last envelope: ${JSON.stringify(end)}`).to.equal("end");
  const streamed = envelopes.flatMap((e) => (e.type === "delta" ? [e.text] : [])).join("");
  expect(streamed, "deltas concatenate to the generated text").to.equal(text);
  expect((end as Extract<Envelope, { type: "end" }>).final, "final answer").to.equal(text.trim());
  return end;
}

/** Asks on a json socket and waits for the terminal envelope. */
async function askJson(client: Client, question = "How do answers stream?"): Promise<{ requestId: string; terminal: Envelope | undefined }> {
  const requestId = nextId("q");
  await client.ask(requestId, question);
  return { requestId, terminal: await client.settled(requestId) };
}

async function expectRefusedUpgrade(opening: Promise<Client>): Promise<number> {
  try {
    const client = await opening;
    await client.close();
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status !== undefined) return status;
    throw error;
  }
  throw new Error("the connection was accepted during the outage");
}

/**
 * Runs a scenario with a connect function whose clients are all closed at the end, whatever
 * happened: a failing scenario must not leave sockets (and rows) for the next one.
 */
async function scenario<T>(env: FaultEnv, run: (open: (session: string, format?: "json" | "text") => Promise<Client>) => Promise<T>): Promise<T> {
  const clients: Client[] = [];
  const open = async (session: string, format: "json" | "text" = "json") => {
    const client = await connect(env.stack, session, { credential: env.credential, format });
    clients.push(client);
    return client;
  };
  try {
    return await run(open);
  } finally {
    env.stack.gateway.setConnectionsApiBehaviour({});
    env.proxy.setRule(undefined);
    await Promise.all(clients.map((client) => client.close()));
    await env.stack.idle();
  }
}

async function expectNoRows(stack: LocalStack, what: string): Promise<void> {
  expect(await rowsAfterIdle(stack), `rows left after ${what}`).to.deep.equal([]);
}

async function withEnv<T>(values: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  Object.assign(process.env, values);
  try {
    return await run();
  } finally {
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** DynamoDB missing or unreachable during `$connect`: the upgrade is refused with 500, nothing is written. */
export function dynamoDownAtConnect(env: FaultEnv): Promise<Figure> {
  return scenario(env, async (open) => {
    const { stack, credential, proxy } = env;
    const session = nextId("down-at-connect");
    const missing = await withEnv({ CONNECTIONS_TABLE: "missing-table" }, () => expectRefusedUpgrade(connect(stack, session, { credential })));
    expect(missing, "upgrade status with the table missing").to.equal(500);
    proxy.setRule(() => "drop");
    const unreachable = await withDynamoEndpoint(proxy.endpoint, () => expectRefusedUpgrade(connect(stack, session, { credential })));
    proxy.setRule(undefined);
    expect(unreachable, "upgrade status with DynamoDB unreachable").to.equal(500);
    await expectNoRows(stack, "refused connects");
    // Once DynamoDB is back, the same session connects and is answered.
    const client = await open(session);
    const { requestId } = await askJson(client);
    expectWholeAnswer(client, requestId, FAULT_TEXT);
    await client.close();
    await expectNoRows(stack, "the recovery");
    return {
      section: "Faults" as const,
      check: "DynamoDB down at `$connect` (table missing; endpoint dropping connections)",
      tried: "2 connects during the outage, 1 after",
      result: `upgrades refused with ${missing} / ${unreachable}; recovered; rows leaked 0`,
    };
  });
}

/**
 * DynamoDB failing at ask time: the `ask` route's lookup (the client gets a retryable
 * `internal` error; throttled, a retryable `busy`: overload is not a failure, issue 21 finding
 * 6), the writer's session query (the asker still gets its answer), the conversation memory
 * (the answer comes without history).
 */
export function dynamoDownAtAsk(env: FaultEnv): Promise<Figure> {
  return scenario(env, async (open) => {
    const { stack, proxy } = env;
    const client = await open(nextId("down-at-ask"));
    const outcomes: string[] = [];
    await withDynamoEndpoint(proxy.endpoint, async () => {
      proxy.setRule((call) => (isConnectionLookup(call) ? "error" : undefined));
      const lookup = await askJson(client);
      expect(lookup.terminal, "error envelope when the connection cannot be looked up").to.deep.include({ type: "error", code: "internal", retryable: true });
      outcomes.push("lookup down → error internal (retryable)");

      // DynamoDB's throttling answer, after the SDK's own retries (Programming.Errors.html).
      proxy.setRule((call) => (isConnectionLookup(call) ? "throttle" : undefined));
      const throttled = await askJson(client);
      expect(throttled.terminal, "a throttled lookup is overload: busy, not internal").to.deep.include({ type: "error", code: "busy", retryable: true });
      outcomes.push("lookup throttled → error busy (retryable)");

      proxy.setRule((call) => (isSessionRead(call) ? "error" : undefined));
      const listing = await askJson(client);
      expect(listing.terminal?.type, "the asker is answered even when its session cannot be listed").to.equal("end");
      expectWholeAnswer(client, listing.requestId, FAULT_TEXT);
      outcomes.push("session query down → answer delivered to the asker");

      const memoryTable = stack.dynamo.memoryTable;
      proxy.setRule((call) => (call.body.TableName === memoryTable ? "drop" : undefined));
      const memory = await askJson(client);
      expectWholeAnswer(client, memory.requestId, FAULT_TEXT);
      outcomes.push("memory down → answer without history");
      proxy.setRule(undefined);
    });
    const after = await askJson(client);
    expectWholeAnswer(client, after.requestId, FAULT_TEXT);
    await client.close();
    await expectNoRows(stack, "the ask-time outages");
    return {
      section: "Faults" as const,
      check: "DynamoDB down at ask time (connection lookup; session query; memory)",
      tried: `4 asks during outages, 1 after; failed calls ${countsText(proxy.failed)}`,
      result: `${outcomes.join("; ")}; no hung client; rows leaked 0`,
    };
  });
}

/** DynamoDB down during `$disconnect`: the row outlives its socket until the next answer meets its 410 Gone. */
export function dynamoDownAtDisconnect(env: FaultEnv): Promise<Figure> {
  return scenario(env, async (open) => {
    const { stack, proxy } = env;
    const session = nextId("down-at-disconnect");
    const first = await open(session);
    await withDynamoEndpoint(proxy.endpoint, async () => {
      proxy.setRule(() => "error");
      await first.close();
      await stack.idle();
      proxy.setRule(undefined);
    });
    // The session's item still lists the connection, and the connection's lookup item names the session.
    const orphans = (await rowsAfterIdle(stack)).filter((row) => row.sessionId === session || row.session === session).length;
    expect(orphans, "rows the failed $disconnect left (session entry + lookup item)").to.equal(2);
    const second = await open(session);
    const { requestId } = await askJson(second);
    expectWholeAnswer(second, requestId, FAULT_TEXT);
    await second.close();
    await expectNoRows(stack, "the next answer found the orphan gone");
    return {
      section: "Faults" as const,
      check: "DynamoDB down at `$disconnect`",
      tried: "1 disconnect during the outage, then an answer to the same session",
      result: "orphan row removed by the writer at its 410 Gone; answer whole; rows leaked 0",
    };
  });
}

/** Several sessions asking at once (json and text sockets); every answer must arrive whole. */
async function concurrentAsks(open: (session: string, format?: "json" | "text") => Promise<Client>, sessions: number, label: string): Promise<{ answered: number }> {
  const clients = await pool(Array.from({ length: sessions }, (_, i) => i), 10, async (i) => {
    const format = i % 4 === 3 ? ("text" as const) : ("json" as const);
    return { format, client: await open(nextId(label), format) };
  });
  await Promise.all(
    clients.map(async ({ format, client }) => {
      if (format === "json") {
        const { requestId } = await askJson(client);
        expectWholeAnswer(client, requestId, FAULT_TEXT);
      } else {
        await client.ask(nextId("q"), "How do answers stream?");
        await client.until(() => client.messages.map((m) => m.text).join("") === FAULT_TEXT, "the whole answer as text frames");
      }
    }),
  );
  await Promise.all(clients.map(({ client }) => client.close()));
  return { answered: clients.length };
}

/**
 * API Gateway's throttle as a token bucket over every @connections post: `ratePerSecond`
 * refilled, `burst` at most; a post finding the bucket empty gets 429.
 */
export function tokenBucket(ratePerSecond: number, burst: number, now: () => number = Date.now): () => boolean {
  let tokens = burst;
  let last = now();
  return () => {
    const at = now();
    tokens = Math.min(burst, tokens + ((at - last) / 1000) * ratePerSecond);
    last = at;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

export interface StormOptions {
  readonly sessions: number;
  /** Throttling storm: the account's post rate (and burst) far below what the answers ask for. */
  readonly ratePerSecond?: number;
  readonly burst?: number;
  /** 5xx: the share of posts that fail. */
  readonly share?: number;
  readonly seed: number;
}

/** @connections throttling every post over a token bucket's rate (429), or failing a share of them with 5xx. */
export function connectionsApiFaults(env: FaultEnv, kind: "429" | "5xx", options: StormOptions): Promise<Figure> {
  return scenario(env, async (open) => {
    const { stack } = env;
    const random = seededRandom(options.seed);
    const allow = tokenBucket(options.ratePerSecond ?? 100, options.burst ?? 10);
    const before = stack.gateway.stats().connectionsApi.errors;
    stack.gateway.setConnectionsApiBehaviour({
      fault: (request) => {
        if (request.method !== "POST") return undefined;
        if (kind === "429") return allow() ? undefined : { status: 429 };
        return random() < (options.share ?? 0.2) ? { status: random() < 0.5 ? 500 : 503 } : undefined;
      },
    });
    let answered: number;
    try {
      ({ answered } = await concurrentAsks(open, options.sessions, `storm-${kind}`));
    } finally {
      stack.gateway.setConnectionsApiBehaviour({});
    }
    await expectNoRows(stack, `the ${kind} storm`);
    const after = stack.gateway.stats().connectionsApi.errors;
    const refused = Object.entries(after).reduce((n, [status, count]) => n + count - (before[Number(status)] ?? 0), 0);
    const what =
      kind === "429"
        ? `posts over ${options.ratePerSecond ?? 100}/s (burst ${options.burst ?? 10}) refused`
        : `${Math.round((options.share ?? 0.2) * 100)}% of posts failed`;
    return {
      section: "Faults" as const,
      check: kind === "429" ? "@connections throttling storm (429 LimitExceededException)" : "@connections 5xx (500 / 503)",
      tried: `${what}, ${options.sessions} concurrent sessions (¼ text format); ${refused} posts refused`,
      result: `${answered}/${options.sessions} answers whole and in order; frames lost 0; rows leaked 0`,
    };
  });
}

/** Bedrock answering 5xx before the stream: once (the SDK retries it away) and for good (a clear retryable error). */
export function bedrockHttpErrors(env: FaultEnv): Promise<Figure> {
  return scenario(env, async (open) => {
    const { stack } = env;
    const bedrock = stack.bedrock!;
    const client = await open(nextId("bedrock-5xx"));
    bedrock.enqueue({ httpError: { type: "InternalServerException" } });
    const once = await askJson(client);
    expectWholeAnswer(client, once.requestId, FAULT_TEXT);
    bedrock.setBehavior({ deltas: FAULT_DELTAS, httpError: { type: "ServiceUnavailableException" } });
    let lasting;
    try {
      lasting = await askJson(client);
    } finally {
      bedrock.setBehavior({ deltas: FAULT_DELTAS });
    }
    expect(lasting.terminal, "error envelope").to.deep.include({ type: "error", code: "model_error", retryable: true });
    await client.close();
    await expectNoRows(stack, "Bedrock 5xx");
    return {
      section: "Faults" as const,
      check: "Bedrock 5xx before the stream",
      tried: "one 500 (InternalServerException); 503 on every attempt",
      result: "once: retried, answer whole; lasting: `error` model_error (retryable); rows leaked 0",
    };
  });
}

/** Bedrock failing inside the stream: an exception event, a reset connection, a stall past STREAM_STALL_MS. */
export function bedrockStreamFaults(env: FaultEnv, stallMs: number): Promise<Figure> {
  return scenario(env, async (open) => {
    const { stack } = env;
    const bedrock = stack.bedrock!;
    const client = await open(nextId("bedrock-stream"));
    const prefix = FAULT_DELTAS.slice(0, 3).join("");
    const streamedOf = (requestId: string) => client.of(requestId).flatMap((e) => (e.type === "delta" ? [e.text] : [])).join("");

    bedrock.enqueue({ streamError: { afterDeltas: 3, type: "modelStreamErrorException" } });
    const exception = await askJson(client);
    expect(exception.terminal, "exception mid-stream").to.deep.include({ type: "error", code: "model_error", retryable: true });
    expect(streamedOf(exception.requestId), "text before the exception").to.equal(prefix);

    bedrock.enqueue({ reset: { afterDeltas: 3 } });
    const reset = await askJson(client);
    expect(reset.terminal, "stream reset").to.deep.include({ type: "error", code: "model_error", retryable: true });
    expect(streamedOf(reset.requestId)).to.equal(prefix);

    const requestsBefore = bedrock.requests.length;
    bedrock.enqueue({ stall: { afterDeltas: 3 } });
    const stall = await withEnv({ STREAM_STALL_MS: String(stallMs) }, () => askJson(client));
    expect(stall.terminal, "stall").to.deep.include({ type: "error", code: "stalled", retryable: true });
    expect(streamedOf(stall.requestId)).to.equal(prefix);
    // The guard aborted the call: the model stopped being waited for before anything timed out.
    expect(await bedrock.requests[requestsBefore].settled, "the stalled Bedrock call").to.equal("aborted");

    await client.close();
    await expectNoRows(stack, "Bedrock stream faults");
    return {
      section: "Faults" as const,
      check: "Bedrock failing mid-stream (exception event; reset; stall)",
      tried: `after 3 deltas each; STREAM_STALL_MS=${stallMs}`,
      result: "text so far delivered, then `error` model_error / model_error / stalled (the stalled call aborted, not waited out); rows leaked 0",
    };
  });
}

/** The job nears its Lambda time budget: it ends the stream with what it has and says so. */
export function timeBudget(env: FaultEnv, fulfillmentTimeoutMs: number): Promise<Figure> {
  return scenario(env, async (open) => {
    const { stack } = env;
    const client = await open(nextId("time-budget"));
    const { requestId, terminal } = await askJson(client);
    expect(terminal?.type, "a final message, not an error or a silence").to.equal("end");
    const end = terminal as Extract<Envelope, { type: "end" }>;
    expect(end.stopReason).to.equal("time_budget");
    const streamed = client.of(requestId).flatMap((e) => (e.type === "delta" ? [e.text] : [])).join("");
    expect(streamed.length, "some text streamed before the budget ran out").to.be.greaterThan(0);
    // The turn is remembered (the asker is known), so the note says how to have the rest.
    expect(end.final, "final = the text so far + the cut-short note").to.equal(`${streamed.trim()}\n\n_${CUT_SHORT_NOTE} ${CONTINUE_HINT}_`);
    await client.close();
    await expectNoRows(stack, "the time budget");
    return {
      section: "Faults" as const,
      check: "Lambda time budget running out mid-answer",
      tried: `fulfillment timeout ${fulfillmentTimeoutMs} ms, a slow model`,
      result: `\`end\` with stopReason time_budget and the text so far (${streamed.length} chars) before the timeout; rows leaked 0`,
    };
  });
}

type Leave = "before-ask" | "after-ask" | "mid-stream" | "after-end" | "stays";
const LEAVES: readonly Leave[] = ["before-ask", "after-ask", "mid-stream", "after-end", "stays"];

/** Sessions whose clients leave at random points (close or drop); the ones that stay get whole answers. */
export function randomDisconnects(env: FaultEnv, sessions: number, seed: number): Promise<Figure> {
  return scenario(env, async (open) => {
    const { stack } = env;
    const random = seededRandom(seed);
    const plans = Array.from({ length: sessions }, () => ({ leave: LEAVES[Math.floor(random() * LEAVES.length)], abrupt: random() < 0.5, afterDeltas: 1 + Math.floor(random() * 4) }));
    const counts: Record<string, number> = {};
    const errorsBefore = stack.gateway.stats().handlerErrors;
    await Promise.all(
      plans.map(async (plan, i) => {
        counts[plan.leave] = (counts[plan.leave] ?? 0) + 1;
        const client = await open(nextId(`leaver-${i}`));
        const leave = () => (plan.abrupt ? client.terminate() : client.close());
        if (plan.leave === "before-ask") return leave();
        const requestId = nextId("q");
        await client.ask(requestId, "How do answers stream?");
        if (plan.leave === "after-ask") return leave();
        if (plan.leave === "mid-stream") {
          await client.until(() => client.of(requestId).filter((e) => e.type === "delta").length >= plan.afterDeltas || client.terminal(requestId) !== undefined, "deltas");
          return leave();
        }
        await client.settled(requestId);
        expectWholeAnswer(client, requestId, FAULT_TEXT);
        if (plan.leave === "after-end") return leave();
        await client.close();
      }),
    );
    await expectNoRows(stack, "random disconnects");
    expect(stack.gateway.stats().handlerErrors - errorsBefore, "handler failures").to.equal(0);
    return {
      section: "Faults" as const,
      check: "Clients disconnecting at random points (close or dropped TCP)",
      tried: `${sessions} sessions, seed ${seed}: ${countsText(counts)}`,
      result: "every staying client got its whole answer; no handler failed; rows leaked 0",
    };
  });
}
