/**
 * Load with nothing lost: many sessions connected at once through the local stack, all
 * asking together, some leaving at random points. Every connection that stays gets frames
 * that concatenate to exactly the text the model generated, in order; once every socket is
 * closed no row is left; memory stays bounded.
 */
import { journalPositions } from "../unit/stream-fakes";
import { expect } from "chai";
import { composeAnswer } from "../../local/bedrock/answer";
import { DEFAULT_STALL_MS } from "../../functions/fulfillment/config";
import { DEFAULT_DOCUMENTS_DIR, DocumentIndex } from "../../local/bedrock/retrieval";
import type { LocalCredential } from "../../local/gateway";
import type { LocalStack } from "../../local/stack";
import type { Envelope } from "../../functions/shared/protocol";
import { plainText } from "../../functions/stream/plain-text";
import type { Figure } from "./figures";
import { Client, pool, rowsAfterIdle, seededRandom, startReliabilityStack } from "./harness";

/** Questions of the bundled documents: each has its own answer, so a crossed stream would show. */
export const LOAD_QUESTIONS = [
  "What is the WebSocket frame size limit?",
  "How does the stream writer coalesce deltas?",
  "How do I run the local stack?",
  "What does the knowledge base retrieval return?",
  "How is a session bound to its owner?",
  "What does Lex Web UI send as the session id?",
  "How are throttled posts retried?",
  "What events does ConverseStream send?",
  "How long may a connection stay open?",
  "What does the ping action do?",
  "How is the time to first token measured?",
  "Which IAM permissions does the fulfillment function need?",
];

export interface LoadFigure {
  readonly sessions: number;
  readonly leavers: number;
  readonly survivors: number;
  /** Survivors whose frames did not concatenate to the generated text, in order (must be 0). */
  readonly framesLost: number;
  /** json survivors whose answer ended `stalled` under the deployed stall bound (must be 0). */
  readonly stalled: number;
  /** Rows left once every socket closed (must be 0). */
  readonly rowsLeaked: number;
  readonly handlerErrors: number;
  readonly posts: number;
  readonly memory: { rssBeforeMb: number; peakRssMb: number; heapBeforeMb: number; peakHeapMb: number; heapAfterMb: number };
  readonly durationMs: number;
}

const mb = (bytes: number) => Math.round(bytes / (1024 * 1024));

/**
 * How long a client under load waits before it counts as hung. Hundreds of answers share two
 * cores with the emulators here, so an answer may queue for many seconds before its first word.
 */
export const LOAD_PATIENCE_MS = 120_000;

/** Heap a finished run may leave behind (after a full collection): far below what a leak per session would leave. */
export const MAX_HEAP_GROWTH_MB = 64;

/**
 * The local stack for a load run: the Bedrock emulator fast, yet every answer spans many frames;
 * the deployed stall bound (STREAM_STALL_MS unset).
 */
export function startLoadStack(credential: LocalCredential): Promise<LocalStack> {
  return startReliabilityStack({
    credentials: [credential],
    bedrockBehavior: { firstTokenDelayMs: 20, deltasPerSecond: 200 },
  });
}

/** Samples the process's memory until stopped. */
function memorySampler(): { stop(): { peakRss: number; peakHeap: number } } {
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peakRss, peakHeap };
    },
  };
}

interface Session {
  readonly index: number;
  readonly format: "json" | "text";
  readonly question: string;
  readonly expected: string;
  /** Leaves after this many delta frames (undefined: stays to the end). */
  readonly leaveAfter?: number;
  readonly abrupt: boolean;
  client?: Client;
}

function deltaText(client: Client, format: "json" | "text", requestId: string): string {
  if (format === "text") return client.messages.map((m) => m.text).join("");
  return client
    .of(requestId)
    .flatMap((e) => (e.type === "delta" ? [e.text] : []))
    .join("");
}

/** Whether a survivor's frames are exactly the answer, in order (json: envelope order and seq too). */
function whole(session: Session, requestId: string): boolean {
  const client = session.client!;
  if (deltaText(client, session.format, requestId) !== session.expected) return false;
  if (session.format === "text") return true;
  const envelopes: Envelope[] = client.of(requestId);
  return (
    journalPositions(envelopes).every((position, i) => envelopes[i].seq === position) &&
    envelopes[0]?.type === "start" &&
    envelopes.at(-1)?.type === "end" &&
    (envelopes.at(-1) as Extract<Envelope, { type: "end" }>).final === session.expected.trim()
  );
}

/**
 * Connects `sessions` sessions (a fifth in text format), then has all of them ask at once;
 * `leaveShare` of them leave mid-answer (half closing, half dropping the TCP connection).
 */
