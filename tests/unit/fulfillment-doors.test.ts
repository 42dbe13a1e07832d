import { expect } from "chai";
import type { LexV2Result } from "aws-lambda";
import { answer, type AnswerRequest, type AnswerResult } from "../../functions/fulfillment/engine";
import {
  DOOR_MESSAGES,
  HTTP_API_TIMEOUT_MS,
  UNBOUND_LEX_NOTICE,
  askJob,
  askRoute,
  dispatch,
  httpDoor,
  lexDoor,
  resetUnboundNotice,
  type DoorDeps,
  type InvocationContext,
} from "../../functions/fulfillment/doors";
import { DEFAULT_LEX_ANSWER_BUDGET_MS, LEX_CODE_HOOK_TIMEOUT_MS, TIME_BUDGET_MARGIN_MS } from "../../functions/fulfillment/config";
import { MESSAGES } from "../../functions/fulfillment/errors";
import { ASK_JOB_KIND, LEX_MODE_ATTRIBUTE, doorOf, type AskJob } from "../../functions/fulfillment/events";
import { invokeAskJob } from "../../functions/fulfillment/handoff";
import { handler } from "../../functions/fulfillment/handler";
import { hookGenerator, type LambdaInvoker } from "../../functions/fulfillment/hook";
import type { HttpResult } from "../../functions/fulfillment/responses";
import type { AskLedger, AskSlot } from "../../functions/shared/ask-ledger";
import type { JournalStore, ResumeOutcome } from "../../functions/stream/journal-store";
import { ENV } from "../../functions/shared/env";
import { ProtocolError } from "../../functions/shared/protocol";
import { ROUTES } from "../../functions/shared/routes";
import { LEX_MEMORY_PREFIX } from "../../functions/shared/session-state";
import { logger } from "../../functions/shared/observability";
import { messageEvent, newCognitoIdentityId } from "./connection-events";
import { ManualClock, fakeClient, quietLogs, recordingOpener } from "./fulfillment-fakes";
import { FakeTransport, MemoryConnectionsStore } from "./stream-fakes";

const identityId = newCognitoIdentityId();
const cognitoPrincipal = `cognito:${identityId}`;
const aliceArn = "arn:aws:iam::123456789012:user/alice";

function result(overrides: Partial<AnswerResult> = {}): AnswerResult {
  return {
    answer: "**QnABot** is a bot.\n\n**Sources**\n1. [docs](https://docs.example.com)",
    plainText: "QnABot is a bot.\n\nSources:\n1. docs: https://docs.example.com",
    text: "QnABot is a bot.",
    citations: [{ text: "QnABot", sources: [{ uri: "https://docs.example.com", title: "docs" }] }],
    usage: { inputTokens: 5, outputTokens: 6, totalTokens: 11 },
    stopReason: "end_turn",
    streamed: true,
    ...overrides,
  };
}

function doorDeps(overrides: Partial<DoorDeps> = {}, answerWith: AnswerResult = result()) {
  const asked: AnswerRequest[] = [];
  const jobs: AskJob[] = [];
  const store = new MemoryConnectionsStore({ unboundSessionStreaming: overrides.unboundSessionStreaming });
  const transport = new FakeTransport();
  const clock = new ManualClock();
  const deps: DoorDeps = {
    answer: async (request) => {
      asked.push(request);
      return answerWith;
    },
    defaultMode: "llm",
    store,
    transport,
    handOff: async (job) => void jobs.push(job),
    clock,
    ...overrides,
  };
  return { deps, asked, jobs, store, transport, clock };
}

const context = (remainingMs = 60_000): InvocationContext => ({ remainingMs: () => remainingMs, awsRequestId: "aws-req-1" });

function lexEvent(overrides: { inputTranscript?: unknown; sessionId?: unknown; sessionAttributes?: Record<string, string> } = {}) {
  return {
    messageVersion: "1.0",
    invocationSource: "FulfillmentCodeHook",
    inputMode: "Text",
    responseContentType: "text/plain; charset=utf-8",
    sessionId: "sessionId" in overrides ? overrides.sessionId : identityId,
    inputTranscript: "inputTranscript" in overrides ? overrides.inputTranscript : "What is QnABot?",
    bot: { id: "BOTID12345", name: "QnaBot", aliasId: "TSTALIASID", aliasName: "TestBotAlias", localeId: "en_US", version: "DRAFT" },
    interpretations: [{ intent: { name: "FallbackIntent", slots: {}, state: "ReadyForFulfillment", confirmationState: "None" } }],
    sessionState: {
      sessionAttributes: overrides.sessionAttributes ?? { topic: "bots" },
      intent: { name: "FallbackIntent", slots: {}, state: "ReadyForFulfillment", confirmationState: "None" },
      originatingRequestId: "8b1a3c7e-1f2d-4e5a-9b8c-7d6e5f4a3b2c",
    },
    transcriptions: [{ transcription: "What is QnABot?", transcriptionConfidence: 1 }],
  };
}

