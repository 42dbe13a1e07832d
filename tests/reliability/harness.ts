/**
 * What every reliability scenario stands on: the local stack started quiet and fast, real
 * WebSocket clients that record everything they receive, the rows left in dynalite, victim
 * sessions whose rows must never change, and a capture of everything the process prints.
 */
import { PutCommand, DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import WebSocket from "ws";
import { localCognitoIdentity, localIamUser, type LocalCredential } from "../../local/gateway";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../../local/stack";
import { logger } from "../../functions/shared/observability";
import type { Envelope } from "../../functions/shared/protocol";
import { SESSION_ASKS_KEY_PREFIX } from "../../functions/shared/ask-ledger";
import { CONNECTION_KEY_PREFIX, type StreamFormat } from "../../functions/shared/table";

/** Longest a scenario waits for a socket to get what it must get: past it the client counts as hung. */
export const HUNG_AFTER_MS = 20_000;

/**
 * Starts the local stack for a scenario: no chat page, Bedrock emulator paced for tests and
 * no stage throttling unless told otherwise (the scenarios load the functions on purpose;
 * the throttling scenario turns it on).
 */
export function startReliabilityStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  return startLocalStack({
    page: false,
    throttle: false,
    ...options,
    bedrockBehavior: { firstTokenDelayMs: 0, deltasPerSecond: 0, ...options.bedrockBehavior },
    env: { POWERTOOLS_METRICS_DISABLED: "true", ...options.env },
  });
}

/** Silences the handlers' INFO logs for a noisy run (the fuzzers call them thousands of times). */
export async function withLogLevel<T>(level: "SILENT" | "INFO" | "WARN" | "ERROR", run: () => Promise<T>): Promise<T> {
  const previous = logger.getLevelName();
  logger.setLogLevel(level);
  try {
    return await run();
  } finally {
    logger.setLogLevel(previous as Parameters<typeof logger.setLogLevel>[0]);
  }
}

/** Everything written to stdout and stderr while `run` runs (still printed unless `quiet`). */
export async function captureOutput<T>(run: () => Promise<T>, quiet = true): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write);
  streams.forEach((stream, i) => {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      if (quiet) {
        const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
        callback?.();
        return true;
      }
      return (originals[i] as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof stream.write;
  });
  try {
    const result = await run();
    return { result, output: chunks.join("") };
  } finally {
    streams.forEach((stream, i) => (stream.write = originals[i]));
  }
}

export interface Message {
  readonly text: string;
  readonly isBinary: boolean;
}

