import { createServer, type AddressInfo } from "node:net";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { expect } from "chai";
import { handler } from "../../functions/connection/handler";
import { resetAwsClients } from "../../functions/shared/aws";
import { DynamoConnectionsStore } from "../../functions/shared/dynamo-connections";
import { ENV } from "../../functions/shared/env";
import type { WebSocketEvent } from "../../functions/shared/events";
import { CLIENT_ACTIONS } from "../../functions/shared/routes";
import { LOCAL_DYNAMO_CREDENTIALS, startLocalDynamo, type LocalDynamo } from "../../local/dynamo";
import {
  cognitoIdentity,
  connectEvent,
  disconnectEvent,
  iamIdentity,
  messageEvent,
  newCognitoIdentityId,
  newConnectionId,
} from "./connection-events";
import { applyEnv } from "../../local/process-env";

const ALICE_ARN = "arn:aws:iam::123456789012:user/alice";
const BOB_ARN = "arn:aws:iam::123456789012:role/bob";

type Result = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };
type LogLine = Record<string, unknown>;

/** Invokes the handler with its JSON log lines (stdout and stderr) captured and kept off the test output. */
async function invoke(event: WebSocketEvent): Promise<{ result: Result; logs: LogLine[]; rawLogs: string }> {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write);
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return true;
    }) as typeof stream.write;
  }
  let result: Result;
  try {
    result = (await handler(event)) as Result;
  } finally {
    streams.forEach((stream, i) => (stream.write = writes[i]));
  }
  const rawLogs = chunks.join("");
  const logs = rawLogs
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);
  return { result, logs, rawLogs };
}

function message(result: Result): string {
  return (JSON.parse(result.body) as { message: string }).message;
}