function httpEvent(body: unknown, options: { cognito?: string | null; userArn?: string; method?: string; path?: string; base64?: boolean } = {}) {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const cognito = options.cognito === undefined ? identityId : options.cognito;
  return {
    version: "2.0",
    routeKey: "POST /ask",
    rawPath: options.path ?? "/ask",
    rawQueryString: "",
    headers: { "content-type": "application/json", host: "h1t2t3p4a5.execute-api.us-east-1.amazonaws.com" },
    requestContext: {
      accountId: "123456789012",
      apiId: "h1t2t3p4a5",
      authorizer: {
        iam: {
          accessKey: "ASIAEXAMPLE",
          accountId: "123456789012",
          callerId: "AROAEXAMPLE:CognitoIdentityCredentials",
          cognitoIdentity: cognito ? { amr: ["authenticated"], identityId: cognito, identityPoolId: "us-east-1:pool" } : null,
          principalOrgId: null,
          userArn: options.userArn ?? "arn:aws:sts::123456789012:assumed-role/Cognito_Auth_Role/CognitoIdentityCredentials",
          userId: "AROAEXAMPLE:CognitoIdentityCredentials",
        },
      },
      domainName: "h1t2t3p4a5.execute-api.us-east-1.amazonaws.com",
      domainPrefix: "h1t2t3p4a5",
      http: { method: options.method ?? "POST", path: options.path ?? "/ask", protocol: "HTTP/1.1", sourceIp: "203.0.113.9", userAgent: "test" },
      requestId: "JKJaXmPLvHcESHA=",
      routeKey: "POST /ask",
      stage: "$default",
      time: "12/Mar/2026:19:03:58 +0000",
      timeEpoch: 1_773_342_238_000,
    },
    body: options.base64 ? Buffer.from(raw).toString("base64") : raw,
    isBase64Encoded: options.base64 ?? false,
  };
}

const bodyOf = (response: HttpResult) => JSON.parse(response.body) as Record<string, any>;

