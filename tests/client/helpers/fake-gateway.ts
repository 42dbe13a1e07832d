/**
 * A small WebSocket server that speaks wire protocol v1 like the deployed API (as far as
 * a client can tell): `?sessionId=&format=json` connections, `ping` answered by nothing,
 * `ask` answered with envelopes, `resume` and `cancel` as the tests script them (by default
 * as the API answers an answer it does not know: a `not_found` error with seq 0), anything
 * else with a `$default`-style error. Tests script answers, refusals and drops. On
 * 127.0.0.1 with an OS-assigned port.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import {
  envelope,
  parseAskMessage,
  parseCancelMessage,
  parseResumeMessage,
  type AskMessage,
  type CancelMessage,
  type Citation,
  type Envelope,
  type ResumeMessage,
} from "../../../functions/shared/protocol";

export interface FakeConnection {
  /** The URL the client connected with (path and query, signature included). */
  readonly url: URL;
  /** Every frame the client sent, in order. */
  readonly frames: string[];
  readonly asks: AskMessage[];
  readonly resumes: ResumeMessage[];
  readonly cancels: CancelMessage[];
  pings(): number;
  send(frame: Envelope | string): void;
  /** Cuts the TCP connection without a close frame, as a network failure would. */
  drop(): void;
  close(code?: number, reason?: string): void;
  isOpen(): boolean;
}

export type AskHandler = (ask: AskMessage, connection: FakeConnection) => void | Promise<void>;

export interface FakeGatewayOptions {
  /** Refuses matching upgrades with a status and body, as API Gateway answers a bad signature (403). */
  readonly refuse?: (request: IncomingMessage) => { status: number; body?: string } | undefined;
  /** @default streamAnswer("Hello **world**, streamed.") */
  readonly onAsk?: AskHandler;
  /** @default a `not_found` error envelope with seq 0, as the API answers an unknown answer */
  readonly onResume?: (resume: ResumeMessage, connection: FakeConnection) => void | Promise<void>;
  /** @default nothing (the test's ask handler checks `cancels`) */
  readonly onCancel?: (cancel: CancelMessage, connection: FakeConnection) => void | Promise<void>;
}

export interface FakeGateway {
  /** `ws://127.0.0.1:{port}/Prod`: the endpoint, without query. */
  readonly endpoint: string;
  readonly connections: FakeConnection[];
  /** Resolves with the index-th connection (0-based) once it is open. */
  connection(index: number): Promise<FakeConnection>;
  /** Open connections right now. */
  openCount(): number;
  close(): Promise<void>;
}

export interface StreamedAnswerOptions {
  /** Number of deltas the text is cut into. @default 3 */
  readonly chunks?: number;
  readonly citations?: Citation[];
  /** The `end` envelope's final answer. @default the text */
  readonly final?: string;
  /** Stop after this many deltas and cut the connection. */
  readonly dropAfter?: number;
  /** Replace the `end` with this error. */
  readonly error?: { code: "model_error" | "throttled" | "internal"; message: string };
}

/** Splits by code points, so multi-byte characters stay whole, as the writer does. */
export function chunksOf(text: string, count: number): string[] {
  const chars = [...text];
  const size = Math.max(1, Math.ceil(chars.length / count));
  const chunks: string[] = [];
  for (let i = 0; i < chars.length; i += size) chunks.push(chars.slice(i, i + size).join(""));
  return chunks;
}

/** An ask handler that answers `text` the way the fulfillment function streams. */
export function streamAnswer(text: string, options: StreamedAnswerOptions = {}): AskHandler {
  return async (ask, connection) => {
    let seq = 0;
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    connection.send(envelope("start", ask.requestId, seq++, {}));
    const chunks = chunksOf(text, options.chunks ?? 3);
    for (const [index, chunk] of chunks.entries()) {
      if (options.dropAfter !== undefined && index === options.dropAfter) {
        connection.drop();
        return;
      }
      await tick();
      connection.send(envelope("delta", ask.requestId, seq++, { text: chunk }));
    }
    if (options.citations) connection.send(envelope("citation", ask.requestId, seq++, { citations: options.citations }));
    if (options.error) {
      connection.send(envelope("error", ask.requestId, seq++, { ...options.error, retryable: false }));
      return;
    }
    connection.send(
      envelope("end", ask.requestId, seq++, {
        final: options.final ?? text,
        stopReason: "end_turn",
        usage: { inputTokens: 10, outputTokens: chunks.length, totalTokens: 10 + chunks.length },
        metrics: { ttftMs: 1, totalMs: 2, deltas: chunks.length, frames: chunks.length },
      }),
    );
  };
}

