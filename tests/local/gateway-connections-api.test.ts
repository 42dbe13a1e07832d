/**
 * The @connections API of the local gateway through the real ApiGatewayManagementApi
 * client: delivery, GetConnection, DeleteConnection, typed errors, signature checks and
 * injected latency and failures.
 */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  ForbiddenException,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { HttpRequest } from "@smithy/protocol-http";
import type { AwsCredentialIdentity, FinalizeHandler } from "@smithy/types";
import { expect } from "chai";
import type WebSocket from "ws";
import { presignWebSocketUrl } from "../../client/presign";
import {
  localCognitoIdentity,
  localIamUser,
  localRoleSession,
  startWebSocketGateway,
  type ConnectionsApiRequest,
  type WebSocketGateway,
} from "../../local/gateway";
import { Inbox, Recorder, closed, open } from "./gateway-helpers";

describe("local gateway: @connections API", () => {
  const browser = localCognitoIdentity();
  const lambdaRole = localRoleSession("fulfillment-role");
  const calls = new Recorder();
  let gateway: WebSocketGateway;
  let client: ApiGatewayManagementApiClient;
  const sockets: WebSocket[] = [];

  const management = (credentials: AwsCredentialIdentity, endpoint = gateway.managementEndpoint) =>
    new ApiGatewayManagementApiClient({ endpoint, region: "us-east-1", credentials, maxAttempts: 1 });

  async function connect(): Promise<{ ws: WebSocket; connectionId: string; inbox: Inbox }> {
    const before = calls.of("$connect").length;
    const url = await presignWebSocketUrl({
      endpoint: gateway.url,
      region: "us-east-1",
      credentials: browser,
      query: { sessionId: browser.identity.cognitoIdentityId! },
    });
    const ws = await open(url, { "User-Agent": "browser/1" });
    sockets.push(ws);
    return { ws, connectionId: calls.of("$connect")[before].requestContext.connectionId, inbox: new Inbox(ws) };
  }

  async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
    try {
      await promise;
    } catch (error) {
      return error as Error;
    }
    throw new Error("the call succeeded");
  }

  before(async () => {
    gateway = await startWebSocketGateway({
      credentials: [browser, lambdaRole],
      handlers: { $connect: calls.handler({ statusCode: 200 }), $disconnect: calls.handler() },
    });
    client = management(lambdaRole);
  });

  afterEach(() => {
    gateway.setConnectionsApiBehaviour({});
    for (const ws of sockets.splice(0)) ws.terminate();
  });

  after(async () => {
    client.destroy();
    await gateway.close();
  });

  it("delivers a post as one text frame, multi-byte characters intact", async () => {
    const { connectionId, inbox } = await connect();
    const text = "héllo 世界 🌍 ".repeat(100);
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: text }));
    expect(await inbox.next()).to.deep.equal({ text, isBinary: false });
  });

  it("delivers bytes that are not UTF-8 as a binary frame", async () => {
    const { ws, connectionId } = await connect();
    const frame = new Promise<{ data: Buffer; isBinary: boolean }>((resolve) => ws.once("message", (data, isBinary) => resolve({ data: data as Buffer, isBinary })));
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: new Uint8Array([0xff, 0xfe, 0x00]) }));
    const received = await frame;
    expect(received.isBinary).to.equal(true);
    expect([...received.data]).to.deep.equal([0xff, 0xfe, 0x00]);
  });

  it("keeps the order of posts to one connection", async () => {
    const { connectionId, inbox } = await connect();
    for (let i = 0; i < 20; i += 1) await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: `frame ${i}` }));
    for (let i = 0; i < 20; i += 1) expect((await inbox.next()).text).to.equal(`frame ${i}`);
  });

  it("answers GetConnection with when it connected, its source and when it was last active", async () => {
    const { ws, connectionId, inbox } = await connect();
    ws.send(JSON.stringify({ action: "ping" }));
    // A post to ourselves orders the check after the ping has been read by the gateway.
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "sync" }));
    await inbox.next();
    const info = await client.send(new GetConnectionCommand({ ConnectionId: connectionId }));
    const tracked = gateway.connections.get(connectionId)!;
    expect(info.ConnectedAt?.getTime()).to.equal(tracked.connectedAt);
    expect(info.LastActiveAt?.getTime()).to.equal(tracked.lastActiveAt);
    expect(info.Identity).to.deep.equal({ SourceIp: "127.0.0.1", UserAgent: "browser/1" });
  });

  it("closes the socket on DeleteConnection, fires $disconnect once, and answers Gone afterwards", async () => {
    const { ws, connectionId } = await connect();
    const closing = closed(ws);
    await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    expect((await closing).code).to.equal(1000);
    const [disconnect] = await calls.waitFor("$disconnect", 1, connectionId);
    expect(disconnect.requestContext).to.include({ disconnectStatusCode: 1000, disconnectReason: "Connection Closed Normally" });

    const gone = await rejection(client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "late" })));
    expect(gone).to.be.instanceOf(GoneException);
    expect(gone.$metadata?.httpStatusCode).to.equal(410);
    expect(await rejection(client.send(new GetConnectionCommand({ ConnectionId: connectionId })))).to.be.instanceOf(GoneException);
    expect(await rejection(client.send(new DeleteConnectionCommand({ ConnectionId: connectionId })))).to.be.instanceOf(GoneException);
    await gateway.idle();
    expect(calls.of("$disconnect", connectionId)).to.have.length(1);
  });

  it("answers Gone for a connection the client closed and for one that never existed", async () => {
    const { ws, connectionId } = await connect();
    ws.close();
    await calls.waitFor("$disconnect", 1, connectionId);
    expect(await rejection(client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "x" })))).to.be.instanceOf(GoneException);
    expect(await rejection(client.send(new PostToConnectionCommand({ ConnectionId: "AAAAAAAAAAAAAAA=", Data: "x" })))).to.be.instanceOf(GoneException);
  });

  it("refuses a post over 128 KB with PayloadTooLargeException and delivers one of exactly 128 KB", async () => {
    const { connectionId, inbox } = await connect();
    const tooLarge = await rejection(client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "z".repeat(128 * 1024 + 1) })));
    expect(tooLarge).to.be.instanceOf(PayloadTooLargeException);
    expect(tooLarge.$metadata?.httpStatusCode).to.equal(413);
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "z".repeat(128 * 1024) }));
    expect((await inbox.next()).text).to.have.length(128 * 1024);
  });

  it("surfaces an injected 429 as LimitExceededException and a 500 as a server fault, then recovers", async () => {
    const { connectionId, inbox } = await connect();
    const seen: ConnectionsApiRequest[] = [];
    gateway.setConnectionsApiBehaviour({
      fault: (request) => {
        seen.push(request);
        return seen.length === 1 ? { status: 429 } : seen.length === 2 ? { status: 500 } : undefined;
      },
    });
    const throttled = await rejection(client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "a" })));
    expect(throttled).to.be.instanceOf(LimitExceededException);
    expect(throttled.$metadata?.httpStatusCode).to.equal(429);
    const failed = await rejection(client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "b" })));
    expect(failed.name).to.equal("InternalServerErrorException");
    expect((failed as { $fault?: string }).$fault).to.equal("server");
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "c" }));
    // Failed posts deliver nothing.
    expect((await inbox.next()).text).to.equal("c");
    expect(seen.map((r) => [r.method, r.connectionId, r.bytes])).to.deep.equal([
      ["POST", connectionId, 1],
      ["POST", connectionId, 1],
      ["POST", connectionId, 1],
    ]);
    expect(seen[1].seq).to.equal(seen[0].seq + 1);
    expect(gateway.stats().connectionsApi.errors).to.include({ 429: 1, 500: 1 });
  });

  it("holds an answer (and the delivery) for the injected latency, decided per request", async () => {
    const { connectionId, inbox } = await connect();
    const consulted: { bytes: number; at: number }[] = [];
    gateway.setConnectionsApiBehaviour({
      latencyMs: (request) => {
        consulted.push({ bytes: request.bytes, at: Date.now() });
        return request.bytes === 4 ? 120 : 0;
      },
    });
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "slow" }));
    const arrived = Date.now();
    expect((await inbox.next()).text).to.equal("slow");
    // A lower bound only: the frame cannot have been delivered before the injected latency elapsed.
    expect(arrived - consulted[0].at).to.be.at.least(115);
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "quick" }));
    expect((await inbox.next()).text).to.equal("quick");
    expect(consulted.map((c) => c.bytes)).to.deep.equal([4, 5]);
  });

  it("refuses a bad signature, an unknown key and a caller without ManageConnections with ForbiddenException", async () => {
    const { connectionId, inbox } = await connect();
    const cases: AwsCredentialIdentity[] = [
      { ...lambdaRole, secretAccessKey: "wrong" },
      localIamUser("stranger"),
      // The browser's own Cognito credential may connect but not post.
      browser,
    ];
    for (const credentials of cases) {
      const other = management(credentials);
      try {
        const refused = await rejection(other.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "forged" })));
        expect(refused).to.be.instanceOf(ForbiddenException);
        expect(refused.$metadata?.httpStatusCode).to.equal(403);
      } finally {
        other.destroy();
      }
    }
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "genuine" }));
    expect((await inbox.next()).text).to.equal("genuine");
  });

  it("refuses a request whose body was swapped under a valid signature", async () => {
    const { connectionId, inbox } = await connect();
    const tampering = management(lambdaRole);
    const swapBody =
      (next: FinalizeHandler<ServiceInputTypes, ServiceOutputTypes>): FinalizeHandler<ServiceInputTypes, ServiceOutputTypes> =>
      async (args) => {
        // Same length, so every signed header (content-length included) still matches.
        if (HttpRequest.isInstance(args.request)) args.request.body = "swapped!";
        return next(args);
      };
    tampering.middlewareStack.addRelativeTo(swapBody, { relation: "after", toMiddleware: "awsAuthMiddleware", name: "swapBody" });
    try {
      const refused = await rejection(tampering.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "original" })));
      expect(refused).to.be.instanceOf(ForbiddenException);
      expect(refused.message).to.match(/x-amz-content-sha256/);
    } finally {
      tampering.destroy();
    }
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "after" }));
    expect((await inbox.next()).text).to.equal("after");
  });

  it("answers ForbiddenException for an endpoint without the stage", async () => {
    const { connectionId } = await connect();
    const wrong = management(lambdaRole, gateway.managementEndpoint.replace(/\/Prod$/, "/Dev"));
    try {
      const refused = await rejection(wrong.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "x" })));
      expect(refused).to.be.instanceOf(ForbiddenException);
      expect(refused.message).to.match(/No method found matching route Dev\/@connections/);
    } finally {
      wrong.destroy();
    }
  });
});