/** A real WebSocket client that records every message and its close. */
export class Client {
  readonly messages: Message[] = [];
  closeStatus?: { code: number; reason: string };
  private readonly waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      this.messages.push({ text: (data as Buffer).toString("utf8"), isBinary });
      this.wake();
    });
    ws.on("close", (code: number, reason: Buffer) => {
      this.closeStatus = { code, reason: reason.toString("utf8") };
      this.wake();
    });
    // A reset surfaces as an error then a close; the close is what scenarios look at.
    ws.on("error", () => undefined);
  }

  /** Opens a socket; rejects with `{ status }` when the upgrade is refused. */
  static open(url: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once("open", () => resolve(new Client(ws)));
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => {
          ws.terminate();
          reject(Object.assign(new Error(`upgrade refused with ${res.statusCode}: ${body}`), { status: res.statusCode ?? 0, body }));
        });
      });
      ws.once("error", reject);
    });
  }

  get closed(): boolean {
    return this.closeStatus !== undefined;
  }

  /** Messages parsed as JSON envelopes (those that are not JSON are left out). */
  envelopes(): Envelope[] {
    const parsed: Envelope[] = [];
    for (const message of this.messages) {
      try {
        const value = JSON.parse(message.text) as unknown;
        if (typeof value === "object" && value !== null && "type" in value) parsed.push(value as Envelope);
      } catch {
        // A text-format frame.
      }
    }
    return parsed;
  }

  /** The envelopes of one request. */
  of(requestId: string): Envelope[] {
    return this.envelopes().filter((e) => e.requestId === requestId);
  }

  /** The request's `end` or `error` envelope, once it has come. */
  terminal(requestId: string): Envelope | undefined {
    return this.of(requestId).find((e) => e.type === "end" || e.type === "error");
  }

  send(data: string | Buffer, binary = false): Promise<void> {
    return new Promise((resolve, reject) => this.ws.send(data, { binary }, (error) => (error ? reject(error) : resolve())));
  }

  ask(requestId: string, question: string, mode: "llm" | "kb" = "llm"): Promise<void> {
    return this.send(JSON.stringify({ action: "ask", requestId, question, mode }));
  }

  /**
   * Resolves once `done()` holds, or the socket has closed (then `done()` decides nothing
   * more can come). Rejects when neither happens within `HUNG_AFTER_MS`: the client is hung.
   */
  until(done: () => boolean, what: string, limitMs = HUNG_AFTER_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (done() || this.closed) {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
          return true;
        }
        return false;
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(new Error(`hung client: no ${what} within ${limitMs} ms (${this.messages.length} messages, open)`));
      }, limitMs);
      this.waiters.add(wake);
      check();
    });
  }

  /** Waits for the request's `end` or `error` envelope (or the close); returns it. */
  async settled(requestId: string): Promise<Envelope | undefined> {
    await this.until(() => this.terminal(requestId) !== undefined, `end or error for ${requestId}`);
    return this.terminal(requestId);
  }

  /** Closes from the client side and waits for the close to complete. */
  async close(): Promise<void> {
    if (this.closed) return;
    const done = new Promise<void>((resolve) => this.ws.once("close", () => resolve()));
    this.ws.close(1000);
    await done;
  }

  /** Drops the TCP connection without a close frame (a client that vanishes). */
  async terminate(): Promise<void> {
    if (this.closed) return;
    const done = new Promise<void>((resolve) => this.ws.once("close", () => resolve()));
    this.ws.terminate();
    await done;
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

/** Opens a presigned connection for `sessionId`. */
export async function connect(stack: LocalStack, sessionId: string, options: { format?: StreamFormat; credential?: LocalCredential } = {}): Promise<Client> {
  return Client.open(await stack.presign(sessionId, { format: options.format ?? "json", credential: options.credential }));
}

export type Row = Record<string, unknown>;

function documentClient(stack: LocalStack): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(stack.dynamo.client);
}

