/**
 * Two behaviours of API Gateway the local gateway models, over real sockets:
 * - Stage throttling: a token bucket per stage (rate, burst), one token per request
 *   (developer guide, "Throttle requests to your WebSocket APIs": token bucket; over the rate
 *   and burst, 429 Too Many Requests). A throttled message reaches no integration; the
 *   client gets the gateway's error frame with that text; a throttled `$connect` gets 429.
 * - A slow reader: PostToConnection answers once the message is queued, and answers 429
 *   LimitExceededException once the client's buffer is full (ApiGatewayManagementApi API
 *   reference: "The client is sending more than the allowed number of requests per unit of
 *   time or the WebSocket client side buffer is full").
 * And the @connections API, an internal endpoint, sends no CORS headers.
 */
import { ApiGatewayManagementApiClient, LimitExceededException, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { expect } from "chai";
import type WebSocket from "ws";
import { presignWebSocketUrl } from "../../client/presign";
import { DEFAULT_ROUTE_THROTTLES, TokenBucket, localIamUser, localRoleSession, startWebSocketGateway, type WebSocketGateway } from "../../local/gateway";
import { Inbox, Recorder, open, refusal } from "./gateway-helpers";
import { headersOnly } from "./side-door-helpers";

describe("local gateway: stage throttling (token bucket)", () => {
  it("lets a burst through, then the steady rate, per the stage's clock", () => {
    let now = 0;
    const bucket = new TokenBucket({ rateLimit: 10, burstLimit: 3 }, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).to.deep.equal([true, true, true, false]);
    now += 100; // 10/s: one token back
    expect([bucket.take(), bucket.take()]).to.deep.equal([true, false]);
    now += 10_000; // never more than the burst
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).to.deep.equal([true, true, true, false]);
    expect({ passed: bucket.passed, throttled: bucket.throttled }).to.deep.equal({ passed: 7, throttled: 3 });
  });

  it("refuses a limit that is not a positive rate and a whole burst", () => {
    expect(() => new TokenBucket({ rateLimit: 0, burstLimit: 1 }, Date.now)).to.throw(RangeError, /rateLimit/);
    expect(() => new TokenBucket({ rateLimit: 1, burstLimit: 0.5 }, Date.now)).to.throw(RangeError, /burstLimit/);
  });

  describe("over the wire", () => {
    const user = localIamUser("chatty");
    const calls = new Recorder();
    let gateway: WebSocketGateway;
    let now = Date.now();
    const sockets: WebSocket[] = [];

    before(async () => {
      gateway = await startWebSocketGateway({
        credentials: [user],
        // A frozen clock: no token comes back during the test, whatever the machine's pace.
        now: () => now,
        throttle: { rateLimit: 1, burstLimit: 5 },
        handlers: { $connect: calls.handler({ statusCode: 200 }), ask: calls.handler({ statusCode: 200 }) },
      });
    });
    after(async () => {
      for (const ws of sockets) ws.terminate();
      await gateway.close();
    });

    const signed = () =>
      presignWebSocketUrl({ endpoint: gateway.url, region: "us-east-1", credentials: user, query: { sessionId: "chatty" }, now: new Date(now) });

    it("answers messages past the burst with the gateway's Too Many Requests frame and invokes nothing for them; a $connect past it gets 429", async () => {
      const ws = await open(await signed()); // token 1
      sockets.push(ws);
      const inbox = new Inbox(ws);
      for (let i = 0; i < 8; i++) ws.send(JSON.stringify({ action: "ask", requestId: `r${i}` }));
      for (let i = 0; i < 4; i++) {
        const frame = await inbox.next();
        expect(JSON.parse(frame.text)).to.include({ message: "Too Many Requests", connectionId: calls.of("$connect")[0].requestContext.connectionId });
        expect(frame.text).to.match(/^\{"message": "Too Many Requests", "connectionId":"[^"]+", "requestId":"[^"]+"\}$/);
      }
      await gateway.idle();
      expect(calls.of("ask")).to.have.length(4);
      expect(gateway.stats().throttled).to.equal(4);

      const refused = await refusal(await signed());
      expect(refused.status).to.equal(429);
      expect(JSON.parse(refused.body)).to.deep.equal({ message: "Too Many Requests" });

      now += 2000; // two tokens back at 1/s
      ws.send(JSON.stringify({ action: "ask", requestId: "later" }));
      await calls.waitFor("ask", 5);
    });
  });
});

