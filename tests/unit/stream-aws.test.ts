import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resetAwsClients } from "../../functions/shared/aws";
import { metrics } from "../../functions/shared/metrics";
import { logger } from "../../functions/shared/observability";
import { DynamoConnectionsStore } from "../../functions/shared/dynamo-connections";
import { flushIntervalsFromEnv, ManagementApiTransport, streamOpenerFromEnv, toPostError } from "../../functions/stream/aws";
import { DEFAULT_FLUSH_INTERVAL_MS } from "../../functions/stream/writer";
import { openStreamFromAttributes } from "../../functions/stream/index";
import { PostError } from "../../functions/stream/types";
import { LOCAL_DYNAMO_CREDENTIALS, startLocalDynamo, type LocalDynamo } from "../../local/dynamo";
import { applyEnv } from "../../local/process-env";
import { newCognitoIdentityId } from "./connection-events";

/** How the fake @connections API answers a connection id, by the id's prefix. */
const REPLIES: Record<string, { status: number; type?: string }> = {
  gone: { status: 410, type: "GoneException" },
  forbidden: { status: 403, type: "ForbiddenException" },
  throttled: { status: 429, type: "LimitExceededException" },
  large: { status: 413, type: "PayloadTooLargeException" },
  broken: { status: 500, type: "InternalServerErrorException" },
  // Status codes without a typed error: the status alone decides.
  s410: { status: 410 },
  s403: { status: 403 },
  s429: { status: 429 },
  s413: { status: 413 },
};

interface Received {
  method: string;
  path: string;
  connectionId: string;
  body: Buffer;
  authorization: string;
}