async function scan(stack: LocalStack, table: string): Promise<Row[]> {
  const client = documentClient(stack);
  const rows: Row[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
    rows.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return rows;
}

/** Every item of the connections table (session items, connection lookup items, ask ledgers). */
export function connectionRows(stack: LocalStack): Promise<Row[]> {
  return scan(stack, stack.dynamo.connectionsTable);
}

export function memoryRows(stack: LocalStack): Promise<Row[]> {
  return scan(stack, stack.dynamo.memoryTable);
}

/**
 * Waits until no handler runs, then returns what must be gone once every socket closed:
 * connection lookup items, connections left in session items, and asks still in flight.
 * Claims stay by design (a claim outlives its connection: session-state.ts).
 */
export async function rowsAfterIdle(stack: LocalStack): Promise<Row[]> {
  await stack.idle();
  const entries = (value: unknown) => (typeof value === "object" && value !== null ? Object.keys(value).length : 0);
  return (await connectionRows(stack)).filter((row) => {
    const key = String(row.sessionId);
    if (key.startsWith(CONNECTION_KEY_PREFIX)) return true;
    if (key.startsWith(SESSION_ASKS_KEY_PREFIX)) return entries(row.asks) > 0;
    return entries(row.connections) > 0;
  });
}

/** A session whose rows no fuzzed input may change: its owner's credential and open sockets. */
export interface Victim {
  readonly name: string;
  readonly sessionId: string;
  readonly principal: string;
  readonly credential: LocalCredential;
  readonly clients: Client[];
}

/** Credentials of the victims; pass them to the stack (`credentials`) before `openVictims`. */
export function victimCredentials(): { iam: LocalCredential; cognito: LocalCredential } {
  return {
    iam: localIamUser("victim", { allow: { connect: true, manageConnections: false } }),
    cognito: localCognitoIdentity({ authenticated: true }),
  };
}

/**
 * Connects an IAM victim (free-form session id, a json and a text socket) and a Cognito
 * victim (its identity id as session id, as Lex Web UI does) and gives both a conversation
 * memory row, so there is something to overwrite or read.
 */
export async function openVictims(stack: LocalStack, credentials: { iam: LocalCredential; cognito: LocalCredential }): Promise<Victim[]> {
  const iamSession = "victim-session-1";
  const cognitoSession = credentials.cognito.identity.cognitoIdentityId!;
  const victims: Victim[] = [
    {
      name: "iam victim",
      sessionId: iamSession,
      principal: `iam:${credentials.iam.identity.userArn}`,
      credential: credentials.iam,
      clients: [
        await connect(stack, iamSession, { format: "json", credential: credentials.iam }),
        await connect(stack, iamSession, { format: "text", credential: credentials.iam }),
      ],
    },
    {
      name: "cognito victim",
      sessionId: cognitoSession,
      principal: `cognito:${cognitoSession}`,
      credential: credentials.cognito,
      clients: [await connect(stack, cognitoSession, { format: "json", credential: credentials.cognito })],
    },
  ];
  const client = documentClient(stack);
  for (const victim of victims) {
    await client.send(
      new PutCommand({
        TableName: stack.dynamo.memoryTable,
        Item: {
          sessionId: victim.sessionId,
          principal: victim.principal,
          turns: [{ question: `secret question of the ${victim.name}`, answer: `secret answer of the ${victim.name}` }],
          updatedAt: Date.now(),
          ttl: Math.floor(Date.now() / 1000) + 3600,
        },
      }),
    );
  }
  return victims;
}

/**
 * What belongs to the victims in both tables, in a stable order, for a before/after
 * comparison: each victim's claim on its session and its own connections there, and its
 * memory. Another principal may claim a plain session id too (contested, by design), so
 * other principals' claims and connections in the same item are not the victim's.
 */
export async function victimSnapshot(stack: LocalStack, victims: readonly Victim[]): Promise<{ connections: Row[]; memory: Row[] }> {
  const rows = await connectionRows(stack);
  const memory = await memoryRows(stack);
  const record = (value: unknown): Record<string, unknown> => (typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {});
  const connections = victims.map((victim) => {
    const item = rows.find((row) => row.sessionId === victim.sessionId);
    const own = Object.entries(record(item?.connections)).filter(([, entry]) => record(entry).principal === victim.principal);
    return { sessionId: victim.sessionId, claim: record(item?.claims)[victim.principal], connections: Object.fromEntries(own) };
  });
  const order = (list: Row[]) => list.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  return {
    connections: order(connections),
    memory: order(memory.filter((row) => victims.some((victim) => row.sessionId === victim.sessionId))),
  };
}

/** Ids of the victims' open connections (from the gateway, which assigned them). */
export function victimConnectionIds(stack: LocalStack, victims: readonly Victim[]): Set<string> {
  const sessions = new Set(victims.map((v) => v.sessionId));
  const ids = new Set<string>();
  for (const [id, info] of stack.gateway.connections) {
    if (sessions.has(info.queryStringParameters.sessionId)) ids.add(id);
  }
  return ids;
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  });
  await Promise.all(runners);
  return results;
}

/** A small seeded PRNG (mulberry32), so scenarios that pick at random replay exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export { postAsk } from "../local/stack-helpers";

/** A Lex V2 code hook event, as Lex sends it for a fulfilled QnABot intent. */
export function lexEvent(sessionId: string, question: string, sessionAttributes: Record<string, string> = {}): Record<string, unknown> {
  return {
    messageVersion: "1.0",
    invocationSource: "FulfillmentCodeHook",
    inputMode: "Text",
    responseContentType: "text/plain; charset=utf-8",
    sessionId,
    inputTranscript: question,
    bot: { id: "BOTID12345", name: "QnABot", aliasId: "TSTALIASID", aliasName: "TestBotAlias", localeId: "en_US", version: "DRAFT" },
    interpretations: [],
    sessionState: { sessionAttributes, intent: { name: "QnaIntent", slots: {}, state: "ReadyForFulfillment", confirmationState: "None" } },
  };
}
