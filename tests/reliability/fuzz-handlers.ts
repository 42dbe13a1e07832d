/**
 * Bad input at every entry point, in-process against the local stack's dynalite: the real
 * connection and fulfillment handlers get fuzzed `$connect`, `$disconnect`, `$default`,
 * `ask`, `POST /ask` and Lex V2 events. Each must answer with a clear 4xx or error envelope,
 * never throw, never touch a victim session's rows, never stream to a victim (but through
 * Lex, which names the session it answers by design), never reach a client-named endpoint.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import fc from "fast-check";
import { GetCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { handler as connectionHandler } from "../../functions/connection/handler";
import { handler as fulfillmentHandler } from "../../functions/fulfillment/handler";
import { REQUEST_ID_PATTERN, SESSION_ID_PATTERN } from "../../functions/shared/protocol";
import { ROUTES } from "../../functions/shared/routes";
import { CONNECTION_KEY_PREFIX } from "../../functions/shared/table";
import { localIamUser, type LocalCredential } from "../../local/gateway";
import { createLambdaContext } from "../../local/lambda-api";
import { LOCAL_FUNCTIONS, type LocalStack } from "../../local/stack";
import { cognitoIdentity, connectEvent, disconnectEvent, iamIdentity, messageEvent } from "../unit/connection-events";
import { anyValue, dropKeys, maybe, mostly, nastyString, subsetOf, withoutUndefined } from "./arbitraries";
import { countsText, tally, type Figure } from "./figures";
import {
  connect,
  openVictims,
  startReliabilityStack,
  victimConnectionIds,
  victimCredentials,
  victimSnapshot,
  type Client,
  type Row,
  type Victim,
} from "./harness";

export interface FuzzRun {
  /** Cases per entry point. */
  readonly runs: number;
  readonly seed: number;
}

export interface EntryPointFigure {
  readonly entryPoint: string;
  readonly runs: number;
  readonly seed: number;
  /** How the cases were answered (HTTP status, or the Lex dialog action). */
  readonly outcomes: Record<string, number>;
}

/** Questions that really get answered, so some fuzzed cases go all the way through. */
const QUESTIONS = ["What is the WebSocket frame limit?", "How do I deploy?", "¿Qué es QnABot? 😀", "zero\u200bwidth and \u202eRTL"];
/** Answer text the emulator streams for every fuzzed question: short, multi-byte. */
export const FUZZ_DELTAS = ["Fuzz ", "answer ", "✓ ", "日本"];

/** A server that counts requests: the streaming endpoint a client tries to substitute. */
export interface Trap {
  readonly url: string;
  readonly requests: () => number;
  close(): Promise<void>;
}

