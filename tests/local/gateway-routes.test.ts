/**
 * Messages on the local gateway over the wire: route selection on `$request.body.action`,
 * the MOCK `ping` route, `$default` answering back, API Gateway's error frames, and the
 * limits (128 KB messages, idle timeout, maximum connection time).
 */
import { expect } from "chai";
import type WebSocket from "ws";
import { presignWebSocketUrl } from "../../client/presign";
import { localIamUser, startWebSocketGateway, type WebSocketGateway, type WebSocketGatewayOptions } from "../../local/gateway";
import { CapturingLogger, Inbox, Recorder, closed, open } from "./gateway-helpers";

const user = localIamUser("router");

async function connect(gateway: WebSocketGateway): Promise<WebSocket> {
  return open(await presignWebSocketUrl({ endpoint: gateway.url, region: "us-east-1", credentials: user, query: { sessionId: "routes" } }));
}

async function withGateway(options: WebSocketGatewayOptions, body: (gateway: WebSocketGateway) => Promise<void>): Promise<void> {
  const gateway = await startWebSocketGateway({ credentials: [user], ...options });
  try {
    await body(gateway);
  } finally {
    await gateway.close();
  }
}

describe("local gateway: routes", () => {
  const calls = new Recorder();
  const logger = new CapturingLogger();
  let gateway: WebSocketGateway;
  let ws: WebSocket;
  let inbox: Inbox;

  before(async () => {
    gateway = await startWebSocketGateway({
      credentials: [user],
      logger,
      limits: { integrationTimeoutMs: 200 },
      handlers: {
        $default: async (event) => {
          calls.record(event);
          return { statusCode: 400, body: `default got ${event.isBase64Encoded ? "base64 " : ""}${event.body}` };
        },
        ask: async (event) => {
          calls.record(event);
          const body = JSON.parse(event.body!);
          if (body.question === "explode") throw new Error("boom");
          if (body.question === "hang") await new Promise((resolve) => setTimeout(resolve, 400));
          // A one-way route: this body must never reach the client.
          return { statusCode: 200, body: "ask result" };
        },
      },
    });
    ws = await connect(gateway);
    inbox = new Inbox(ws);
  });

  after(async () => {
    ws.terminate();
    await gateway.close();
  });

  it("routes an action to its handler with a MESSAGE event and sends nothing back for a one-way route", async () => {
    ws.send(JSON.stringify({ action: "ask", requestId: "r1", question: "hello" }));
    ws.send("after ask");
    // Messages are answered in order of completion; the only frame is $default's, so ask sent none.
    expect((await inbox.next()).text).to.equal("default got after ask");
    await gateway.idle();
    const ask = calls.of("ask").at(-1)!;
    expect(ask.body).to.equal(JSON.stringify({ action: "ask", requestId: "r1", question: "hello" }));
    expect(ask.isBase64Encoded).to.equal(false);
    expect(ask.requestContext).to.include({ routeKey: "ask", eventType: "MESSAGE", messageDirection: "IN", stage: "Prod" });
    expect(ask.requestContext.messageId).to.match(/^[A-Za-z0-9_-]{15}=$/);
    expect(ask.requestContext.identity).to.deep.equal({ sourceIp: "127.0.0.1" });
    expect(inbox.pending).to.equal(0);
  });

  it("sends $default's body back for an unknown action and for non-JSON, whatever its status", async () => {
    ws.send(JSON.stringify({ action: "dance" }));
    expect((await inbox.next()).text).to.equal(`default got {"action":"dance"}`);
    ws.send("not json");
    expect((await inbox.next()).text).to.equal("default got not json");
    ws.send(JSON.stringify({ action: 42 }));
    expect((await inbox.next()).text).to.equal(`default got {"action":42}`);
  });

  it("passes a binary frame to $default base64-encoded", async () => {
    ws.send(Buffer.from([0xff, 0x00, 0x01]), { binary: true });
    expect((await inbox.next()).text).to.equal("default got base64 /wAB");
  });

  it("answers ping with no handler and no frame", async () => {
    const before = calls.events.length;
    ws.send(JSON.stringify({ action: "ping" }));
    ws.send("marker");
    expect((await inbox.next()).text).to.equal("default got marker");
    await gateway.idle();
    expect(calls.events.slice(before).map((e) => e.body)).to.deep.equal(["marker"]);
  });

  it("sends API Gateway's Internal server error frame when a handler throws", async () => {
    ws.send(JSON.stringify({ action: "ask", question: "explode" }));
    const frame = await inbox.next();
    const connectionId = [...gateway.connections.keys()][0];
    expect(frame.text).to.match(/^\{"message": "Internal server error", "connectionId":"[^"]+", "requestId":"[^"]+"\}$/);
    expect(JSON.parse(frame.text).connectionId).to.equal(connectionId);
    expect(logger.lines.some((line) => line.includes("ask integration failed"))).to.equal(true);
  });

  it("sends a timeout frame when a handler outlives the integration timeout", async () => {
    ws.send(JSON.stringify({ action: "ask", question: "hang" }));
    expect(JSON.parse((await inbox.next()).text).message).to.equal("Endpoint request timed out");
    await gateway.idle();
  });

  it("treats a route without a handler as absent (to $default), and answers Forbidden without $default", async () => {
    await withGateway({ handlers: { $default: async (event) => ({ statusCode: 200, body: `default: ${event.body}` }) } }, async (gw) => {
      const socket = await connect(gw);
      const messages = new Inbox(socket);
      socket.send(JSON.stringify({ action: "ask" }));
      expect((await messages.next()).text).to.equal(`default: {"action":"ask"}`);
      socket.terminate();
    });
    await withGateway({ handlers: {} }, async (gw) => {
      const socket = await connect(gw);
      const messages = new Inbox(socket);
      socket.send(JSON.stringify({ action: "ask" }));
      expect(JSON.parse((await messages.next()).text).message).to.equal("Forbidden");
      socket.terminate();
    });
  });

  it("refuses a handler for the MOCK ping route at startup", async () => {
    let error: unknown;
    try {
      await startWebSocketGateway({ handlers: { ping: async () => undefined } });
    } catch (caught) {
      error = caught;
    }
    expect(String(error)).to.match(/ping is a MOCK integration/);
  });
});

