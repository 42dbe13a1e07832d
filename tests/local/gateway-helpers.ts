/**
 * Small real-client helpers for the gateway suites: open a presigned socket, read a refused
 * upgrade's status and body, await the next message or the close.
 */
import WebSocket from "ws";
import type { GatewayLogger } from "../../local/gateway";
import type { WebSocketEvent } from "../../functions/shared/events";

export interface Refusal {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Opens a socket; rejects with the HTTP answer when the upgrade is refused. */
export function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        reject(Object.assign(new Error(`refused with ${res.statusCode}`), { refusal: { status: res.statusCode ?? 0, body, headers: res.headers } }));
        ws.terminate();
      });
    });
    ws.once("error", reject);
  });
}

/** The refusal of an upgrade that must not succeed. */
export async function refusal(url: string): Promise<Refusal> {
  try {
    const ws = await open(url);
    ws.terminate();
  } catch (error) {
    const refused = (error as { refusal?: Refusal }).refusal;
    if (refused) return refused;
    throw error;
  }
  throw new Error("the upgrade was accepted");
}

export interface Received {
  text: string;
  isBinary: boolean;
}

/** A queue of a socket's messages, so none is missed between awaits. */
export class Inbox {
  private readonly queue: Received[] = [];
  private waiting: ((message: Received) => void) | undefined;

  constructor(ws: WebSocket) {
    ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      const message = { text: (data as Buffer).toString("utf8"), isBinary };
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve(message);
      } else this.queue.push(message);
    });
  }

  next(): Promise<Received> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  get pending(): number {
    return this.queue.length;
  }
}

export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString("utf8") })));
}

/** Handler calls recorded per route, in order, with a way to wait for them. */
export class Recorder {
  readonly events: WebSocketEvent[] = [];
  private waiters: (() => void)[] = [];

  /** A handler that records its event and returns `result`. */
  handler<T>(result?: T): (event: WebSocketEvent) => Promise<T | undefined> {
    return async (event) => {
      this.record(event);
      return result;
    };
  }

  record(event: WebSocketEvent): void {
    this.events.push(event);
    for (const wake of this.waiters.splice(0)) wake();
  }

  of(routeKey: string, connectionId?: string): WebSocketEvent[] {
    return this.events.filter(
      (event) => event.requestContext.routeKey === routeKey && (connectionId === undefined || event.requestContext.connectionId === connectionId),
    );
  }

  /** Resolves with the route's events once there are at least `count`. */
  async waitFor(routeKey: string, count = 1, connectionId?: string): Promise<WebSocketEvent[]> {
    while (this.of(routeKey, connectionId).length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.of(routeKey, connectionId);
  }
}

/** Collects what the gateway would log (tests that provoke failures keep the output clean). */
export class CapturingLogger implements GatewayLogger {
  readonly lines: string[] = [];
  error(message: string): void {
    this.lines.push(message);
  }
}