describe("local gateway: route-level throttles (a route with its own bucket spends none of the stage's)", () => {
  // Developer guide, "Protect your WebSocket APIs" (route-level throttling overrides the stage's
  // for individual routes): https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-protect.html
  const chatty = localIamUser("chatty-pinger");
  const other = localIamUser("other-principal");
  const calls = new Recorder();
  let gateway: WebSocketGateway;
  let now = Date.now();
  const sockets: WebSocket[] = [];

  before(async () => {
    gateway = await startWebSocketGateway({
      credentials: [chatty, other],
      now: () => now,
      throttle: { rateLimit: 1, burstLimit: 4 },
      routeThrottles: DEFAULT_ROUTE_THROTTLES,
      handlers: { $connect: calls.handler({ statusCode: 200 }), $default: calls.handler({ statusCode: 200 }), ask: calls.handler({ statusCode: 200 }) },
    });
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    await gateway.close();
  });

  const signed = (user: typeof chatty, sessionId: string) =>
    presignWebSocketUrl({ endpoint: gateway.url, region: "us-east-1", credentials: user, query: { sessionId }, now: new Date(now) });

  it("400 pings and 100 unrouted frames from one socket leave another principal's $connect and ask their stage budget (issue 21, finding 5)", async () => {
    const ws = await open(await signed(chatty, "chatty")); // stage token 1
    sockets.push(ws);
    const inbox = new Inbox(ws);
    for (let i = 0; i < 400; i++) ws.send(JSON.stringify({ action: "ping" }));
    for (let i = 0; i < 100; i++) ws.send("not json");
    const pingBurst = DEFAULT_ROUTE_THROTTLES.ping.burstLimit;
    const defaultBurst = DEFAULT_ROUTE_THROTTLES.$default.burstLimit;
    // The clock is frozen: each route's bucket lets its burst through and throttles the rest.
    for (let i = 0; i < 400 - pingBurst + 100 - defaultBurst; i++) expect(JSON.parse((await inbox.next()).text)).to.include({ message: "Too Many Requests" });
    await gateway.idle();
    expect(calls.of("$default")).to.have.length(defaultBurst);

    // The stage's bucket still holds 3 tokens: another principal connects and asks.
    const bystander = await open(await signed(other, "bystander")); // stage token 2
    sockets.push(bystander);
    bystander.send(JSON.stringify({ action: "ask", requestId: "r1" })); // stage token 3
    await calls.waitFor("ask", 1);
    expect(calls.of("$connect")).to.have.length(2);
  });
});

describe("local gateway: a client that stops reading", () => {
  const user = localIamUser("reader");
  const role = localRoleSession("writer-role");
  const calls = new Recorder();
  let gateway: WebSocketGateway;
  let client: ApiGatewayManagementApiClient;

  before(async () => {
    gateway = await startWebSocketGateway({
      credentials: [user, role],
      limits: { maxBufferedBytes: 256 * 1024 },
      handlers: { $connect: calls.handler({ statusCode: 200 }) },
    });
    client = new ApiGatewayManagementApiClient({ endpoint: gateway.managementEndpoint, region: "us-east-1", credentials: role, maxAttempts: 1 });
  });
  after(async () => {
    client.destroy();
    await gateway.close();
  });

  it("accepts posts while its buffers take them, then answers 429 LimitExceededException (socket still open); once it reads again, posts succeed and every accepted frame arrives in order", async function () {
    this.timeout(60_000);
    const url = await presignWebSocketUrl({ endpoint: gateway.url, region: "us-east-1", credentials: user, query: { sessionId: "reader" } });
    const ws = await open(url);
    const connectionId = calls.of("$connect")[0].requestContext.connectionId;
    const received: string[] = [];
    ws.on("message", (data: Buffer) => received.push(data.toString("utf8").slice(0, 12)));
    // Stop reading: the socket's data stays in the kernel until resumed.
    (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

    const chunk = "x".repeat(100 * 1024);
    const accepted: string[] = [];
    let refused: unknown;
    // The kernel's socket buffers take some megabytes first; the bound is on what queues after that.
    for (let i = 0; i < 2000 && refused === undefined; i++) {
      const data = `${String(i).padStart(11, "0")}:${chunk}`;
      try {
        await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
        accepted.push(data.slice(0, 12));
      } catch (error) {
        refused = error;
      }
    }
    expect(refused, "a post once the buffer is full").to.be.instanceOf(LimitExceededException);
    expect(gateway.connections.has(connectionId), "the socket stays open").to.equal(true);
    expect(gateway.stats().connectionsApi.bufferFull).to.equal(1);

    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    while (received.length < accepted.length) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received).to.deep.equal(accepted);
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "after" }));
    while (received.length < accepted.length + 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received.at(-1)).to.equal("after");
    ws.terminate();
  });

  it("judges an @connections caller before reading its body: an unsigned 10 MB POST is refused (403) from its headers alone", async () => {
    expect(await headersOnly(`${gateway.managementEndpoint}/@connections/abc`, { "content-type": "application/octet-stream" }, 10 * 1024 * 1024)).to.equal(403);
  });

  it("sends no CORS header from the @connections API, to a preflight or to a request", async () => {
    const path = `${gateway.managementEndpoint}/@connections/abc`;
    const preflight = await fetch(path, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(preflight.headers.get("access-control-allow-origin")).to.equal(null);
    const post = await fetch(path, { method: "POST", headers: { origin: "https://evil.example" }, body: "x" });
    expect(post.status).to.equal(403);
    expect(post.headers.get("access-control-allow-origin")).to.equal(null);
  });
});