export async function loadRun(stack: LocalStack, credential: LocalCredential, sessions: number, seed: number, leaveShare = 0.2): Promise<LoadFigure> {
  const random = seededRandom(seed);
  const index = DocumentIndex.fromDirectory(DEFAULT_DOCUMENTS_DIR);
  const expectedOf = new Map(LOAD_QUESTIONS.map((q) => [q, composeAnswer(index, q).text]));
  const plan: Session[] = Array.from({ length: sessions }, (_, i) => {
    const question = LOAD_QUESTIONS[Math.floor(random() * LOAD_QUESTIONS.length)];
    const leaves = random() < leaveShare;
    const format = random() < 0.2 ? "text" : "json";
    const answer = expectedOf.get(question)!;
    return {
      index: i,
      format,
      question,
      // A text connection (Lex Web UI) receives the answer as prose (functions/stream/plain-text.ts).
      expected: format === "text" ? plainText(answer) : answer,
      leaveAfter: leaves ? Math.floor(random() * 20) : undefined,
      abrupt: random() < 0.5,
    };
  });
  const errorsBefore = stack.gateway.stats().handlerErrors;
  const postsBefore = stack.gateway.stats().connectionsApi.posts;
  global.gc?.();
  const before = process.memoryUsage();
  const sampler = memorySampler();
  const started = Date.now();

  // All connected first, so every session is open at once when the questions go out.
  await pool(plan, 50, async (session) => {
    session.client = await Client.open(await stack.presign(`load-${seed}-${session.index}`, { format: session.format, credential }));
  });
  let framesLost = 0;
  let stalled = 0;
  const lost: string[] = [];
  await Promise.all(
    plan.map(async (session) => {
      const client = session.client!;
      const requestId = `load-${session.index}`;
      await client.ask(requestId, session.question);
      if (session.leaveAfter !== undefined) {
        // Coalescing decides how many frames an answer takes: leave after that many, or once it is all there.
        const enough = () =>
          (session.format === "json" ? client.of(requestId).filter((e) => e.type === "delta").length : client.messages.length) >= session.leaveAfter! ||
          client.terminal(requestId) !== undefined ||
          deltaText(client, session.format, requestId).length >= session.expected.length;
        await client.until(enough, `${session.leaveAfter} frames before leaving`, LOAD_PATIENCE_MS);
        await (session.abrupt ? client.terminate() : client.close());
        return;
      }
      if (session.format === "json") await client.until(() => client.terminal(requestId) !== undefined, `end or error for ${requestId}`, LOAD_PATIENCE_MS);
      else await client.until(() => deltaText(client, "text", requestId).length >= session.expected.length, "the whole answer as text frames", LOAD_PATIENCE_MS);
      if (session.format === "json" && (client.terminal(requestId) as { code?: string } | undefined)?.code === "stalled") stalled += 1;
      if (!whole(session, requestId)) {
        framesLost += 1;
        lost.push(`session ${session.index} (${session.format})`);
      }
    }),
  );
  await Promise.all(plan.map((session) => session.client?.close()));
  const rows = await rowsAfterIdle(stack);
  const durationMs = Date.now() - started;
  const peaks = sampler.stop();
  global.gc?.();
  const after = process.memoryUsage();
  const stats = stack.gateway.stats();
  const figure: LoadFigure = {
    sessions,
    leavers: plan.filter((s) => s.leaveAfter !== undefined).length,
    survivors: plan.filter((s) => s.leaveAfter === undefined).length,
    framesLost,
    stalled,
    rowsLeaked: rows.length,
    handlerErrors: stats.handlerErrors - errorsBefore,
    posts: stats.connectionsApi.posts - postsBefore,
    memory: {
      rssBeforeMb: mb(before.rss),
      peakRssMb: mb(peaks.peakRss),
      heapBeforeMb: mb(before.heapUsed),
      peakHeapMb: mb(peaks.peakHeap),
      heapAfterMb: mb(after.heapUsed),
    },
    durationMs,
  };
  expect(stalled, `json answers ended stalled under the deployed ${DEFAULT_STALL_MS / 1000} s bound`).to.equal(0);
  expect(lost, "survivors whose frames were not the whole answer in order").to.deep.equal([]);
  expect(rows, "rows left after every socket closed").to.deep.equal([]);
  expect(figure.handlerErrors, "handler failures").to.equal(0);
  // With a collector to call (node --expose-gc), what the run left behind must be collectable.
  if (global.gc) expect(figure.memory.heapAfterMb - figure.memory.heapBeforeMb, "heap growth after the run, MB").to.be.below(MAX_HEAP_GROWTH_MB);
  return figure;
}

export function loadFigure(load: LoadFigure, seed: number): Figure {
  const m = load.memory;
  return {
    section: "Load",
    check: "Concurrent sessions through the local stack, random disconnects",
    tried: `${load.sessions} sessions open at once (⅕ text format), all asking together, ${load.leavers} leaving mid-answer (seed ${seed}); ${load.posts} posts in ${(load.durationMs / 1000).toFixed(1)} s`,
    result:
      `${load.survivors} survivors: frames lost ${load.framesLost}; ended \`stalled\` ${load.stalled} (the deployed stall bound, ${DEFAULT_STALL_MS / 1000} s); rows leaked ${load.rowsLeaked}; handler failures ${load.handlerErrors}; ` +
      `RSS ${m.rssBeforeMb} → peak ${m.peakRssMb} MB; heap ${m.heapBeforeMb} → peak ${m.peakHeapMb} → ${m.heapAfterMb} MB after the run${global.gc ? " and a full GC" : ""}`,
  };
}