export async function startTrap(): Promise<Trap> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests += 1;
    req.resume();
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/Prod`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The attacker: a signed-in IAM user with a json and a text connection of its own. */
export interface Attacker {
  readonly credential: LocalCredential;
  readonly principal: string;
  readonly json: Client;
  readonly text: Client;
  readonly jsonConnectionId: string;
  readonly textConnectionId: string;
}

export function attackerCredential(): LocalCredential {
  return localIamUser("fuzzer", { allow: { connect: true, manageConnections: false } });
}

export async function openAttacker(stack: LocalStack, credential: LocalCredential): Promise<Attacker> {
  const json = await connect(stack, "fuzz-json", { format: "json", credential });
  const text = await connect(stack, "fuzz-text", { format: "text", credential });
  const idOf = (sessionId: string): string => {
    for (const [id, info] of stack.gateway.connections) if (info.queryStringParameters.sessionId === sessionId) return id;
    throw new Error(`no connection for ${sessionId}`);
  };
  return {
    credential,
    principal: `iam:${credential.identity.userArn}`,
    json,
    text,
    jsonConnectionId: idOf("fuzz-json"),
    textConnectionId: idOf("fuzz-text"),
  };
}

export interface HandlerFuzzEnv {
  readonly stack: LocalStack;
  readonly victims: readonly Victim[];
  readonly attacker: Attacker;
  readonly trap: Trap;
  /** Connections the fuzzed `$connect` cases registered, for `$disconnect` to remove. */
  readonly registered: string[];
}

type Result = { statusCode?: unknown; body?: unknown; headers?: unknown };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function expectJsonBody(result: Result): Record<string, unknown> {
  expect(result.body, "body").to.be.a("string");
  const body = JSON.parse(result.body as string) as unknown;
  expect(body, "body is a JSON object").to.be.an("object");
  return body as Record<string, unknown>;
}

/** A fresh id in API Gateway's connection-id shape, from the fuzzer's randomness (so runs replay). */
const connectionIdArb = fc.uint8Array({ minLength: 11, maxLength: 11 }).map((bytes) => `${Buffer.from(bytes).toString("base64url")}=`);
const validSessionIdArb = fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/);
const userNameArb = fc.stringMatching(/^[A-Za-z0-9+=,.@_-]{1,24}$/).filter((name) => name !== "victim" && name !== "fuzzer");

/** `requestContext` as given, or broken: null, a string, absent, or missing fields. */
function contextShape(keys: readonly string[]) {
  return fc.record({
    mode: fc.oneof({ weight: 12, arbitrary: fc.constant("object") }, { weight: 1, arbitrary: fc.constantFrom("null", "string", "absent") }),
    drop: subsetOf(keys),
  });
}

/** Drops fields in one case out of five. */
const dropFieldsArb = fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

function reshape(event: Record<string, unknown>, shape: { mode: string; drop: string[] }, dropProbably: boolean): Record<string, unknown> {
  const context = event.requestContext as Record<string, unknown>;
  switch (shape.mode) {
    case "null":
      return { ...event, requestContext: null };
    case "string":
      return { ...event, requestContext: "requestContext" };
    case "absent":
      return dropKeys(event, ["requestContext"]);
    default:
      return dropProbably ? { ...event, requestContext: dropKeys(context, shape.drop) } : event;
  }
}

const CONTEXT_KEYS = ["connectionId", "routeKey", "identity", "requestId", "apiId", "stage", "eventType", "domainName"];

function connectArb(env: HandlerFuzzEnv) {
  const victimSessions = env.victims.map((v) => v.sessionId);
  const victimArns = env.victims.map((v) => v.credential.identity.userArn);
  const victimCognito = env.victims.flatMap((v) => (v.credential.identity.cognitoIdentityId ? [v.credential.identity.cognitoIdentityId] : []));
  const strings = nastyString({ near: [...victimSessions, ...victimArns] });
  const identity = mostly(
    fc.oneof(
      { weight: 3, arbitrary: userNameArb.map((name) => iamIdentity(`arn:aws:iam::000000000000:user/${name}`)) },
      { weight: 2, arbitrary: fc.uuid().map((uuid) => cognitoIdentity(`us-east-1:${uuid}`)) },
    ),
    fc.oneof(
      fc.constant<"absent">("absent"),
      fc.constant(null),
      anyValue(strings),
      fc.record({ cognitoIdentityId: maybe(anyValue(nastyString({ near: victimCognito }))), userArn: maybe(anyValue(strings)) }).map(withoutUndefined),
    ),
    2,
  );
  return fc.record({
    sessionId: fc.oneof(
      { weight: 3, arbitrary: validSessionIdArb },
      { weight: 2, arbitrary: fc.constantFrom(...victimSessions) },
      { weight: 2, arbitrary: anyValue(strings) },
    ),
    format: maybe(mostly(fc.constantFrom("text", "json"), anyValue(fc.oneof(fc.constantFrom("JSON", "xml", ""), strings)))),
    extraQuery: fc.dictionary(strings, strings, { maxKeys: 2 }),
    queryMode: mostly(fc.constant("object"), fc.constantFrom("null", "absent"), 8),
    /** Connects as a Cognito identity naming its own id as the session (the path that succeeds). */
    ownCognitoSession: fc.boolean(),
    identity,
    headers: maybe(fc.dictionary(strings, anyValue(strings), { maxKeys: 4 })),
    connectionId: mostly(connectionIdArb, anyValue(strings), 8),
    context: contextShape(CONTEXT_KEYS),
    dropFields: dropFieldsArb,
  });
}

/** `$connect`: query, headers and identity fuzzed. */
export async function fuzzConnect(env: HandlerFuzzEnv, run: FuzzRun): Promise<EntryPointFigure> {
  const outcomes: Record<string, number> = {};
  // Sessions bound to an identity (a Cognito identity id): nobody else may claim or ask into them.
  const boundSessions = new Set(env.victims.flatMap((v) => (v.credential.identity.cognitoIdentityId ? [v.sessionId] : [])));
  const documents = DynamoDBDocumentClient.from(env.stack.dynamo.client);
  await fc.assert(
    fc.asyncProperty(connectArb(env), async (input) => {
      const identity = input.identity === "absent" ? undefined : input.identity;
      let sessionId = input.sessionId;
      if (input.ownCognitoSession && identity && typeof identity === "object" && "cognitoIdentityId" in identity) {
        sessionId = (identity as { cognitoIdentityId?: unknown }).cognitoIdentityId;
      }
      const base = connectEvent({ connectionId: typeof input.connectionId === "string" ? input.connectionId : undefined, identity: null }) as unknown as Record<string, unknown>;
      const query = { ...input.extraQuery, ...withoutUndefined({ sessionId, format: input.format }) } as Record<string, unknown>;
      const context: Record<string, unknown> = { ...(base.requestContext as Record<string, unknown>), connectionId: input.connectionId };
      if (input.identity !== "absent") context.identity = identity;
      let event: Record<string, unknown> = {
        ...base,
        requestContext: context,
        queryStringParameters: input.queryMode === "object" ? query : input.queryMode === "null" ? null : undefined,
        ...(input.headers === undefined ? {} : { headers: input.headers }),
      };
      event = reshape(event, input.context, input.dropFields);

      const result = (await connectionHandler(event as never)) as Result;
      expect(result.statusCode, "status").to.be.oneOf([200, 400, 401, 403]);
      tally(outcomes, result.statusCode as number);
      expect(expectJsonBody(result).message, "message").to.be.a("string").and.not.equal("");
      // An identity id is bound to its identity; a plain id may be claimed by a second principal (contested).
      if (typeof sessionId === "string" && boundSessions.has(sessionId)) {
        expect(result.statusCode, "a victim's identity session is never claimed").to.not.equal(200);
      }
      if (result.statusCode === 200) {
        expect(sessionId).to.be.a("string").and.match(SESSION_ID_PATTERN);
        const row = await documents.send(
          new GetCommand({ TableName: env.stack.dynamo.connectionsTable, Key: { sessionId: `${CONNECTION_KEY_PREFIX}${input.connectionId}` }, ConsistentRead: true }),
        );
        expect(row.Item, "the accepted connection has its lookup item").to.not.equal(undefined);
        env.registered.push(input.connectionId as string);
      }
    }),
    { numRuns: run.runs, seed: run.seed },
  );
  return { entryPoint: "$connect (query, headers, identity)", runs: run.runs, seed: run.seed, outcomes };
}

/** `$disconnect`: connection ids (registered, unknown, malformed) and missing fields. */
export async function fuzzDisconnect(env: HandlerFuzzEnv, run: FuzzRun): Promise<EntryPointFigure> {
  const outcomes: Record<string, number> = {};
  const victimIds = victimConnectionIds(env.stack, env.victims);
  const strings = nastyString();
  const registered = env.registered.length > 0 ? fc.constantFrom(...env.registered) : connectionIdArb;
  const arb = fc.record({
    connectionId: fc.oneof(registered, connectionIdArb, anyValue(strings)).filter((id) => typeof id !== "string" || !victimIds.has(id)),
    statusCode: anyValue(fc.constantFrom("1000", "1006")),
    reason: anyValue(strings),
    context: contextShape(CONTEXT_KEYS),
    dropFields: dropFieldsArb,
  });
  await fc.assert(
    fc.asyncProperty(arb, async (input) => {
      const base = disconnectEvent() as unknown as Record<string, unknown>;
      const context = { ...(base.requestContext as Record<string, unknown>), connectionId: input.connectionId, disconnectStatusCode: input.statusCode, disconnectReason: input.reason };
      const event = reshape({ ...base, requestContext: context }, input.context, input.dropFields);
      const result = (await connectionHandler(event as never)) as Result;
      expect(result.statusCode, "status").to.be.oneOf([200, 400]);
      tally(outcomes, result.statusCode as number);
      expect(expectJsonBody(result).message).to.be.a("string");
    }),
    { numRuns: run.runs, seed: run.seed },
  );
  return { entryPoint: "$disconnect", runs: run.runs, seed: run.seed, outcomes };
}

/** A frame a client may send: text of any kind, JSON of any shape, an action of any value. */
function frameBodyArb(strings: fc.Arbitrary<string>, extra: Record<string, fc.Arbitrary<unknown>> = {}) {
  const fields = {
    action: mostly(fc.constant("ask"), maybe(anyValue(fc.oneof(fc.constantFrom("ping", "$default", "Ask"), strings))), 5),
    requestId: mostly(fc.stringMatching(/^[A-Za-z0-9:._-]{1,64}$/), maybe(anyValue(strings))),
    question: mostly(fc.constantFrom(...QUESTIONS), maybe(anyValue(strings))),
    mode: maybe(mostly(fc.constantFrom("llm", "kb"), anyValue(fc.oneof(fc.constantFrom("LLM"), strings)))),
    ...extra,
  };
  return fc.oneof(
    { weight: 2, arbitrary: anyValue(strings) },
    { weight: 1, arbitrary: fc.json() },
    { weight: 6, arbitrary: fc.record(fields).map((frame) => JSON.stringify(withoutUndefined(frame))) },
  );
}

const ENVELOPE_KEYS = ["v", "type", "requestId", "seq", "code", "message", "retryable"];

/** `$default`: any frame no route matched, text or binary (base64), of any type. */
export async function fuzzDefault(env: HandlerFuzzEnv, run: FuzzRun): Promise<EntryPointFigure> {
  const outcomes: Record<string, number> = {};
  const strings = nastyString();
  const arb = fc.record({
    body: frameBodyArb(strings),
    base64: fc.oneof(fc.boolean(), anyValue(strings)),
    encode: fc.boolean(),
    context: contextShape(CONTEXT_KEYS),
    dropFields: dropFieldsArb,
  });
  await fc.assert(
    fc.asyncProperty(arb, async (input) => {
      const body = input.encode && input.base64 === true && typeof input.body === "string" ? Buffer.from(input.body).toString("base64") : input.body;
      const base = messageEvent({ routeKey: ROUTES.default, connectionId: env.attacker.jsonConnectionId }) as unknown as Record<string, unknown>;
      const event = reshape({ ...base, body, isBase64Encoded: input.base64 }, input.context, input.dropFields);
      const result = (await connectionHandler(event as never)) as Result;
      tally(outcomes, result.statusCode as number);
      const routed = typeof event.requestContext === "object" && event.requestContext !== null && (event.requestContext as { routeKey?: unknown }).routeKey === ROUTES.default;
      if (!routed) {
        expect(result.statusCode).to.equal(400);
        return;
      }
      expect(result.statusCode, "a two-way route answers 200 with the envelope").to.equal(200);
      const envelope = expectJsonBody(result);
      expect(Object.keys(envelope).sort()).to.deep.equal([...ENVELOPE_KEYS].sort());
      expect(envelope).to.include({ v: 1, type: "error", code: "bad_request", seq: 0, retryable: false });
      expect(envelope.requestId).to.satisfy((id: unknown) => id === "none" || (typeof id === "string" && REQUEST_ID_PATTERN.test(id)));
      // What is echoed back is bounded, whatever the client sent.
      expect((result.body as string).length).to.be.at.most(1024);
    }),
    { numRuns: run.runs, seed: run.seed },
  );
  return { entryPoint: "$default", runs: run.runs, seed: run.seed, outcomes };
}

function fulfillmentContext() {
  return createLambdaContext({ functionName: LOCAL_FUNCTIONS.fulfillment, timeoutMs: 60_000 });
}

/** Fields a client adds hoping the function reads them: another session, principal or endpoint. */
function smuggledFields(env: HandlerFuzzEnv) {
  return {
    sessionId: maybe(fc.constantFrom(...env.victims.map((v) => v.sessionId))),
    principal: maybe(fc.constantFrom(...env.victims.map((v) => v.principal))),
    streamingEndpoint: maybe(fc.constant(env.trap.url)),
    streamingDynamoDbTable: maybe(fc.constant("victims-table")),
    connectionId: maybe(fc.constant("victim-connection")),
  };
}

/** The WebSocket `ask` route: frames from a registered connection (json or text), an unknown one, or a malformed id. */
export async function fuzzAskRoute(env: HandlerFuzzEnv, run: FuzzRun): Promise<EntryPointFigure> {
  const outcomes: Record<string, number> = {};
  const strings = nastyString();
  const { attacker } = env;
  const arb = fc.record({
    connectionId: fc.oneof(
      { weight: 10, arbitrary: fc.constantFrom(attacker.jsonConnectionId, attacker.textConnectionId) },
      { weight: 1, arbitrary: connectionIdArb },
      { weight: 1, arbitrary: anyValue(strings) },
    ),
    body: frameBodyArb(strings, smuggledFields(env)),
    context: contextShape(["connectionId", "routeKey", "requestId", "apiId", "stage", "eventType"]),
    dropFields: dropFieldsArb,
  });
  await fc.assert(
    fc.asyncProperty(arb, async (input) => {
      const base = messageEvent({ routeKey: ROUTES.ask }) as unknown as Record<string, unknown>;
      const context = { ...(base.requestContext as Record<string, unknown>), connectionId: input.connectionId };
      const event = reshape({ ...base, requestContext: context, body: input.body }, input.context, input.dropFields);
      const refusals = () => attacker.json.envelopes().filter((e) => e.type === "error" && e.seq === 0).length;
      const refusedBefore = refusals();
      const result = (await fulfillmentHandler(event, fulfillmentContext())) as Result;
      // 429: the ask ledger's `busy` (the connection already has its asks in flight).
      expect(result.statusCode, "status").to.be.oneOf([200, 400, 403, 404, 429]);
      tally(outcomes, result.statusCode as number);
      if (result.statusCode === 200) {
        expect(result.body).to.equal("");
        return;
      }
      const { error } = expectJsonBody(result) as { error?: Record<string, unknown> };
      expect(error, "error").to.be.an("object");
      expect(error!.code).to.be.oneOf(["bad_request", "forbidden", "not_found", "busy"]);
      expect(error!.message).to.be.a("string").and.not.equal("");
      const sent = event.requestContext as { connectionId?: unknown; routeKey?: unknown } | undefined;
      if (sent?.connectionId === attacker.jsonConnectionId && sent.routeKey === ROUTES.ask) {
        // A one-way route: the refusal reaches the client as an error envelope on its socket.
        await attacker.json.until(() => refusals() > refusedBefore, "error envelope for a refused ask");
        expect(attacker.json.closed, "the asking socket stays open").to.equal(false);
      }
    }),
    { numRuns: run.runs, seed: run.seed },
  );
  return { entryPoint: "WebSocket ask route", runs: run.runs, seed: run.seed, outcomes };
}

/** `POST /ask` (payload 2.0, IAM authorizer): identities, paths, methods and bodies fuzzed. */
export async function fuzzHttpAsk(env: HandlerFuzzEnv, run: FuzzRun): Promise<EntryPointFigure> {
  const outcomes: Record<string, number> = {};
  const victimSessions = new Set(env.victims.map((v) => v.sessionId));
  // Sessions bound to an identity (a Cognito identity id): nobody else may claim or ask into them.
  const boundSessions = new Set(env.victims.flatMap((v) => (v.credential.identity.cognitoIdentityId ? [v.sessionId] : [])));
  const victimArns = env.victims.map((v) => v.credential.identity.userArn);
  const strings = nastyString({ near: [...victimSessions, ...victimArns] });
  const ownArn = env.attacker.credential.identity.userArn;
  const iam = fc.oneof(
    { weight: 4, arbitrary: fc.constant({ userArn: ownArn, cognitoIdentity: null }) },
    { weight: 1, arbitrary: userNameArb.map((name) => ({ userArn: `arn:aws:iam::000000000000:user/${name}`, cognitoIdentity: null })) },
    { weight: 1, arbitrary: fc.uuid().map((uuid) => ({ userArn: "arn:aws:sts::000000000000:assumed-role/Cognito/x", cognitoIdentity: { identityId: `us-east-1:${uuid}` } })) },
    { weight: 1, arbitrary: anyValue(strings) },
    { weight: 1, arbitrary: fc.record({ userArn: anyValue(strings), cognitoIdentity: anyValue(fc.constant("x")) }) },
  );
  const sessionId = fc.oneof(
    { weight: 3, arbitrary: validSessionIdArb },
    { weight: 2, arbitrary: fc.constantFrom(...victimSessions) },
    { weight: 1, arbitrary: anyValue(strings) },
  );
  const bodyFields = {
    question: mostly(fc.constantFrom(...QUESTIONS), maybe(anyValue(strings))),
    sessionId: mostly(sessionId, fc.constant(undefined), 8),
    mode: maybe(mostly(fc.constantFrom("llm", "kb"), anyValue(strings))),
    requestId: maybe(mostly(fc.stringMatching(/^[A-Za-z0-9:._-]{1,64}$/), anyValue(strings))),
    streamingEndpoint: maybe(fc.constant(env.trap.url)),
    streamingDynamoDbTable: maybe(fc.constant("victims-table")),
    principal: maybe(fc.constantFrom(...env.victims.map((v) => v.principal))),
  };
  const arb = fc.record({
    rawPath: fc.oneof({ weight: 6, arbitrary: fc.constant("/ask") }, { weight: 1, arbitrary: anyValue(strings) }),
    method: fc.oneof({ weight: 6, arbitrary: fc.constant("POST") }, { weight: 1, arbitrary: anyValue(fc.constantFrom("GET", "post", "DELETE")) }),
    iam: maybe(iam),
    body: fc.oneof({ weight: 8, arbitrary: fc.record(bodyFields).map((b) => JSON.stringify(withoutUndefined(b))) }, { weight: 2, arbitrary: anyValue(strings) }, { weight: 1, arbitrary: fc.json() }),
    base64: mostly(fc.constant(false), fc.oneof(fc.boolean(), anyValue(strings))),
    dropContext: mostly(fc.constant([] as string[]), subsetOf(["http", "authorizer", "requestId"])),
  });
  await fc.assert(
    fc.asyncProperty(arb, async (input) => {
      const body = input.base64 === true && typeof input.body === "string" ? Buffer.from(input.body).toString("base64") : input.body;
      const requestContext = dropKeys(
        {
          accountId: "000000000000",
          apiId: "localhttp",
          authorizer: input.iam === undefined ? {} : { iam: input.iam },
          http: { method: input.method, path: input.rawPath, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "fuzz" },
          requestId: "fuzz",
          routeKey: "POST /ask",
          stage: "$default",
        },
        input.dropContext,
      );
      const event = { version: "2.0", routeKey: "POST /ask", rawPath: input.rawPath, rawQueryString: "", headers: {}, requestContext, body, isBase64Encoded: input.base64 };
      const result = (await fulfillmentHandler(event, fulfillmentContext())) as Result;
      expect(result.statusCode, "status").to.be.oneOf([200, 400, 403, 404, 405]);
      tally(outcomes, result.statusCode as number);
      const parsed = expectJsonBody(result);
      if (result.statusCode === 200) {
        expect(parsed.answer).to.be.a("string");
        const asked = JSON.parse(input.body as string) as { sessionId?: unknown };
        expect(boundSessions.has(asked.sessionId as string), "answered into a victim's identity session").to.equal(false);
      } else {
        expect((parsed.error as { message?: unknown }).message).to.be.a("string").and.not.equal("");
      }
    }),
    { numRuns: run.runs, seed: run.seed },
  );
  return { entryPoint: "POST /ask", runs: run.runs, seed: run.seed, outcomes };
}

/** Lex V2 code hook events: session ids, transcripts, session attributes (a streaming endpoint among them), intents. */
export async function fuzzLex(env: HandlerFuzzEnv, run: FuzzRun): Promise<EntryPointFigure> {
  const outcomes: Record<string, number> = {};
  const victimSessions = env.victims.map((v) => v.sessionId);
  const strings = nastyString({ near: victimSessions });
  const attributes = fc.record({
    streamingEndpoint: maybe(fc.constant(env.trap.url)),
    streamingDynamoDbTable: maybe(fc.constant("victims-table")),
    qnabotStreamingMode: maybe(anyValue(fc.oneof(fc.constantFrom("llm", "kb"), strings))),
    other: maybe(anyValue(strings)),
  });
  const arb = fc.record({
    sessionId: fc.oneof(
      { weight: 3, arbitrary: validSessionIdArb },
      { weight: 1, arbitrary: fc.constantFrom(...victimSessions) },
      { weight: 2, arbitrary: anyValue(strings) },
    ),
    inputTranscript: mostly(fc.constantFrom(...QUESTIONS), maybe(anyValue(strings))),
    bot: fc.oneof(
      { weight: 6, arbitrary: fc.constant({ name: "QnABot", id: "BOT1", aliasId: "TSTALIASID", localeId: "en_US", version: "DRAFT" }) },
      { weight: 1, arbitrary: anyValue(strings) },
    ),
    sessionState: maybe(
      fc.oneof(
        fc.record({
          sessionAttributes: maybe(fc.oneof(attributes.map(withoutUndefined), anyValue(strings))),
          intent: maybe(fc.oneof(fc.record({ name: anyValue(strings), slots: maybe(anyValue(strings)), state: fc.constant("InProgress") }), anyValue(strings))),
          originatingRequestId: maybe(anyValue(strings)),
        }).map(withoutUndefined),
        anyValue(strings),
      ),
    ),
    messageVersion: maybe(fc.constant("1.0")),
    invocationSource: maybe(anyValue(fc.constantFrom("FulfillmentCodeHook", "DialogCodeHook"))),
  });
  await fc.assert(
    fc.asyncProperty(arb, async (input) => {
      const event = withoutUndefined({ ...input });
      const result = (await fulfillmentHandler(event, fulfillmentContext())) as Result & {
        sessionState?: { dialogAction?: { type?: unknown }; sessionAttributes?: Record<string, unknown> };
        messages?: { contentType?: unknown; content?: unknown }[];
      };
      // Lex always sends its bot: an event without it (or a session state, or a transcript) is no Lex event.
      const lex = isRecord(input.bot) || isRecord(input.sessionState) || typeof input.inputTranscript === "string";
      if (!lex) {
        expect(result.statusCode).to.equal(400);
        tally(outcomes, 400);
        return;
      }
      // Lex V2: a valid dialog code hook is handed back to Lex (Delegate); anything else gets a Close with a message.
      if (result.sessionState?.dialogAction?.type === "Delegate") {
        expect(input.invocationSource, "Delegate only for a dialog code hook").to.equal("DialogCodeHook");
        tally(outcomes, "Delegate");
        return;
      }
      expect(result.sessionState?.dialogAction?.type, "Lex gets a Close").to.equal("Close");
      tally(outcomes, "Close");
      expect(result.messages?.[0]?.contentType).to.equal("PlainText");
      expect(result.messages?.[0]?.content).to.be.a("string").and.not.equal("");
      for (const value of Object.values(result.sessionState?.sessionAttributes ?? {})) expect(value, "Lex session attributes are strings").to.be.a("string");
    }),
    { numRuns: run.runs, seed: run.seed },
  );
  return { entryPoint: "Lex V2 code hook", runs: run.runs, seed: run.seed, outcomes };
}

/** The local stack with two victims (IAM and Cognito, sockets and memory), the attacker's sockets and a trap endpoint. */
export async function startHandlerFuzz(): Promise<HandlerFuzzEnv & { close(): Promise<void> }> {
  const victims = victimCredentials();
  const attacker = attackerCredential();
  const stack = await startReliabilityStack({ credentials: [victims.iam, victims.cognito, attacker], bedrockBehavior: { deltas: FUZZ_DELTAS } });
  const trap = await startTrap();
  try {
    const env: HandlerFuzzEnv = { stack, victims: await openVictims(stack, victims), attacker: await openAttacker(stack, attacker), trap, registered: [] };
    return {
      ...env,
      async close() {
        await trap.close();
        await stack.close();
      },
    };
  } catch (error) {
    await trap.close();
    await stack.close();
    throw error;
  }
}

/** Frames the victims' sockets have received so far. */
export function victimFrames(env: HandlerFuzzEnv): number {
  return env.victims.reduce((n, v) => n + v.clients.reduce((m, c) => m + c.messages.length, 0), 0);
}

/**
 * After the fuzzing: the victims' rows exactly as before, their sockets open, the trap never
 * called. `memory: false` leaves conversation memory out: a Lex code hook carries no caller
 * identity, so a Lex question naming a session is that session's turn (the documented limit).
 */
export async function expectVictimsUntouched(env: HandlerFuzzEnv, before: { connections: Row[]; memory: Row[] }, options: { memory?: boolean } = {}): Promise<void> {
  await env.stack.idle();
  const now = await victimSnapshot(env.stack, env.victims);
  if (options.memory === false) expect(now.connections, "the victims' claims and connections").to.deep.equal(before.connections);
  else expect(now, "the victims' rows").to.deep.equal(before);
  expect(env.trap.requests(), "requests to a client-named streaming endpoint").to.equal(0);
  for (const victim of env.victims) for (const client of victim.clients) expect(client.closed, `${victim.name} still connected`).to.equal(false);
}

export function entryPointFigure(figure: EntryPointFigure): Figure {
  return {
    section: "Bad input",
    check: figure.entryPoint,
    tried: `${figure.runs} fuzzed events (fast-check, seed ${figure.seed}), in-process against dynalite`,
    result: `${countsText(figure.outcomes)}; no exception, every case a clear status or Close`,
  };
}