describe("fulfillment: front doors", () => {
  quietLogs();

  describe("Lex V2 code hook", () => {
    it("answers with a Close: plain text message, markdown in appContext.altMessages, session attributes kept", async () => {
      const { deps, asked, clock } = doorDeps();
      const response = await lexDoor(lexEvent(), context(30_000), deps);
      expect(response).to.deep.equal({
        sessionState: {
          sessionAttributes: {
            topic: "bots",
            appContext: JSON.stringify({ altMessages: { markdown: result().answer } }),
          },
          dialogAction: { type: "Close" },
          intent: { name: "FallbackIntent", slots: {}, state: "Fulfilled" },
        },
        messages: [{ contentType: "PlainText", content: result().plainText }],
      } satisfies LexV2Result);
      expect(asked).to.deep.equal([
        {
          question: "What is QnABot?",
          sessionId: identityId,
          mode: "llm",
          requestId: "8b1a3c7e-1f2d-4e5a-9b8c-7d6e5f4a3b2c",
          deadlineAt: clock.now() + DEFAULT_LEX_ANSWER_BUDGET_MS - TIME_BUDGET_MARGIN_MS,
          stream: true,
          memoryOwner: `${LEX_MEMORY_PREFIX}${cognitoPrincipal}`,
        },
      ]);
      expect(asked[0]).to.not.have.property("principal");
    });

    // Lex V2 API reference, RecognizeText: "If you don't configure a timeout message and a timeout,
    // and the Lambda function doesn't return within 30 seconds, the timeout message is returned."
    // https://docs.aws.amazon.com/lexv2/latest/APIReference/API_runtime_RecognizeText.html
    it("stops generating in time to answer within the Lex answer budget, below Lex's 30 s cut, however long the Lambda may run", async () => {
      const { deps, asked, clock } = doorDeps();
      await lexDoor(lexEvent(), context(120_000), deps);
      expect(asked[0].deadlineAt).to.equal(clock.now() + DEFAULT_LEX_ANSWER_BUDGET_MS - TIME_BUDGET_MARGIN_MS);
      expect(DEFAULT_LEX_ANSWER_BUDGET_MS).to.be.below(LEX_CODE_HOOK_TIMEOUT_MS);

      const configured = doorDeps({ lexAnswerBudgetMs: 12_000 });
      await lexDoor(lexEvent(), context(120_000), configured.deps);
      expect(configured.asked[0].deadlineAt).to.equal(configured.clock.now() + 12_000 - TIME_BUDGET_MARGIN_MS);
      // A Lambda with less time left than the budget still stops before its own timeout.
      await lexDoor(lexEvent(), context(9_000), configured.deps);
      expect(configured.asked[1].deadlineAt).to.equal(configured.clock.now() + 9_000 - TIME_BUDGET_MARGIN_MS);
    });

    it("takes the mode from the session attribute, else the stack's default", async () => {
      const { deps, asked } = doorDeps({ defaultMode: "kb" });
      await lexDoor(lexEvent({ sessionAttributes: { [LEX_MODE_ATTRIBUTE]: "llm" } }), context(), deps);
      await lexDoor(lexEvent({ sessionAttributes: {} }), context(), deps);
      expect(asked.map((a) => a.mode)).to.deep.equal(["llm", "kb"]);
    });

    // clients.md: "A Lex DialogCodeHook invocation gets Delegate (or ElicitSlot), not an answer."
    it("answers a DialogCodeHook invocation with Delegate and asks nothing", async () => {
      const { deps, asked } = doorDeps();
      const response = await lexDoor({ ...lexEvent(), invocationSource: "DialogCodeHook" }, context(), deps);
      expect(response).to.deep.equal({
        sessionState: {
          sessionAttributes: { topic: "bots" },
          dialogAction: { type: "Delegate" },
          intent: { name: "FallbackIntent", slots: {}, state: "InProgress" },
        },
      } satisfies LexV2Result);
      expect(asked).to.deep.equal([]);
    });

    // clients.md: the code hook event carries no caller identity, and any guest may call
    // RecognizeText with any session id; only a Cognito identity id is bound to one identity.
    it("streams a bound session (a Cognito identity id) and uses its identity's Lex memory, apart from the memory of its signed asks", async () => {
      const { deps, asked, store } = doorDeps();
      await store.seed(identityId, cognitoPrincipal, ["text"]);
      await lexDoor(lexEvent({ sessionId: identityId }), context(), deps);
      expect(asked[0]).to.include({ sessionId: identityId, stream: true, memoryOwner: `${LEX_MEMORY_PREFIX}${cognitoPrincipal}` });
      expect(asked[0]).to.not.have.property("principal");
    });

    describe("an unbound session id (stock Lex Web UI guests: lex-web-ui-XXXX)", () => {
      afterEach(() => resetUnboundNotice());

      function capturedWarnings(): { messages: string[]; restore(): void } {
        const messages: string[] = [];
        const warn = logger.warn;
        logger.warn = ((message: string) => void messages.push(message)) as typeof logger.warn;
        return { messages, restore: () => void (logger.warn = warn) };
      }

      it("by default neither streams nor uses memory, even with one claimant, and says why once per instance", async () => {
        const { deps, asked, store } = doorDeps();
        await store.seed("lex-web-ui-3f9a", cognitoPrincipal, ["text"]);
        resetUnboundNotice();
        const logs = capturedWarnings();
        try {
          await lexDoor(lexEvent({ sessionId: "lex-web-ui-3f9a" }), context(), deps);
          await lexDoor(lexEvent({ sessionId: "lex-web-ui-0001" }), context(), deps);
        } finally {
          logs.restore();
        }
        expect(asked.map((a) => ({ stream: a.stream, memoryOwner: a.memoryOwner }))).to.deep.equal([
          { stream: false, memoryOwner: false },
          { stream: false, memoryOwner: false },
        ]);
        const notices = logs.messages.filter((message) => message === UNBOUND_LEX_NOTICE);
        expect(notices, "one line per function instance").to.have.length(1);
        expect(UNBOUND_LEX_NOTICE).to.include("unboundSessionStreaming").and.include("UNBOUND_SESSION_STREAMING=true");
      });

      it("with unboundSessionStreaming, uses the only claimant's Lex memory until its claim ends, and streams", async () => {
        const { deps, asked, store } = doorDeps({ unboundSessionStreaming: true });
        await store.seed("lex-web-ui-3f9a", cognitoPrincipal, ["text"]);
        const claimEnd = (await store.listSession("lex-web-ui-3f9a")).claimEnds[cognitoPrincipal];
        await lexDoor(lexEvent({ sessionId: "lex-web-ui-3f9a" }), context(), deps);
        expect(asked[0]).to.include({ stream: true, memoryOwner: `${LEX_MEMORY_PREFIX}${cognitoPrincipal}`, memoryUntil: claimEnd });
        expect(asked[0]).to.not.have.property("principal");
      });

      it("with unboundSessionStreaming, neither streams nor uses memory when nobody claims the id (a Lex question with no socket)", async () => {
        const { deps, asked } = doorDeps({ unboundSessionStreaming: true });
        await lexDoor(lexEvent({ sessionId: "lex-web-ui-3f9a" }), context(), deps);
        expect(asked[0]).to.include({ memoryOwner: false, stream: false });
      });

      // clients.md: stock Lex Web UI's ids are `lex-web-ui-` + 4 hex digits, so two users collide,
      // and the Lex event does not say which of them asked.
      it("with unboundSessionStreaming, neither streams nor uses memory when two principals claim the session, and still answers", async () => {
        const { deps, asked, store } = doorDeps({ unboundSessionStreaming: true });
        await store.seed("lex-web-ui-3f9a", cognitoPrincipal, ["text"]);
        await store.register({ sessionId: "lex-web-ui-3f9a", connectionId: "other=", principal: "cognito:us-east-1:other", format: "text" });
        const response = await lexDoor(lexEvent({ sessionId: "lex-web-ui-3f9a" }), context(), deps);
        expect(asked[0]).to.include({ memoryOwner: false, stream: false });
        expect(response.messages).to.deep.equal([{ contentType: "PlainText", content: result().plainText }]);
      });

      it("with unboundSessionStreaming, neither streams nor uses memory when the session cannot be read", async () => {
        const { deps, asked, store } = doorDeps({ unboundSessionStreaming: true });
        store.listSession = () => Promise.reject(new Error("ProvisionedThroughputExceededException"));
        await lexDoor(lexEvent({ sessionId: "lex-web-ui-3f9a" }), context(), deps);
        expect(asked[0]).to.include({ memoryOwner: false, stream: false });
      });
    });

    it("ignores client-supplied streamingEndpoint/streamingDynamoDbTable session attributes", async () => {
      const stack = { endpoint: "https://stack123.execute-api.us-east-1.amazonaws.com/Prod", connectionsTable: "stack-connections" };
      const lambda = fakeClient(() => ({ StatusCode: 200, Payload: Buffer.from(JSON.stringify({ generated_text: "ok" })) }));
      const { opener } = recordingOpener();
      const clock = new ManualClock();
      const engine = {
        generators: { llm: hookGenerator(lambda as unknown as LambdaInvoker, { functionArn: "arn:hook", inference: {}, streaming: stack }) },
        openStream: opener,
        stallMs: 20_000,
        clock,
      };
      const { deps } = doorDeps({ answer: (request) => answer(request, engine), clock });
      const response = await lexDoor(
        lexEvent({
          sessionAttributes: { streamingEndpoint: "https://attacker.example.com/Prod", streamingDynamoDbTable: "attacker-table" },
        }),
        context(),
        deps,
      );
      const payload = JSON.parse(Buffer.from((lambda.sent[0].input as { Payload: Uint8Array }).Payload).toString());
      expect(payload.streamingAttributes).to.include({
        streamingEndpoint: stack.endpoint,
        streamingDynamoDbTable: stack.connectionsTable,
      });
      expect(JSON.stringify(payload)).to.not.contain("attacker");
      expect(response.messages).to.deep.equal([{ contentType: "PlainText", content: "ok" }]);
    });

    it("answers a bad Lex event with a Close carrying a clear message, without asking the engine", async () => {
      const { deps, asked } = doorDeps();
      for (const event of [lexEvent({ inputTranscript: "   " }), lexEvent({ sessionId: "bad id!" }), lexEvent({ inputTranscript: 42 })]) {
        const response = await lexDoor(event, context(), deps);
        expect(response.sessionState.dialogAction.type).to.equal("Close");
        const message = response.messages?.[0];
        expect(message && "content" in message ? message.content : "").to.match(/question is required|sessionId is required/);
      }
      const bare = await lexDoor({ inputTranscript: "hi" }, context(), deps);
      expect(bare.sessionState).to.deep.include({ dialogAction: { type: "Close" } });
      expect(asked).to.deep.equal([]);
    });
  });

  describe("HTTP API POST /ask", () => {
    it("answers JSON {answer, citations, sources, usage, streamed} as the IAM caller, within the HTTP API timeout", async () => {
      const { deps, asked, clock } = doorDeps();
      const response = await httpDoor(httpEvent({ question: "What is QnABot?", sessionId: identityId, mode: "kb" }), context(900_000), deps);
      expect(response.statusCode).to.equal(200);
      expect(response.headers["content-type"]).to.equal("application/json");
      expect(bodyOf(response)).to.deep.equal({
        requestId: "aws-req-1",
        answer: result().answer,
        citations: result().citations,
        sources: [],
        usage: result().usage,
        stopReason: "end_turn",
        streamed: true,
      });
      expect(asked[0]).to.deep.equal({
        question: "What is QnABot?",
        sessionId: identityId,
        principal: cognitoPrincipal,
        mode: "kb",
        requestId: "aws-req-1",
        deadlineAt: clock.now() + HTTP_API_TIMEOUT_MS - TIME_BUDGET_MARGIN_MS,
      });
    });

    it("accepts a base64 body and a client requestId", async () => {
      const { deps, asked } = doorDeps();
      const response = await httpDoor(httpEvent({ question: "q", sessionId: identityId, requestId: "mine-1" }, { base64: true }), context(), deps);
      expect(response.statusCode).to.equal(200);
      expect(asked[0].requestId).to.equal("mine-1");
    });

    for (const [label, event, status, code] of [
      ["a body that is not JSON", httpEvent("{nope"), 400, "bad_request"],
      ["a missing question", httpEvent({ sessionId: identityId }), 400, "bad_request"],
      ["a bad mode", httpEvent({ question: "q", sessionId: identityId, mode: "poetry" }), 400, "bad_request"],
      ["a request without IAM identity", httpEvent({ question: "q", sessionId: "s-1" }, { cognito: null, userArn: "" }), 403, "forbidden"],
      ["a Cognito caller naming another identity's session", httpEvent({ question: "q", sessionId: newCognitoIdentityId() }), 403, "forbidden"],
      ["another path", httpEvent({ question: "q", sessionId: identityId }, { path: "/other" }), 404, "not_found"],
      ["another method", httpEvent({ question: "q", sessionId: identityId }, { method: "GET" }), 405, "bad_request"],
    ] as const) {
      it(`refuses ${label} with ${status} {error:{code,message}}`, async () => {
        const { deps, asked } = doorDeps();
        const response = await httpDoor(event, context(), deps);
        expect(response.statusCode).to.equal(status);
        expect(bodyOf(response).error).to.include({ code });
        expect(bodyOf(response).error.message).to.be.a("string").and.not.equal("");
        expect(asked).to.deep.equal([]);
      });
    }

    it("answers a caller in a session another principal also holds, as itself (its own connections only)", async () => {
      const { deps, asked, store } = doorDeps();
      await store.seed("shared-session", `iam:${aliceArn}`, ["json"]);
      const mallory = await httpDoor(httpEvent({ question: "q", sessionId: "shared-session" }, { cognito: null, userArn: "arn:aws:iam::123456789012:user/mallory" }), context(), deps);
      expect(mallory.statusCode).to.equal(200);
      expect(asked.map((a) => a.principal)).to.deep.equal(["iam:arn:aws:iam::123456789012:user/mallory"]);
    });

    it("refuses with 403 a Cognito identity id that is not the caller's", async () => {
      const { deps, asked } = doorDeps();
      const response = await httpDoor(httpEvent({ question: "q", sessionId: newCognitoIdentityId() }), context(), deps);
      expect(response.statusCode).to.equal(403);
      expect(bodyOf(response).error.code).to.equal("forbidden");
      expect(asked).to.deep.equal([]);
    });

    it("reports a failed answer with its status and the clear final message", async () => {
      const error = { code: "throttled" as const, message: MESSAGES.throttled, retryable: true };
      const { deps } = doorDeps({}, result({ answer: MESSAGES.throttled, error, stopReason: "error", citations: [], usage: undefined, streamed: false }));
      const response = await httpDoor(httpEvent({ question: "q", sessionId: identityId }), context(), deps);
      expect(response.statusCode).to.equal(429);
      expect(bodyOf(response)).to.deep.include({ answer: MESSAGES.throttled, error, usage: null, streamed: false });
    });
  });

  describe("WebSocket ask route", () => {
    const askBody = (fields: Record<string, unknown> = {}) =>
      JSON.stringify({ action: "ask", requestId: "r-42", question: "What is QnABot?", mode: "kb", ...fields });

    it("hands the ask to the asynchronous job with the connection's session and principal, and returns 200 at once", async () => {
      const { deps, jobs, asked, store, transport } = doorDeps();
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["json"]);
      const response = await askRoute(messageEvent({ routeKey: ROUTES.ask, connectionId, body: askBody() }), deps);
      expect(response.statusCode).to.equal(200);
      expect(jobs).to.deep.equal([
        { kind: ASK_JOB_KIND, sessionId: identityId, principal: cognitoPrincipal, connectionId, format: "json", requestId: "r-42", question: "What is QnABot?", mode: "kb" },
      ]);
      expect(asked).to.deep.equal([]);
      expect(transport.calls).to.deep.equal([]);
    });

    it("posts an error envelope to a json connection for a bad frame, and returns 400", async () => {
      const { deps, jobs, store, transport } = doorDeps();
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["json"]);
      const response = await askRoute(messageEvent({ routeKey: ROUTES.ask, connectionId, body: askBody({ question: "" }) }), deps);
      expect(response.statusCode).to.equal(400);
      expect(transport.envelopesOf(connectionId)).to.deep.equal([
        { v: 1, type: "error", requestId: "r-42", seq: 0, code: "bad_request", message: "question is required: a non-empty string", retryable: false },
      ]);
      expect(jobs).to.deep.equal([]);
    });

    it("posts the error as plain text to a text connection, with requestId 'unknown' when none is usable", async () => {
      const { deps, store, transport } = doorDeps();
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["text"]);
      const response = await askRoute(messageEvent({ routeKey: ROUTES.ask, connectionId, body: "not json" }), deps);
      expect(response.statusCode).to.equal(400);
      expect(transport.framesOf(connectionId)).to.deep.equal(["message body must be JSON"]);
      expect(JSON.parse(response.body).error.code).to.equal("bad_request");
    });

    it("tells an unregistered connection to reconnect (404)", async () => {
      const { deps, transport } = doorDeps();
      const response = await askRoute(messageEvent({ routeKey: ROUTES.ask, connectionId: "ghost=", body: askBody() }), deps);
      expect(response.statusCode).to.equal(404);
      expect(transport.envelopesOf("ghost=")[0]).to.include({ type: "error", code: "not_found", message: DOOR_MESSAGES.unregistered, requestId: "r-42" });
    });

    it("tells the connection to retry when the hand-off fails", async () => {
      const { deps, store, transport } = doorDeps({ handOff: async () => Promise.reject(Object.assign(new Error("boom"), { name: "ServiceException", $metadata: { httpStatusCode: 500 } })) });
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["json"]);
      const response = await askRoute(messageEvent({ routeKey: ROUTES.ask, connectionId, body: askBody() }), deps);
      expect(response.statusCode).to.equal(503);
      expect(transport.envelopesOf(connectionId)[0]).to.include({ type: "error", code: "internal", retryable: true });
    });

    it("answers busy (retryable, 429) when the hand-off is throttled: overload is not an internal failure (issue 21, finding 6)", async () => {
      const throttled = Object.assign(new Error("Rate exceeded"), { name: "TooManyRequestsException", $metadata: { httpStatusCode: 429 } });
      const { deps, store, transport } = doorDeps({ handOff: async () => Promise.reject(throttled) });
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["json"]);
      const response = await askRoute(messageEvent({ routeKey: ROUTES.ask, connectionId, body: askBody() }), deps);
      expect(response.statusCode).to.equal(429);
      expect(transport.envelopesOf(connectionId)[0]).to.include({ type: "error", code: "busy", retryable: true, message: DOOR_MESSAGES.overloaded });
    });

    it("answers an error envelope when streaming is off", async () => {
      const { deps } = doorDeps({ store: undefined, transport: undefined, handOff: undefined });
      const response = await askRoute(messageEvent({ routeKey: ROUTES.ask, body: askBody() }), deps);
      expect(response.statusCode).to.equal(503);
      expect(JSON.parse(response.body).error).to.include({ message: DOOR_MESSAGES.streamingOff });
    });

    it("serves the ask route only", async () => {
      const { deps } = doorDeps();
      const response = await askRoute(messageEvent({ routeKey: ROUTES.default, body: askBody() }), deps);
      expect(response.statusCode).to.equal(404);
    });
  });

  describe("internal ask job", () => {
    const job: AskJob = {
      kind: ASK_JOB_KIND,
      sessionId: identityId,
      principal: cognitoPrincipal,
      connectionId: "conn-1=",
      format: "json",
      requestId: "r-7",
      question: "What is QnABot?",
      mode: "llm",
    };

    it("runs the engine for the asker's session and principal, within the Lambda time budget", async () => {
      const { deps, asked, clock } = doorDeps();
      const outcome = await askJob(job, context(300_000), deps);
      expect(asked).to.deep.equal([
        {
          question: job.question,
          sessionId: job.sessionId,
          principal: job.principal,
          mode: "llm",
          requestId: "r-7",
          deadlineAt: clock.now() + 300_000 - TIME_BUDGET_MARGIN_MS,
          asker: { connectionId: job.connectionId, format: "json" },
        },
      ]);
      expect(outcome).to.deep.equal({ requestId: "r-7", stopReason: "end_turn", streamed: true });
    });

    it("tells the connection when its job is malformed, without answering", async () => {
      const { deps, asked, store, transport } = doorDeps();
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["json"]);
      const outcome = await askJob({ ...job, connectionId, question: 7 }, context(), deps);
      expect(asked).to.deep.equal([]);
      expect(outcome.error?.code).to.equal("bad_request");
      expect(transport.envelopesOf(connectionId)[0]).to.include({ type: "error", requestId: "r-7", code: "bad_request" });
    });
  });

  describe("WebSocket resume route", () => {
    const resumeBody = (fields: Record<string, unknown> = {}) => JSON.stringify({ action: "resume", requestId: "r-7", afterSeq: 12, ...fields });

    function journalWith(outcome: ResumeOutcome) {
      const calls: unknown[][] = [];
      const journal: JournalStore = {
        open: async () => undefined,
        checkpoint: async () => ({ resumers: {}, cancelled: false }),
        resume: async (...args) => {
          calls.push(args);
          return outcome;
        },
        cancel: async (key) => {
          calls.push(["cancel", key]);
          return outcome.state === "attached";
        },
      };
      return { journal, calls };
    }

    it("registers the connection for the rest of a running answer of the caller's", async () => {
      const { journal, calls } = journalWith({ state: "attached" });
      const replays: unknown[] = [];
      const { deps, store, transport } = doorDeps({ journal, replay: async (r) => void replays.push(r) });
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["json"]);
      const response = await askRoute(messageEvent({ routeKey: ROUTES.resume, connectionId, body: resumeBody() }), deps);
      expect(response.statusCode).to.equal(200);
      expect(calls).to.deep.equal([[{ sessionId: identityId, principal: cognitoPrincipal, requestId: "r-7" }, connectionId, 12]]);
      expect(replays).to.deep.equal([]);
      expect(transport.calls).to.deep.equal([]);
    });

    it("replays an ended answer's events after the seq given", async () => {
      const events = [{ type: "delta" as const, text: "abc", end: 3 }];
      const { journal } = journalWith({ state: "ended", events });
      const replays: unknown[] = [];
      const { deps, store } = doorDeps({ journal, replay: async (r) => void replays.push(r) });
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["json"]);
      await askRoute(messageEvent({ routeKey: ROUTES.resume, connectionId, body: resumeBody({ afterSeq: 1 }) }), deps);
      expect(replays).to.deep.equal([{ sessionId: identityId, principal: cognitoPrincipal, requestId: "r-7", connectionId, events, afterSeq: 1 }]);
    });

    it("answers an unknown answer, a text connection and a bad afterSeq with an error frame", async () => {
      const { journal } = journalWith({ state: "unknown" });
      const { deps, store, transport } = doorDeps({ journal, replay: async () => undefined });
      const [json, text] = await store.seed(identityId, cognitoPrincipal, ["json", "text"]);
      const unknown = await askRoute(messageEvent({ routeKey: ROUTES.resume, connectionId: json, body: resumeBody() }), deps);
      expect(unknown.statusCode).to.equal(404);
      expect(transport.envelopesOf(json)[0]).to.include({ type: "error", code: "not_found", message: DOOR_MESSAGES.resumeUnknown, requestId: "r-7" });
      await askRoute(messageEvent({ routeKey: ROUTES.resume, connectionId: text, body: resumeBody() }), deps);
      expect(transport.framesOf(text)).to.deep.equal([DOOR_MESSAGES.resumeNeedsJson]);
      for (const afterSeq of [-1, 1.5, "3", null]) {
        const response = await askRoute(messageEvent({ routeKey: ROUTES.resume, connectionId: json, body: resumeBody({ afterSeq }) }), deps);
        expect(response.statusCode, String(afterSeq)).to.equal(400);
      }
      expect(transport.envelopesOf(json).at(-1)?.message).to.match(/afterSeq must be/);
    });
  });

  describe("WebSocket cancel route", () => {
    function cancelling(running: boolean) {
      const keys: unknown[] = [];
      const journal: JournalStore = {
        open: async () => undefined,
        checkpoint: async () => ({ resumers: {}, cancelled: false }),
        resume: async () => ({ state: "unknown" }),
        cancel: async (key) => {
          keys.push(key);
          return running;
        },
      };
      return { journal, keys };
    }

    it("marks the caller's running answer cancelled, keyed by its own principal", async () => {
      const { journal, keys } = cancelling(true);
      const { deps, store, transport } = doorDeps({ journal });
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["json"]);
      const response = await askRoute(messageEvent({ routeKey: ROUTES.cancel, connectionId, body: JSON.stringify({ action: "cancel", requestId: "r-9" }) }), deps);
      expect(response.statusCode).to.equal(200);
      expect(keys).to.deep.equal([{ sessionId: identityId, principal: cognitoPrincipal, requestId: "r-9" }]);
      expect(transport.calls).to.deep.equal([]);
    });

    it("says so when there is no running answer to cancel", async () => {
      const { journal } = cancelling(false);
      const { deps, store, transport } = doorDeps({ journal });
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["json"]);
      const response = await askRoute(messageEvent({ routeKey: ROUTES.cancel, connectionId, body: JSON.stringify({ action: "cancel", requestId: "r-9" }) }), deps);
      expect(response.statusCode).to.equal(404);
      expect(transport.envelopesOf(connectionId)[0]).to.include({ type: "error", code: "not_found", message: DOOR_MESSAGES.cancelUnknown });
    });
  });

  describe("fair use: asks in flight (the ask ledger)", () => {
    /** A ledger that admits `limit` asks at once, recording every call. */
    function countingLedger(limit: number): AskLedger & { held: Set<string>; calls: string[] } {
      const held = new Set<string>();
      const calls: string[] = [];
      const name = (slot: AskSlot) => `${slot.sessionId}|${slot.connectionId ?? "-"}|${slot.key}`;
      return {
        held,
        calls,
        async acquire(slot) {
          calls.push(`acquire ${name(slot)}`);
          if (held.size >= limit) throw new ProtocolError("busy", "too many", 429, true);
          held.add(name(slot));
        },
        async release(slot) {
          calls.push(`release ${name(slot)}`);
          held.delete(name(slot));
        },
        async chargeResume(connectionId) {
          calls.push(`resume ${connectionId}`);
        },
      };
    }

    it("answers an ask over the limit at once with a retryable busy error frame, and hands nothing off", async () => {
      const ledger = countingLedger(0);
      const { deps, jobs, store, transport } = doorDeps({ ledger });
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["json"]);
      const response = await askRoute(messageEvent({ routeKey: ROUTES.ask, connectionId, body: JSON.stringify({ action: "ask", requestId: "r-1", question: "q" }) }), deps);
      expect(response.statusCode).to.equal(429);
      expect(jobs).to.deep.equal([]);
      expect(transport.envelopesOf(connectionId)[0]).to.include({ type: "error", code: "busy", retryable: true, requestId: "r-1" });
    });

    it("tells a text client in words", async () => {
      const { deps, store, transport } = doorDeps({ ledger: countingLedger(0) });
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["text"]);
      await askRoute(messageEvent({ routeKey: ROUTES.ask, connectionId, body: JSON.stringify({ action: "ask", requestId: "r-1", question: "q" }) }), deps);
      expect(transport.framesOf(connectionId)).to.deep.equal(["too many"]);
    });

    it("holds the slot from the ask route until the job's answer ends, and frees it when the hand-off fails", async () => {
      const ledger = countingLedger(5);
      const { deps, jobs, store } = doorDeps({ ledger });
      const [connectionId] = await store.seed(identityId, cognitoPrincipal, ["json"]);
      await askRoute(messageEvent({ routeKey: ROUTES.ask, connectionId, body: JSON.stringify({ action: "ask", requestId: "r-1", question: "q" }) }), deps);
      expect(ledger.held.size).to.equal(1);
      await askJob(jobs[0], context(), deps);
      expect(ledger.held.size).to.equal(0);
      expect(ledger.calls).to.deep.equal([`acquire ${identityId}|${connectionId}|r-1`, `release ${identityId}|${connectionId}|r-1`]);

      const failing = doorDeps({ ledger, handOff: () => Promise.reject(new Error("TooManyRequestsException")) });
      const [other] = await failing.store.seed(identityId, cognitoPrincipal, ["json"]);
      await askRoute(messageEvent({ routeKey: ROUTES.ask, connectionId: other, body: JSON.stringify({ action: "ask", requestId: "r-2", question: "q" }) }), failing.deps);
      expect(ledger.held.size).to.equal(0);
    });

    it("answers a busy HTTP ask with 429 and a busy Lex ask with the message in Close, freeing slots after answers", async () => {
      const busy = doorDeps({ ledger: countingLedger(0) });
      const http = await httpDoor(httpEvent({ question: "q", sessionId: identityId }), context(), busy.deps);
      expect(http.statusCode).to.equal(429);
      expect(bodyOf(http).error).to.include({ code: "busy", retryable: true });
      const lex = await lexDoor(lexEvent(), context(), busy.deps);
      expect(lex.messages).to.deep.equal([{ contentType: "PlainText", content: "too many" }]);
      expect(busy.asked).to.deep.equal([]);

      const ledger = countingLedger(1);
      const { deps } = doorDeps({ ledger });
      await httpDoor(httpEvent({ question: "q", sessionId: identityId }), context(), deps);
      await lexDoor(lexEvent(), context(), deps);
      expect(ledger.held.size).to.equal(0);
      expect(ledger.calls.filter((c) => c.startsWith("release"))).to.have.length(2);
    });

    it("lets the ask through when the ledger itself fails (an outage of the bookkeeping stops no answer)", async () => {
      const ledger: AskLedger = {
        acquire: () => Promise.reject(new Error("ProvisionedThroughputExceededException")),
        release: async () => undefined,
        chargeResume: async () => undefined,
      };
      const { deps, asked } = doorDeps({ ledger });
      const response = await httpDoor(httpEvent({ question: "q", sessionId: identityId }), context(), deps);
      expect(response.statusCode).to.equal(200);
      expect(asked).to.have.length(1);
    });
  });

  describe("dispatch", () => {
    it("tells the doors apart", () => {
      expect(doorOf(lexEvent())).to.equal("lex");
      expect(doorOf(httpEvent({}))).to.equal("http");
      expect(doorOf(messageEvent({ routeKey: ROUTES.ask }))).to.equal("websocket");
      expect(doorOf({ kind: ASK_JOB_KIND })).to.equal("job");
      for (const junk of [null, undefined, 42, "ask", [], {}, { kind: "other" }]) expect(doorOf(junk)).to.equal(undefined);
    });

    it("answers an event of no door with a 400, not an exception", async () => {
      const { deps } = doorDeps();
      for (const junk of [null, 42, "x", [], { requestContext: "?" }]) {
        const response = (await dispatch(junk, context(), deps)) as HttpResult;
        expect(response.statusCode).to.equal(400);
        expect(JSON.parse(response.body).error.message).to.equal(DOOR_MESSAGES.unknownEvent);
      }
    });
  });

  describe("asynchronous hand-off", () => {
    const job: AskJob = { kind: ASK_JOB_KIND, sessionId: "s", principal: "iam:x", connectionId: "c=", format: "text", requestId: "r", question: "q", mode: "llm" };

    it("invokes this function asynchronously (InvocationType Event) with the job as payload", async () => {
      const lambda = fakeClient(() => ({ StatusCode: 202 }));
      await invokeAskJob(lambda as unknown as LambdaInvoker, "qna-fulfillment", job);
      const input = lambda.sent[0].input as { FunctionName: string; InvocationType: string; Payload: Uint8Array };
      expect(lambda.sent[0].name).to.equal("InvokeCommand");
      expect(input).to.include({ FunctionName: "qna-fulfillment", InvocationType: "Event" });
      expect(JSON.parse(Buffer.from(input.Payload).toString())).to.deep.equal(job);
    });

    it("fails when Lambda did not queue the event", async () => {
      const lambda = fakeClient(() => ({ StatusCode: 500 }));
      const error = await invokeAskJob(lambda as unknown as LambdaInvoker, "f", job).catch((e) => e);
      expect(error).to.be.instanceOf(Error);
    });
  });

  describe("handler wiring (environment only)", () => {
    const names = Object.values(ENV);
    let saved: Record<string, string | undefined>;
    beforeEach(() => {
      saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
      for (const name of names) delete process.env[name];
    });
    afterEach(() => {
      for (const name of names) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    });

    it("answers Lex with a clear message when no model is configured", async () => {
      const response = (await handler(lexEvent(), { awsRequestId: "a", getRemainingTimeInMillis: () => 10_000 })) as LexV2Result;
      const message = response.messages?.[0];
      expect(message && "content" in message ? message.content : "").to.equal("LLM mode is not configured on this stack.");
    });

    it("refuses a WebSocket ask when the stack did not enable streaming", async () => {
      const response = (await handler(messageEvent({ routeKey: ROUTES.ask, body: "{}" }))) as HttpResult;
      expect(response.statusCode).to.equal(503);
    });

    it("fails loudly on a malformed setting, naming the variable", async () => {
      process.env[ENV.streamStallMs] = "soon";
      const error = await handler(lexEvent()).catch((e) => e);
      expect(String(error)).to.contain(ENV.streamStallMs);
    });
  });
});