/** A port nothing listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("connection function handler", () => {
  let local: LocalDynamo;
  /** The table as the stream writer sees it, for assertions. */
  let store: DynamoConnectionsStore;
  let restoreEnv: () => void;
  let sequence = 0;
  const sessionId = () => `session-${++sequence}`;

  before(async () => {
    local = await startLocalDynamo();
    restoreEnv = applyEnv({
      [ENV.connectionsTable]: local.connectionsTable,
      [ENV.connectionTtlSeconds]: "7200",
      AWS_ENDPOINT_URL_DYNAMODB: local.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: LOCAL_DYNAMO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_DYNAMO_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_MAX_ATTEMPTS: "1",
    });
    resetAwsClients();
    store = new DynamoConnectionsStore({
      tableName: local.connectionsTable,
      ttlSeconds: 7200,
      client: DynamoDBDocumentClient.from(local.client),
    });
  });

  after(async () => {
    resetAwsClients();
    restoreEnv();
    await local.close();
  });

  describe("$connect", () => {
    it("accepts an IAM caller and records its principal with the default text format", async () => {
      const id = sessionId();
      const event = connectEvent({ query: { sessionId: id }, identity: iamIdentity(ALICE_ARN) });
      const { result, logs } = await invoke(event);
      expect(result.statusCode).to.equal(200);
      expect(message(result)).to.equal("connected");
      const row = await store.find(event.requestContext.connectionId);
      expect(row).to.include({ sessionId: id, principal: `iam:${ALICE_ARN}`, format: "text" });
      expect(row!.ttl - Math.floor(row!.connectedAt / 1000)).to.equal(7200);
      expect(logs.find((line) => line.message === "route handled")).to.include({
        level: "INFO",
        route: "$connect",
        connectionId: event.requestContext.connectionId,
        status: 200,
      });
    });

    it("records format=json", async () => {
      const event = connectEvent({ query: { sessionId: sessionId(), format: "json" } });
      expect((await invoke(event)).result.statusCode).to.equal(200);
      expect((await store.find(event.requestContext.connectionId))?.format).to.equal("json");
    });

    it("accepts a Cognito caller on its own identity id", async () => {
      const identityId = newCognitoIdentityId();
      const event = connectEvent({ query: { sessionId: identityId }, identity: cognitoIdentity(identityId) });
      expect((await invoke(event)).result.statusCode).to.equal(200);
      expect(await store.listSession(identityId)).to.deep.include({ claimants: [`cognito:${identityId}`], contested: false });
    });

    it("refuses a Cognito caller claiming another identity's session with 403 and writes nothing", async () => {
      const victim = newCognitoIdentityId();
      const event = connectEvent({ query: { sessionId: victim }, identity: cognitoIdentity(newCognitoIdentityId()) });
      const { result } = await invoke(event);
      expect(result.statusCode).to.equal(403);
      expect(message(result)).to.match(/Cognito identity id/);
      expect(await store.find(event.requestContext.connectionId)).to.equal(undefined);
      expect(await store.listSession(victim)).to.deep.include({ claimants: [], contested: false, connections: [] });
    });

    it("refuses an IAM caller claiming a Cognito-shaped session id with 403", async () => {
      const event = connectEvent({ query: { sessionId: newCognitoIdentityId() }, identity: iamIdentity(ALICE_ARN) });
      const { result } = await invoke(event);
      expect(result.statusCode).to.equal(403);
      expect(await store.find(event.requestContext.connectionId)).to.equal(undefined);
    });

    // clients.md: stock Lex Web UI 0.22–0.24.1 connects with `sessionId=lex-web-ui-XXXX`, signed with
    // unauthenticated Cognito credentials whose identity id is not that session id.
    it("accepts stock Lex Web UI: a Cognito caller on a lex-web-ui-XXXX session id", async () => {
      const identityId = newCognitoIdentityId();
      const event = connectEvent({ query: { sessionId: "lex-web-ui-3f9a" }, identity: cognitoIdentity(identityId) });
      expect((await invoke(event)).result.statusCode).to.equal(200);
      expect(await store.find(event.requestContext.connectionId)).to.include({
        sessionId: "lex-web-ui-3f9a",
        principal: `cognito:${identityId}`,
        format: "text",
      });
    });

    it("lets a second principal connect to a session id another holds, and marks the session contested", async () => {
      const id = sessionId();
      const a1 = connectEvent({ query: { sessionId: id }, identity: iamIdentity(ALICE_ARN) });
      const a2 = connectEvent({ query: { sessionId: id }, identity: iamIdentity(ALICE_ARN) });
      const b = connectEvent({ query: { sessionId: id }, identity: iamIdentity(BOB_ARN) });
      expect((await invoke(a1)).result.statusCode).to.equal(200);
      expect((await invoke(a2)).result.statusCode).to.equal(200);
      expect((await store.listSession(id)).contested).to.equal(false);
      expect((await invoke(b)).result.statusCode).to.equal(200);
      const listed = await store.listSession(id);
      expect(listed.contested).to.equal(true);
      expect(listed.claimants).to.have.members([`iam:${ALICE_ARN}`, `iam:${BOB_ARN}`]);
      expect(listed.connections.map((row) => row.connectionId).sort()).to.deep.equal(
        [a1.requestContext.connectionId, a2.requestContext.connectionId, b.requestContext.connectionId].sort(),
      );
    });

    const badQueries: [string, Record<string, string>, RegExp][] = [
      ["no sessionId", {}, /sessionId is required/],
      ["an empty sessionId", { sessionId: "" }, /sessionId is required/],
      ["a sessionId with a space", { sessionId: "a b" }, /sessionId is required/],
      ["a sessionId of 129 characters", { sessionId: "x".repeat(129) }, /sessionId is required/],
      ["an unknown format", { sessionId: "fine", format: "xml" }, /format must be one of: text, json/],
    ];
    for (const [name, query, expected] of badQueries) {
      it(`answers ${name} with 400 and writes nothing`, async () => {
        const event = connectEvent({ query });
        const { result } = await invoke(event);
        expect(result.statusCode).to.equal(400);
        expect(message(result)).to.match(expected);
        expect(await store.find(event.requestContext.connectionId)).to.equal(undefined);
      });
    }

    it("answers a request without a caller identity with 401 and logs the misconfiguration", async () => {
      for (const identity of [null, { sourceIp: "203.0.113.10" }]) {
        const event = connectEvent({ query: { sessionId: sessionId() }, identity });
        const { result, logs } = await invoke(event);
        expect(result.statusCode).to.equal(401);
        expect(message(result)).to.match(/AWS_IAM/);
        expect(logs.some((line) => line.level === "ERROR" && /AWS_IAM/.test(String(line.message)))).to.equal(true);
        expect(await store.find(event.requestContext.connectionId)).to.equal(undefined);
      }
    });
  });

  describe("$disconnect", () => {
    it("deletes the connection; the principal's claim outlives it (Lex Web UI keeps asking after its socket closed)", async () => {
      const id = sessionId();
      const first = connectEvent({ query: { sessionId: id } });
      const second = connectEvent({ query: { sessionId: id } });
      await invoke(first);
      await invoke(second);

      const gone = await invoke(disconnectEvent({ connectionId: first.requestContext.connectionId }));
      expect(gone.result.statusCode).to.equal(200);
      expect(message(gone.result)).to.equal("disconnected");
      expect(await store.find(first.requestContext.connectionId)).to.equal(undefined);
      expect((await store.listSession(id)).connections.map((row) => row.connectionId)).to.deep.equal([second.requestContext.connectionId]);

      await invoke(disconnectEvent({ connectionId: second.requestContext.connectionId }));
      expect(await store.listSession(id)).to.deep.include({ claimants: [`iam:${ALICE_ARN}`], contested: false, connections: [] });
    });

    it("answers 200 for an unknown connection and for a repeated disconnect", async () => {
      const unknown = await invoke(disconnectEvent({ connectionId: newConnectionId() }));
      expect(unknown.result.statusCode).to.equal(200);
      expect(message(unknown.result)).to.equal("unknown connection");

      const event = connectEvent({ query: { sessionId: sessionId() } });
      await invoke(event);
      const once = await invoke(disconnectEvent({ connectionId: event.requestContext.connectionId }));
      const twice = await invoke(disconnectEvent({ connectionId: event.requestContext.connectionId }));
      expect([once.result.statusCode, twice.result.statusCode]).to.deep.equal([200, 200]);
      expect(message(twice.result)).to.equal("unknown connection");
    });
  });

  describe("$default", () => {
    async function answer(body: string | undefined, isBase64Encoded = false) {
      const { result, logs, rawLogs } = await invoke(messageEvent({ body, isBase64Encoded }));
      expect(result.statusCode).to.equal(200);
      return { envelope: JSON.parse(result.body) as Record<string, unknown>, logs, rawLogs };
    }

    it("answers a frame that is not JSON with an error envelope naming the accepted actions", async () => {
      const { envelope } = await answer("hello?");
      expect(envelope).to.include({ v: 1, type: "error", requestId: "none", seq: 0, code: "bad_request", retryable: false });
      for (const action of CLIENT_ACTIONS) expect(envelope.message).to.include(action);
      expect(envelope.message).to.match(/JSON object with an "action"/);
    });

    it("names an unknown action and echoes a valid requestId", async () => {
      const { envelope } = await answer(JSON.stringify({ action: "subscribe", requestId: "r-1" }));
      expect(envelope).to.include({ type: "error", requestId: "r-1", code: "bad_request" });
      expect(envelope.message).to.equal('no route for action "subscribe"; accepted actions: ping, ask, resume, cancel, feedback');
    });

    it('replaces an invalid requestId with "none" and answers arrays and empty frames alike', async () => {
      expect((await answer(JSON.stringify({ action: "x", requestId: "not valid!" }))).envelope.requestId).to.equal("none");
      expect((await answer(JSON.stringify([{ action: "ask" }]))).envelope.message).to.match(/JSON object/);
      expect((await answer(undefined)).envelope.message).to.match(/JSON object/);
    });

    it("reads a base64-encoded (binary) frame", async () => {
      const body = Buffer.from(JSON.stringify({ action: "hello", requestId: "bin-1" })).toString("base64");
      const { envelope } = await answer(body, true);
      expect(envelope).to.include({ requestId: "bin-1" });
      expect(envelope.message).to.match(/"hello"/);
    });

    it("echoes at most 64 characters of an action", async () => {
      const { envelope } = await answer(JSON.stringify({ action: "a".repeat(5000) }));
      expect(envelope.message).to.include(`"${"a".repeat(64)}"`);
      expect(envelope.message).to.not.include("a".repeat(65));
    });

    it("never logs the frame", async () => {
      const question = "what is my colleague's salary";
      const { logs, rawLogs } = await answer(JSON.stringify({ action: "asking", requestId: "r-2", question }));
      expect(rawLogs).to.not.include(question);
      expect(logs.some((line) => line.route === "$default" && line.status === 200)).to.equal(true);
    });
  });

  it("answers a route it does not serve with 400", async () => {
    const { result } = await invoke(messageEvent({ routeKey: "ask", body: "{}" }));
    expect(result.statusCode).to.equal(400);
    expect(message(result)).to.match(/"ask" is not served/);
  });

  it("honours CONNECTION_TTL_SECONDS", async () => {
    const restore = applyEnv({ [ENV.connectionTtlSeconds]: "60" });
    try {
      const event = connectEvent({ query: { sessionId: sessionId() } });
      expect((await invoke(event)).result.statusCode).to.equal(200);
      const row = await store.find(event.requestContext.connectionId);
      expect(row!.ttl - Math.floor(row!.connectedAt / 1000)).to.equal(60);
    } finally {
      restore();
    }
  });

  it("answers 500 and names the variable when the deployment leaves the table unset or the TTL malformed", async () => {
    for (const vars of [{ [ENV.connectionsTable]: undefined }, { [ENV.connectionTtlSeconds]: "two hours" }]) {
      const restore = applyEnv(vars);
      try {
        const { result, rawLogs } = await invoke(connectEvent({ query: { sessionId: sessionId() } }));
        expect(result.statusCode).to.equal(500);
        expect(rawLogs).to.include(Object.keys(vars)[0]);
      } finally {
        restore();
      }
    }
  });

  describe("with DynamoDB unavailable", () => {
    let restore: () => void;

    before(async () => {
      restore = applyEnv({ AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${await closedPort()}` });
      resetAwsClients();
    });

    after(() => {
      restore();
      resetAwsClients();
    });

    it("answers $connect with a retryable 500 and writes nothing", async () => {
      const id = sessionId();
      const event = connectEvent({ query: { sessionId: id } });
      const { result, logs } = await invoke(event);
      expect(result.statusCode).to.equal(500);
      expect(message(result)).to.match(/try connecting again/);
      expect(logs.some((line) => line.level === "ERROR" && line.message === "could not register the connection")).to.equal(true);
      expect(await store.find(event.requestContext.connectionId)).to.equal(undefined);
      expect(await store.listSession(id)).to.deep.include({ claimants: [], contested: false, connections: [] });
    });

    it("answers $disconnect with 500 and logs the failure", async () => {
      const { result, logs } = await invoke(disconnectEvent());
      expect(result.statusCode).to.equal(500);
      expect(logs.some((line) => line.level === "ERROR" && line.message === "could not remove the connection")).to.equal(true);
    });

    it("still answers $default, which needs no table", async () => {
      const { result } = await invoke(messageEvent({ body: "{}" }));
      expect(result.statusCode).to.equal(200);
      expect(JSON.parse(result.body)).to.include({ type: "error" });
    });
  });
});
