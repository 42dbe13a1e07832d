/**
 * `$connect` on the local gateway over the wire: SigV4-presigned URLs from client/presign.ts,
 * a real `ws` client, the identity API Gateway would put in the event, and every way a
 * connect must be refused before the handler runs.
 */
import { expect } from "chai";
import WebSocket from "ws";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { presignWebSocketUrl } from "../../client/presign";
import { localCognitoIdentity, localIamUser, startWebSocketGateway, type WebSocketGateway } from "../../local/gateway";
import { CapturingLogger, Recorder, closed, open, refusal } from "./gateway-helpers";

describe("local gateway: $connect", () => {
  const alice = localIamUser("alice");
  const cognito = localCognitoIdentity();
  const denied = localIamUser("mallory", { allow: { connect: false } });
  const stranger = localIamUser("stranger");
  const calls = new Recorder();
  const logger = new CapturingLogger();
  let clock: number | undefined;
  let gateway: WebSocketGateway;
  const sockets: WebSocket[] = [];

  before(async () => {
    gateway = await startWebSocketGateway({
      credentials: [alice, cognito, denied],
      now: () => clock ?? Date.now(),
      logger,
      handlers: {
        $connect: async (event) => {
          calls.record(event);
          const sessionId = event.queryStringParameters?.sessionId;
          if (sessionId === "refuse-me") return { statusCode: 409, body: JSON.stringify({ message: "session taken" }) };
          if (sessionId === "explode") throw new Error("boom");
          return { statusCode: 200 };
        },
        $disconnect: async (event) => {
          calls.record(event);
        },
      },
    });
  });

  afterEach(() => {
    clock = undefined;
    for (const ws of sockets.splice(0)) ws.terminate();
  });

  after(async () => {
    await gateway.close();
  });

  const sign = (credentials = alice, sessionId = "session-1", extra: { now?: number; expiresInSeconds?: number } = {}) =>
    presignWebSocketUrl({ endpoint: gateway.url, region: "us-east-1", credentials, query: { sessionId, format: "json" }, ...extra });

  async function connect(url: string): Promise<WebSocket> {
    const ws = await open(url, { "User-Agent": "gateway-test/1.0" });
    sockets.push(ws);
    return ws;
  }

  it("accepts a presigned URL and gives $connect the IAM caller, headers and query", async () => {
    const before = calls.of("$connect").length;
    await connect(await sign());
    const event = calls.of("$connect")[before];
    const ctx = event.requestContext;
    expect(ctx).to.include({ routeKey: "$connect", eventType: "CONNECT", messageDirection: "IN", stage: "Prod", apiId: "local" });
    expect(ctx.requestId).to.equal(ctx.extendedRequestId).and.match(/^[A-Za-z0-9_-]{15}=$/);
    expect(ctx.requestTime).to.match(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(ctx.identity).to.include({
      userArn: alice.identity.userArn,
      accountId: alice.identity.accountId,
      accessKey: alice.accessKeyId,
      cognitoIdentityId: null,
      sourceIp: "127.0.0.1",
      userAgent: "gateway-test/1.0",
    });
    expect(event.queryStringParameters).to.include({ sessionId: "session-1", format: "json", "X-Amz-SignedHeaders": "host" });
    expect(event.multiValueQueryStringParameters?.sessionId).to.deep.equal(["session-1"]);
    expect(event.headers).to.include({ Host: `127.0.0.1:${gateway.port}`, "X-Forwarded-For": "127.0.0.1" });
    expect(event.headers).to.not.have.property("Connection");
    expect(gateway.connections.get(ctx.connectionId)?.identity.userArn).to.equal(alice.identity.userArn);
  });

  it("puts a Cognito credential's identity id into requestContext.identity", async () => {
    const identityId = cognito.identity.cognitoIdentityId!;
    const before = calls.of("$connect").length;
    await connect(await sign(cognito, identityId));
    const identity = calls.of("$connect")[before].requestContext.identity!;
    expect(identity.cognitoIdentityId).to.equal(identityId);
    expect(identity.cognitoIdentityPoolId).to.equal(cognito.identity.cognitoIdentityPoolId);
    expect(identity.cognitoAuthenticationType).to.equal("unauthenticated");
    expect(identity.userArn).to.match(/^arn:aws:sts::\d{12}:assumed-role\/Cognito_\w+\/CognitoIdentityCredentials$/);
  });

  describe("the signed host (clients.md: Lex Web UI signs the hostname without the port, as API Gateway on 443 receives it)", () => {
    /** Presigns `{gateway.url}?sessionId=…` with `signedHost` as the only signed header; the URL itself keeps the port. */
    async function signedFor(signedHost: string, sessionId: string): Promise<string> {
      const url = new URL(gateway.url);
      const signer = new SignatureV4({ service: "execute-api", region: "us-east-1", credentials: cognito, sha256: Hash.bind(null, "sha256") });
      const signed = await signer.presign(new HttpRequest({ method: "GET", protocol: url.protocol, hostname: url.hostname, path: url.pathname, query: { sessionId }, headers: { host: signedHost } }), {
        expiresIn: 3600,
      });
      return `${url.protocol}//${url.host}${url.pathname}?${new URLSearchParams(signed.query as Record<string, string>)}`;
    }

    it("accepts the Host header as sent (with the port) and the hostname alone", async () => {
      const before = calls.of("$connect").length;
      await connect(await signedFor(`127.0.0.1:${gateway.port}`, "lex-web-ui-00aa"));
      await connect(await signedFor("127.0.0.1", "lex-web-ui-00ab"));
      expect(calls.of("$connect").slice(before).map((e) => e.queryStringParameters?.sessionId)).to.deep.equal(["lex-web-ui-00aa", "lex-web-ui-00ab"]);
    });

    it("refuses any other host: another name, another port", async () => {
      for (const host of ["localhost", `localhost:${gateway.port}`, `127.0.0.1:${gateway.port + 1}`, "127.0.0.2"]) {
        const refused = await refusal(await signedFor(host, "lex-web-ui-00ac"));
        expect(refused.status, host).to.equal(403);
        expect(refused.headers["x-amzn-errortype"], host).to.equal("InvalidSignatureException");
      }
    });
  });

  describe("refusals (403, handler not called)", () => {
    async function expectRefused(url: string, errorType: string, message: RegExp): Promise<void> {
      const before = calls.of("$connect").length;
      const refused = await refusal(url);
      expect(refused.status).to.equal(403);
      expect(refused.headers["x-amzn-errortype"]).to.equal(errorType);
      expect(JSON.parse(refused.body).message).to.match(message);
      expect(calls.of("$connect")).to.have.length(before);
    }

    it("an unsigned URL", async () => {
      await expectRefused(`${gateway.url}?sessionId=session-1`, "MissingAuthenticationTokenException", /Missing Authentication Token/);
    });

    it("a sessionId changed after signing", async () => {
      const url = (await sign(alice, "session-1")).replace("sessionId=session-1", "sessionId=session-2");
      await expectRefused(url, "InvalidSignatureException", /signature we calculated does not match/);
    });

    it("a format changed after signing", async () => {
      const url = (await sign()).replace("format=json", "format=text");
      await expectRefused(url, "InvalidSignatureException", /does not match/);
    });

    it("an expired URL, by the gateway's clock", async () => {
      const signedAt = Date.UTC(2030, 0, 1, 12, 0, 0);
      const url = await sign(alice, "session-1", { now: signedAt, expiresInSeconds: 60 });
      clock = signedAt + 61_000;
      await expectRefused(url, "InvalidSignatureException", /^Signature expired/);
      // The same URL inside its lifetime connects: the refusal above was the clock, not the URL.
      clock = signedAt + 59_000;
      await connect(url);
    });

    it("an unknown access key", async () => {
      await expectRefused(await sign(stranger), "UnrecognizedClientException", /security token included in the request is invalid/);
    });

    it("a known key signed with the wrong secret", async () => {
      await expectRefused(await sign({ ...alice, secretAccessKey: "not-the-secret" }), "InvalidSignatureException", /does not match/);
    });

    it("a temporary key without its session token", async () => {
      const url = (await sign(cognito, cognito.identity.cognitoIdentityId)).replace(/&X-Amz-Security-Token=[^&]+/, "");
      await expectRefused(url, "UnrecognizedClientException", /security token/);
    });

    it("a principal without execute-api:Invoke on $connect", async () => {
      const before = calls.of("$connect").length;
      const refused = await refusal(await sign(denied));
      expect(refused.status).to.equal(403);
      expect(JSON.parse(refused.body).Message).to.match(/not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:\d{12}:local\/Prod\/\$connect/);
      expect(calls.of("$connect")).to.have.length(before);
    });

    it("a path outside the stage", async () => {
      const url = (await sign()).replace("/Prod?", "/Dev?");
      expect((await refusal(url)).status).to.equal(403);
    });
  });

  it("answers a non-2xx $connect result with its status and body", async () => {
    const refused = await refusal(await sign(alice, "refuse-me"));
    expect(refused.status).to.equal(409);
    expect(JSON.parse(refused.body)).to.deep.equal({ message: "session taken" });
  });

  it("answers 500 when $connect throws", async () => {
    const refused = await refusal(await sign(alice, "explode"));
    expect(refused.status).to.equal(500);
    expect(JSON.parse(refused.body)).to.deep.equal({ message: "Internal server error" });
    expect(logger.lines.some((line) => line.includes("$connect integration failed"))).to.equal(true);
  });

  it("reports a client close to $disconnect exactly once, with the client's code", async () => {
    const before = calls.of("$connect").length;
    const ws = await connect(await sign());
    const connectionId = calls.of("$connect")[before].requestContext.connectionId;
    ws.close(4001, "bye");
    await closed(ws);
    const [disconnect] = await calls.waitFor("$disconnect", 1, connectionId);
    expect(disconnect.requestContext).to.include({ eventType: "DISCONNECT", disconnectStatusCode: 4001, disconnectReason: "bye" });
    await gateway.idle();
    expect(calls.of("$disconnect", connectionId)).to.have.length(1);
    expect(gateway.connections.has(connectionId)).to.equal(false);
  });
});

describe("local gateway: a client that leaves while $connect runs", () => {
  it("still gets exactly one $disconnect", async () => {
    const user = localIamUser("leaver");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const connectRunning = new Promise<void>((resolve) => (entered = resolve));
    let disconnected!: () => void;
    const disconnectSeen = new Promise<void>((resolve) => (disconnected = resolve));
    const disconnects: string[] = [];
    let connectedId = "";
    const gateway = await startWebSocketGateway({
      credentials: [user],
      handlers: {
        $connect: async (event) => {
          connectedId = event.requestContext.connectionId;
          entered();
          await gate;
          return { statusCode: 200 };
        },
        $disconnect: async (event) => {
          disconnects.push(event.requestContext.connectionId);
          disconnected();
        },
      },
    });
    try {
      const url = await presignWebSocketUrl({ endpoint: gateway.url, region: "us-east-1", credentials: user, query: { sessionId: "s" } });
      const ws = new WebSocket(url);
      ws.on("error", () => undefined);
      await connectRunning;
      ws.terminate();
      // Give the server a moment to see the socket go (either order must end in one $disconnect).
      await new Promise((resolve) => setTimeout(resolve, 20));
      release();
      await disconnectSeen;
    } finally {
      await gateway.close();
    }
    expect(disconnects).to.deep.equal([connectedId]);
  });
});

describe("local gateway: a $connect that outlives the integration timeout", () => {
  it("answers 504 and never upgrades", async () => {
    const user = localIamUser("patient");
    const gateway = await startWebSocketGateway({
      credentials: [user],
      limits: { integrationTimeoutMs: 100 },
      logger: new CapturingLogger(),
      handlers: { $connect: () => new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200 }), 250)) },
    });
    try {
      const url = await presignWebSocketUrl({ endpoint: gateway.url, region: "us-east-1", credentials: user, query: { sessionId: "s" } });
      const refused = await refusal(url);
      expect(refused.status).to.equal(504);
      expect(JSON.parse(refused.body)).to.deep.equal({ message: "Endpoint request timed out" });
      await gateway.idle();
      expect(gateway.connections.size).to.equal(0);
    } finally {
      await gateway.close();
    }
  });
});
