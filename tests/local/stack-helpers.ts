/**
 * Real-client helpers for the suites that run the whole local stack: a presigned socket that
 * keeps every message it receives, a barrier that proves everything posted so far has
 * arrived, a SigV4-signed `POST /ask`, the session's item read straight from dynalite, and a
 * Lex V2 code hook event as Lex sends it.
 */
import { randomUUID } from "node:crypto";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import WebSocket from "ws";
import type { Envelope } from "../../functions/shared/protocol";
import type { SessionItem } from "../../functions/shared/session-state";
import { CONNECTION_KEY_PREFIX } from "../../functions/shared/table";
import { DEFAULT_LOCAL_BOT, codeHookEvent, type LexCodeHookEvent } from "../../local/lex-runtime";
import type { LocalCredential } from "../../local/gateway";
import type { LocalStack, PresignOptions } from "../../local/stack";
import { signFunctionUrlPost } from "../../client/function-url-signer";

/** Bedrock at full speed: the suites wait on events, so the pace only matters where slowness is the point. */
export const FAST = { firstTokenDelayMs: 0, deltasPerSecond: 0 } as const;

/** Keeps the handlers' logs to errors and the writer's EMF off, so the test output stays readable. */
export const QUIET_ENV = { POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true" } as const;

export interface Received {
  readonly text: string;
  readonly isBinary: boolean;
  /** Bytes on the wire (the WebSocket message's payload). */
  readonly bytes: number;
}

export interface Refusal {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A refused upgrade, with the gateway's HTTP answer. */
export class RefusedError extends Error {
  constructor(readonly refusal: Refusal) {
    super(`upgrade refused with ${refusal.status}: ${refusal.body}`);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isEnvelope(value: unknown): value is Envelope {
  return typeof value === "object" && value !== null && (value as { v?: unknown }).v === 1 && typeof (value as { type?: unknown }).type === "string";
}

/** One open socket and everything it has received, in order; waits are on messages and the close, never on time. */
export class StackSocket {
  readonly messages: Received[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private closeStatus?: { code: number; reason: string };
  private readonly waiters = new Set<() => void>();
  private barriers = 0;

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      const buffer = data as Buffer;
      this.messages.push({ text: buffer.toString("utf8"), isBinary, bytes: buffer.length });
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      ws.once("close", (code: number, reason: Buffer) => {
        this.closeStatus = { code, reason: reason.toString("utf8") };
        resolve(this.closeStatus);
        this.wake();
      }),
    );
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Sends an `ask` frame. */
  ask(requestId: string, question: string, mode: "llm" | "kb" = "llm"): void {
    this.send({ action: "ask", requestId, question, mode });
  }

  /** Resolves once `done` holds for the messages so far; rejects when the socket closes first. */
  until<T>(done: (messages: readonly Received[]) => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const result = done(this.messages);
        if (result !== undefined) {
          this.waiters.delete(check);
          resolve(result);
        } else if (this.closeStatus) {
          this.waiters.delete(check);
          reject(new Error(`socket closed (${this.closeStatus.code}) after ${this.messages.length} messages: ${this.messages.map((m) => m.text.slice(0, 120)).join(" | ")}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The envelopes of `requestId` up to and including its `end` or `error` (format=json sockets). */
  answer(requestId: string): Promise<Envelope[]> {
    return this.until((messages) => {
      const envelopes = this.envelopes(requestId, messages);
      const last = envelopes[envelopes.length - 1];
      return last && (last.type === "end" || last.type === "error") ? envelopes : undefined;
    });
  }

  /** Envelopes of `requestId` received so far. */
  envelopes(requestId: string, messages: readonly Received[] = this.messages): Envelope[] {
    return messages.map((m) => parseJson(m.text)).filter((e): e is Envelope => isEnvelope(e) && e.requestId === requestId);
  }

  /**
   * Proves that everything posted to this socket before the call has arrived: sends a frame no
   * route matches and waits for `$default`'s reply, which the gateway sends after every earlier
   * post. Returns the messages that came before the reply (the reply itself is left out).
   */
  async barrier(): Promise<Received[]> {
    const requestId = `barrier-${++this.barriers}`;
    this.send({ action: "barrier", requestId });
    const at = await this.until((messages) => {
      const i = messages.findIndex((m) => {
        const parsed = parseJson(m.text);
        return isEnvelope(parsed) && parsed.type === "error" && parsed.requestId === requestId;
      });
      return i < 0 ? undefined : i;
    });
    this.messages.splice(at, 1);
    return this.messages.slice(0, at);
  }

  /** Closes from the client side and resolves with the close the client saw. */
  async close(code = 1000): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code);
    return this.closed;
  }

  private wake(): void {
    for (const check of [...this.waiters]) check();
  }
}

/** Opens a socket on a presigned URL; rejects with RefusedError when the gateway refuses the upgrade. */
export function openSocket(url: string): Promise<StackSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("open", () => resolve(new StackSocket(ws)));
    ws.once("unexpected-response", (_request, response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => {
        reject(new RefusedError({ status: response.statusCode ?? 0, body, headers: response.headers }));
        ws.terminate();
      });
    });
    ws.once("error", reject);
  });
}

/** The refusal of an upgrade that must not succeed. */
export async function refusalOf(url: string): Promise<Refusal> {
  try {
    const socket = await openSocket(url);
    await socket.close();
  } catch (error) {
    if (error instanceof RefusedError) return error.refusal;
    throw error;
  }
  throw new Error("the upgrade was accepted");
}

/** Presigns and opens in one step. */
export async function connect(stack: LocalStack, sessionId: string, options: PresignOptions = {}): Promise<StackSocket> {
  return openSocket(await stack.presign(sessionId, options));
}

/**
 * Waits until the gateway has reported `count` closes in all (each starts a `$disconnect`),
 * then until no handler runs: after it, every `$disconnect` has finished. A client's close
 * reaches the gateway asynchronously, so `stack.idle()` alone could run before it.
 */
export async function settleDisconnects(stack: LocalStack, count: number): Promise<void> {
  while (stack.gateway.stats().disconnected < count) await new Promise((resolve) => setTimeout(resolve, 5));
  await stack.idle();
}

/** The text of an answer's deltas, in order. */
export function deltaText(envelopes: readonly Envelope[]): string {
  return envelopes.map((e) => (e.type === "delta" ? e.text : "")).join("");
}

/** The answer's closing envelope; fails the test with the whole answer when it is not of `type`. */
export function last<T extends "end" | "error">(envelopes: readonly Envelope[], type: T): Extract<Envelope, { type: T }> {
  const final = envelopes[envelopes.length - 1];
  if (final?.type !== type) throw new Error(`expected the answer to close with ${type}, got ${JSON.stringify(envelopes)}`);
  return final as Extract<Envelope, { type: T }>;
}

export interface AskResponse {
  status: number;
  body: Record<string, unknown>;
}

/** `POST /ask` signed with SigV4 (service execute-api) as `credential`, as an IAM caller's SDK would. */
export function postAsk(stack: LocalStack, body: unknown, credential: LocalCredential = stack.chatUser): Promise<AskResponse> {
  return postSignedJson(stack, stack.askUrl, body, credential);
}

/** A JSON POST to a route of the local HTTP API, signed with SigV4 (service execute-api) as `credential`. */
export async function postSignedJson(stack: LocalStack, endpoint: string, body: unknown, credential: LocalCredential): Promise<AskResponse> {
  const url = new URL(endpoint);
  const payload = JSON.stringify(body);
  const signer = new SignatureV4({ service: "execute-api", region: stack.region, credentials: credential, sha256: Hash.bind(null, "sha256") });
  const signed = await signer.sign(
    new HttpRequest({
      method: "POST",
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers: { host: url.host, "content-type": "application/json" },
      body: payload,
    }),
  );
  const response = await fetch(url, { method: "POST", headers: signed.headers as Record<string, string>, body: payload });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The session's item in the connections table (claims, open connections, `connectionId`), read consistently; undefined when there is none. */
export async function sessionItem(stack: LocalStack, sessionId: string): Promise<SessionItem | undefined> {
  // A document client over the stack's own DynamoDB client: nothing to destroy afterwards.
  const output = await DynamoDBDocumentClient.from(stack.dynamo.client).send(
    new GetCommand({ TableName: stack.dynamo.connectionsTable, Key: { sessionId }, ConsistentRead: true }),
  );
  return output.Item as SessionItem | undefined;
}

/** A connection's lookup item (`#connection#{id}` → its session), read consistently. */
export async function connectionLookup(stack: LocalStack, connectionId: string): Promise<Record<string, unknown> | undefined> {
  const output = await DynamoDBDocumentClient.from(stack.dynamo.client).send(
    new GetCommand({ TableName: stack.dynamo.connectionsTable, Key: { sessionId: `${CONNECTION_KEY_PREFIX}${connectionId}` }, ConsistentRead: true }),
  );
  return output.Item;
}

/** The gateway's ids of the connections that are open now. */
export function openConnectionIds(stack: LocalStack): Set<string> {
  return new Set(stack.gateway.connections.keys());
}

export interface LexEventOptions {
  sessionId: string;
  question: string;
  /** Lex Web UI's own session attributes; the function must ignore the streaming ones. */
  sessionAttributes?: Record<string, string>;
}

/** A Lex V2 fulfillment code hook event, as the local Lex runtime builds it for QnABot's bot (Lambda event format 1.0). */
export function lexV2Event(options: LexEventOptions): LexCodeHookEvent {
  return codeHookEvent({
    bot: DEFAULT_LOCAL_BOT,
    sessionId: options.sessionId,
    text: options.question,
    sessionAttributes: options.sessionAttributes ?? {},
    requestAttributes: {},
    originatingRequestId: randomUUID(),
  });
}

/** What the fulfillment answers Lex with (the fields the tests read). */
export interface LexResponse {
  sessionState: {
    dialogAction: { type: string };
    intent?: { name: string; state: string };
    sessionAttributes: Record<string, string>;
  };
  messages: { contentType: string; content: string }[];
}

/** A signed POST to the local function URL (service lambda), as the CLI's --http sends one; the body as text, read whole. */
export async function postFunctionUrl(
  stack: LocalStack,
  body: unknown,
  accept: string,
  credential: LocalCredential = stack.chatUser,
): Promise<{ status: number; body: string }> {
  const payload = JSON.stringify(body);
  const { headers } = await signFunctionUrlPost({ url: stack.functionUrl, region: stack.region, credentials: credential, body: payload, accept });
  const response = await fetch(stack.functionUrl, { method: "POST", headers, body: payload });
  return { status: response.status, body: await response.text() };
}