/** A tiny @connections API on 127.0.0.1 for stage `dev`, answering like API Gateway does. */
async function startConnectionsApi() {
  const received: Received[] = [];
  let sockets = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const path = request.url ?? "";
      const match = /^\/dev\/@connections\/([^/?]+)$/.exec(path);
      if (!match) {
        response.writeHead(404, { "x-amzn-errortype": "NotFoundException" }).end('{"message":"Not Found"}');
        return;
      }
      const connectionId = decodeURIComponent(match[1]);
      received.push({
        method: request.method ?? "",
        path,
        connectionId,
        body: Buffer.concat(chunks),
        authorization: String(request.headers.authorization ?? ""),
      });
      const reply = REPLIES[connectionId.split("-")[0]];
      if (!reply) {
        response.writeHead(200).end();
        return;
      }
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (reply.type) headers["x-amzn-errortype"] = reply.type;
      response.writeHead(reply.status, headers).end(JSON.stringify({ message: reply.type ?? "refused" }));
    });
  });
  server.on("connection", () => sockets++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/dev`,
    received,
    sockets: () => sockets,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("stream writer over AWS", () => {
  let api: Awaited<ReturnType<typeof startConnectionsApi>>;
  let transport: ManagementApiTransport;

  before(async () => {
    api = await startConnectionsApi();
    transport = new ManagementApiTransport({
      endpoint: api.endpoint,
      region: "eu-west-1",
      credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
    });
  });

  after(async () => {
    transport.destroy();
    await api.close();
  });

  beforeEach(() => {
    api.received.length = 0;
  });

  describe("ManagementApiTransport", () => {
    it("POSTs the raw frame, signed for execute-api, to /{stage}/@connections/{id} over one kept-alive socket", async () => {
      const socketsBefore = api.sockets();
      const frame = new TextEncoder().encode('漢字 😀 {"not":"json-wrapped"}');
      await transport.post("L0SM9cOFvHcCIhw=", frame);
      await transport.post("L0SM9cOFvHcCIhw=", frame);
      await transport.post("L0SM9cOFvHcCIhw=", frame);
      expect(api.received).to.have.length(3);
      const [first] = api.received;
      expect(first.method).to.equal("POST");
      expect(first.path).to.equal("/dev/@connections/L0SM9cOFvHcCIhw%3D");
      expect(first.connectionId).to.equal("L0SM9cOFvHcCIhw=");
      expect(new Uint8Array(first.body)).to.deep.equal(frame);
      expect(first.authorization).to.match(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-west-1\/execute-api\/aws4_request/);
      expect(api.sockets() - socketsBefore).to.be.at.most(1);
    });

    it("maps typed errors and bare status codes to PostError kinds, with no SDK retries", async () => {
      const cases: [string, string, number][] = [
        ["gone-1", "gone", 410],
        ["forbidden-1", "forbidden", 403],
        ["throttled-1", "throttled", 429],
        ["large-1", "too_large", 413],
        ["broken-1", "other", 500],
        ["s410-1", "gone", 410],
        // An untyped 403 is a grant or endpoint problem, not a closed socket: rows must survive it.
        ["s403-1", "other", 403],
        ["s429-1", "throttled", 429],
        ["s413-1", "too_large", 413],
      ];
      for (const [connectionId, kind, status] of cases) {
        let error: unknown;
        await transport.post(connectionId, new Uint8Array([104, 105])).catch((e: unknown) => (error = e));
        expect(error, connectionId).to.be.instanceOf(PostError);
        expect((error as PostError).kind, connectionId).to.equal(kind);
        expect((error as PostError).status, connectionId).to.equal(status);
      }
      expect(api.received.map((r) => r.connectionId)).to.deep.equal(cases.map(([id]) => id));
    });

    it("reports an unreachable endpoint as a retryable 'other' failure", async () => {
      const closed = await startConnectionsApi();
      await closed.close();
      const unreachable = new ManagementApiTransport({
        endpoint: closed.endpoint,
        region: "eu-west-1",
        credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
      });
      try {
        let error: unknown;
        await unreachable.post("abc", new Uint8Array([1])).catch((e: unknown) => (error = e));
        expect(error).to.be.instanceOf(PostError);
        expect((error as PostError).kind).to.equal("other");
      } finally {
        unreachable.destroy();
      }
    });

    it("calls a post that got no answer before the request timeout 'unknown': it may have been delivered", async () => {
      let received = 0;
      const silent: Server = createServer(() => {
        received++;
      });
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const transport = new ManagementApiTransport({
        endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/dev`,
        region: "eu-west-1",
        credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
        requestTimeoutMs: 200,
      });
      try {
        let error: unknown;
        await transport.post("abc", new Uint8Array([1])).catch((e: unknown) => (error = e));
        expect(received, "the request reached the server").to.equal(1);
        expect(error).to.be.instanceOf(PostError);
        expect((error as PostError).kind).to.equal("unknown");
      } finally {
        transport.destroy();
        silent.closeAllConnections();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it("refuses an endpoint that is not an http(s) URL", () => {
      expect(() => new ManagementApiTransport({ endpoint: "execute-api/dev" })).to.throw(/http\(s\) URL/);
      expect(() => new ManagementApiTransport({ endpoint: "wss://abc.execute-api.us-east-1.amazonaws.com/dev" })).to.throw(/http\(s\) URL/);
    });

    it("toPostError keeps a PostError, calls a refused connection 'other' and a timeout or reset 'unknown'", () => {
      const original = new PostError("gone", "gone", 410);
      expect(toPostError(original)).to.equal(original);
      expect(toPostError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })).kind).to.equal("other");
      // @smithy/node-http-handler's two timeouts: no connection (never sent) and no answer (maybe delivered).
      const connectTimeout = "@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 1000 ms.";
      expect(toPostError(Object.assign(new Error(connectTimeout), { name: "TimeoutError" })).kind).to.equal("other");
      const requestTimeout = "@smithy/node-http-handler - [ERROR] a request has exceeded the configured 3000 ms requestTimeout.";
      expect(toPostError(Object.assign(new Error(requestTimeout), { name: "TimeoutError", code: "ETIMEDOUT" })).kind).to.equal("unknown");
      expect(toPostError(new TypeError("socket hang up")).kind).to.equal("unknown");
      expect(toPostError("weird").kind).to.equal("unknown");
    });
  });

  describe("from the environment and from hook attributes", () => {
    let local: LocalDynamo;
    let restore: () => void;

    before(async () => {
      local = await startLocalDynamo();
      restore = applyEnv({
        AWS_ENDPOINT_URL_DYNAMODB: local.endpoint,
        AWS_REGION: "eu-west-1",
        AWS_ACCESS_KEY_ID: LOCAL_DYNAMO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_DYNAMO_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: undefined,
        AWS_PROFILE: undefined,
        STREAMING_ENDPOINT: undefined,
        CONNECTIONS_TABLE: undefined,
        STREAM_TEXT_FLUSH_MS: undefined,
        STREAM_JSON_FLUSH_MS: undefined,
      });
      resetAwsClients();
    });

    after(async () => {
      resetAwsClients();
      restore();
      await local.close();
    });

    it("streamOpenerFromEnv is off without endpoint or table, and built once per process when on", () => {
      expect(streamOpenerFromEnv()).to.equal(undefined);
      process.env.STREAMING_ENDPOINT = api.endpoint;
      expect(streamOpenerFromEnv()).to.equal(undefined);
      process.env.CONNECTIONS_TABLE = local.connectionsTable;
      const opener = streamOpenerFromEnv();
      expect(opener).to.be.a("function");
      expect(streamOpenerFromEnv()).to.equal(opener);
      process.env.STREAM_TEXT_FLUSH_MS = "soon";
      expect(() => streamOpenerFromEnv()).to.throw(/STREAM_TEXT_FLUSH_MS/);
      delete process.env.STREAM_TEXT_FLUSH_MS;
      process.env.STREAM_JSON_FLUSH_MS = "-5";
      expect(() => streamOpenerFromEnv()).to.throw(/STREAM_JSON_FLUSH_MS/);
      delete process.env.STREAM_JSON_FLUSH_MS;
    });

    it("reads the frame budget per format, each defaulting to the writer's", () => {
      expect(flushIntervalsFromEnv()).to.deep.equal(DEFAULT_FLUSH_INTERVAL_MS);
      process.env.STREAM_TEXT_FLUSH_MS = "400";
      expect(flushIntervalsFromEnv()).to.deep.equal({ text: 400, json: DEFAULT_FLUSH_INTERVAL_MS.json });
      process.env.STREAM_JSON_FLUSH_MS = "0";
      expect(flushIntervalsFromEnv()).to.deep.equal({ text: 400, json: 0 });
      delete process.env.STREAM_TEXT_FLUSH_MS;
      delete process.env.STREAM_JSON_FLUSH_MS;
    });

    it("openStreamFromAttributes is off for {} and refuses partial attributes", async () => {
      expect(await openStreamFromAttributes({})).to.equal(undefined);
      expect(await openStreamFromAttributes(undefined)).to.equal(undefined);
      let error: unknown;
      await openStreamFromAttributes({ sessionId: "s", streamingEndpoint: api.endpoint }).catch((e: unknown) => (error = e));
      expect(String(error)).to.include("missing streamingDynamoDbTable");
    });

    it("streams a hook's answer over the wire to a bound session (a Cognito identity id): DynamoDB lookup, json and text frames, a Gone row removed", async () => {
      const store = new DynamoConnectionsStore({ tableName: local.connectionsTable, ttlSeconds: 600 });
      const hookSession = newCognitoIdentityId();
      const principal = `cognito:${hookSession}`;
      await store.register({ sessionId: hookSession, connectionId: "ok-json", principal, format: "json" });
      await store.register({ sessionId: hookSession, connectionId: "ok-text", principal, format: "text" });
      await store.register({ sessionId: hookSession, connectionId: "gone-tab", principal, format: "text" });

      // Capture the default reporter's EMF emission and log line instead of printing them.
      const added: string[] = [];
      const logged: string[] = [];
      let published = 0;
      const saved = { addMetric: metrics.addMetric, publish: metrics.publishStoredMetrics, info: logger.info };
      metrics.addMetric = (name: string) => (added.push(name), metrics);
      metrics.publishStoredMetrics = () => (published++, metrics);
      logger.info = (...args: Parameters<typeof logger.info>) => {
        logged.push(String(args[0]));
      };
      const restoreObservability = () => {
        metrics.addMetric = saved.addMetric;
        metrics.publishStoredMetrics = saved.publish;
        logger.info = saved.info;
      };

      let report;
      try {
        const stream = await openStreamFromAttributes(
          { sessionId: hookSession, streamingEndpoint: api.endpoint, streamingDynamoDbTable: local.connectionsTable, requestId: "ask-7" },
          "lambda-request-id",
        );
        expect(stream?.liveConnections).to.equal(3);
        stream!.delta("Bonjour ");
        stream!.delta("le monde 🌍");
        report = await stream!.end({ final: "Bonjour le monde 🌍", stopReason: "end_turn" });
      } finally {
        restoreObservability();
      }

      const bodies = (id: string) => api.received.filter((r) => r.connectionId === id).map((r) => r.body.toString("utf8"));
      expect(bodies("ok-text").join("")).to.equal("Bonjour le monde 🌍");
      const envelopes = bodies("ok-json").map((b) => JSON.parse(b));
      expect(envelopes.map((e) => e.type)).to.deep.equal(["start", ...envelopes.slice(1, -1).map(() => "delta"), "end"]);
      expect(envelopes.every((e) => e.requestId === "ask-7")).to.equal(true);
      expect(envelopes.at(-1).final).to.equal("Bonjour le monde 🌍");
      expect(bodies("gone-tab")).to.have.length(1);
      expect(report).to.include({ connections: 3, gone: 1 });
      const left = await store.listSession(hookSession);
      expect(left.connections.map((r) => r.connectionId).sort()).to.deep.equal(["ok-json", "ok-text"]);
      expect(published).to.equal(1);
      expect(added).to.include.members(["StreamTtftMs", "StreamFrames", "StreamPosts", "StreamBytes", "StreamGoneConnections", "StreamDurationMs"]);
      expect(logged).to.deep.equal(["connection gone; dropped from the stream", "answer streamed"]);
    });

    // Issue 19: a hook never knows who asked, so by default a session id bound to no identity gets nothing.
    it("reaches no connection of an unbound session id unless UNBOUND_SESSION_STREAMING is true", async () => {
      const principal = "cognito:us-east-1:00000000-0000-4000-8000-00000000b00b";
      await new DynamoConnectionsStore({ tableName: local.connectionsTable, ttlSeconds: 600 }).register({ sessionId: "lex-web-ui-b00b", connectionId: "guest-tab", principal, format: "text" });
      const attributes = { sessionId: "lex-web-ui-b00b", streamingEndpoint: api.endpoint, streamingDynamoDbTable: local.connectionsTable, requestId: "ask-8" };
      const off = await openStreamFromAttributes(attributes, "lambda-request-off");
      expect(off?.liveConnections).to.equal(0);
      await off!.end({ final: "x", stopReason: "end_turn" });
      const restore = applyEnv({ UNBOUND_SESSION_STREAMING: "true" });
      try {
        const on = await openStreamFromAttributes(attributes, "lambda-request-on");
        expect(on?.liveConnections).to.equal(1);
        await on!.end({ final: "x", stopReason: "end_turn" });
      } finally {
        restore();
      }
    });
  });
});