export async function startFakeGateway(options: FakeGatewayOptions = {}): Promise<FakeGateway> {
  const onAsk = options.onAsk ?? streamAnswer("Hello **world**, streamed.");
  const connections: FakeConnection[] = [];
  const waiters: { index: number; resolve: (connection: FakeConnection) => void }[] = [];
  const sockets = new Set<WebSocket>();
  const server = createServer((_request, response) => {
    response.writeHead(426).end();
  });
  const wss = new WebSocketServer({ noServer: true });

  server.on("upgrade", (request: IncomingMessage, socket: Socket, head: Buffer) => {
    const refusal = options.refuse?.(request);
    if (refusal) {
      const body = refusal.body ?? "";
      socket.end(
        `HTTP/1.1 ${refusal.status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(ws);
      ws.on("close", () => sockets.delete(ws));
      let pings = 0;
      const connection: FakeConnection = {
        url: new URL(request.url ?? "/", "ws://127.0.0.1"),
        frames: [],
        asks: [],
        resumes: [],
        cancels: [],
        pings: () => pings,
        send: (frame) => {
          if (ws.readyState === ws.OPEN) ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
        },
        drop: () => ws.terminate(),
        close: (code, reason) => ws.close(code, reason),
        isOpen: () => ws.readyState === ws.OPEN,
      };
      ws.on("message", (data) => {
        const text = data.toString();
        connection.frames.push(text);
        let action: unknown;
        try {
          action = (JSON.parse(text) as { action?: unknown }).action;
        } catch {
          action = undefined;
        }
        if (action === "ping") {
          pings += 1;
          return;
        }
        if (action === "ask") {
          const ask = parseAskMessage(text);
          connection.asks.push(ask);
          void onAsk(ask, connection);
          return;
        }
        if (action === "resume") {
          const resume = parseResumeMessage(text);
          connection.resumes.push(resume);
          if (options.onResume) void options.onResume(resume, connection);
          else connection.send(envelope("error", resume.requestId, 0, { code: "not_found", message: "There is no answer with this requestId to resume.", retryable: false }));
          return;
        }
        if (action === "cancel") {
          const cancel = parseCancelMessage(text);
          connection.cancels.push(cancel);
          void options.onCancel?.(cancel, connection);
          return;
        }
        connection.send(envelope("error", "none", 0, { code: "bad_request", message: "accepted actions: ping, ask, resume, cancel, feedback", retryable: false }));
      });
      connections.push(connection);
      for (const waiter of waiters.filter((w) => w.index < connections.length)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(connections[waiter.index]);
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `ws://127.0.0.1:${port}/Prod`,
    connections,
    connection: (index) =>
      index < connections.length ? Promise.resolve(connections[index]) : new Promise((resolve) => waiters.push({ index, resolve })),
    openCount: () => sockets.size,
    close: async () => {
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A signer for the fake gateway: every URL carries a new `X-Amz-Signature`, so tests can tell fresh ones apart. */
export function fakeSigner(gateway: FakeGateway): ((sessionId: string) => Promise<string>) & { calls: string[] } {
  const calls: string[] = [];
  const sign = async (sessionId: string) => {
    calls.push(sessionId);
    const url = new URL(gateway.endpoint);
    url.searchParams.set("sessionId", sessionId);
    url.searchParams.set("format", "json");
    url.searchParams.set("X-Amz-Date", "20250101T000000Z");
    url.searchParams.set("X-Amz-Expires", "120");
    url.searchParams.set("X-Amz-Signature", `sig${calls.length}`);
    return url.href;
  };
  return Object.assign(sign, { calls });
}