describe("local gateway: limits", () => {
  it("closes the socket with 1009 on a message over 128 KB, and reports it to $disconnect", async () => {
    const calls = new Recorder();
    await withGateway({ handlers: { $default: calls.handler(), $disconnect: calls.handler() } }, async (gateway) => {
      const ws = await connect(gateway);
      const closing = closed(ws);
      ws.send("x".repeat(200 * 1024));
      expect((await closing).code).to.equal(1009);
      const [disconnect] = await calls.waitFor("$disconnect");
      expect(disconnect.requestContext).to.include({ disconnectStatusCode: 1009, disconnectReason: "Message too big" });
      await gateway.idle();
      expect(calls.of("$default")).to.have.length(0);
      expect(calls.of("$disconnect")).to.have.length(1);
    });
  });

  it("accepts a message of exactly the limit", async () => {
    await withGateway({ handlers: { $default: async (event) => ({ statusCode: 200, body: String(event.body!.length) }) } }, async (gateway) => {
      const ws = await connect(gateway);
      const inbox = new Inbox(ws);
      ws.send("y".repeat(128 * 1024));
      expect((await inbox.next()).text).to.equal(String(128 * 1024));
      ws.terminate();
    });
  });

  it("closes an idle connection with 1001 Going away", async () => {
    const calls = new Recorder();
    await withGateway({ limits: { idleTimeoutMs: 150 }, handlers: { $disconnect: calls.handler() } }, async (gateway) => {
      const ws = await connect(gateway);
      expect(await closed(ws)).to.deep.equal({ code: 1001, reason: "Going away" });
      const [disconnect] = await calls.waitFor("$disconnect");
      expect(disconnect.requestContext).to.include({ disconnectStatusCode: 1001, disconnectReason: "Going away" });
    });
  });

  it("closes a connection at its maximum lifetime even while it is active", async () => {
    const calls = new Recorder();
    await withGateway({ limits: { maxConnectionMs: 300 }, handlers: { $disconnect: calls.handler() } }, async (gateway) => {
      const ws = await connect(gateway);
      const timer = setInterval(() => ws.send(JSON.stringify({ action: "ping" })), 20);
      try {
        expect((await closed(ws)).code).to.equal(1001);
      } finally {
        clearInterval(timer);
      }
      await calls.waitFor("$disconnect");
      expect(gateway.connections.size).to.equal(0);
    });
  });
});
