import { expect } from "chai";
import fc from "fast-check";
import { dispatch, type DoorDeps } from "../../functions/fulfillment/doors";
import type { AnswerRequest } from "../../functions/fulfillment/engine";
import { ASK_JOB_KIND } from "../../functions/fulfillment/events";
import { REQUEST_ID_PATTERN, SESSION_ID_PATTERN, MAX_QUESTION_CHARS } from "../../functions/shared/protocol";
import { ROUTES } from "../../functions/shared/routes";
import { ManualClock, quietLogs } from "./fulfillment-fakes";
import { FakeTransport, MemoryConnectionsStore } from "./stream-fakes";

/** Strings fuzzers like: control characters, lone surrogates, injection attempts, huge ones. */
const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.constantFrom("", " ", "\u0000", "\ud800", "../../etc/passwd", "' OR 1=1 --", "<script>alert(1)</script>", "#owner", "a".repeat(5000)),
);
const value = fc.oneof(nasty, fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.object());

function deps(asked: AnswerRequest[]): DoorDeps {
  return {
    answer: async (request) => {
      asked.push(request);
      return { answer: "a", plainText: "a", text: "a", citations: [], stopReason: "end_turn", streamed: false };
    },
    defaultMode: "llm",
    store: new MemoryConnectionsStore(),
    transport: new FakeTransport(),
    handOff: async () => undefined,
    clock: new ManualClock(),
  };
}

/** Whatever reaches the engine must have passed the protocol's checks. */
function expectValid(request: AnswerRequest): void {
  expect(request.sessionId).to.match(SESSION_ID_PATTERN);
  expect(request.requestId).to.match(REQUEST_ID_PATTERN);
  expect(request.question.trim()).to.not.equal("");
  expect(request.question.length).to.be.at.most(MAX_QUESTION_CHARS);
  expect(["llm", "kb"]).to.include(request.mode);
}

const context = { remainingMs: () => 60_000, awsRequestId: "aws-1" };

describe("fulfillment: fuzzed events never throw and never reach the engine unchecked", () => {
  quietLogs();
  const runs = { numRuns: 300, seed: 20260312 };

  it("arbitrary values", async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything(), async (event) => {
        const asked: AnswerRequest[] = [];
        await dispatch(event, context, deps(asked));
        asked.forEach(expectValid);
      }),
      runs,
    );
  });

  it("Lex V2 events with random fields", async () => {
    await fc.assert(
      fc.asyncProperty(value, value, fc.dictionary(fc.string(), value), value, async (sessionId, inputTranscript, attributes, intent) => {
        const asked: AnswerRequest[] = [];
        const response = await dispatch(
          { sessionId, inputTranscript, bot: {}, sessionState: { sessionAttributes: attributes, intent } },
          context,
          deps(asked),
        );
        expect(response).to.have.nested.property("sessionState.dialogAction.type", "Close");
        asked.forEach(expectValid);
      }),
      runs,
    );
  });

  it("HTTP API events with random bodies and identities", async () => {
    await fc.assert(
      fc.asyncProperty(value, value, value, fc.oneof(value, fc.json()), fc.boolean(), async (question, sessionId, identityId, body, raw) => {
        const asked: AnswerRequest[] = [];
        const response = await dispatch(
          {
            rawPath: "/ask",
            requestContext: { http: { method: "POST" }, authorizer: { iam: { cognitoIdentity: { identityId }, userArn: identityId } } },
            body: raw && typeof body === "string" ? body : JSON.stringify({ question, sessionId }),
          },
          context,
          deps(asked),
        );
        expect(response).to.have.property("statusCode").that.is.a("number");
        asked.forEach(expectValid);
      }),
      runs,
    );
  });

  it("WebSocket ask frames and ask jobs with random fields", async () => {
    await fc.assert(
      fc.asyncProperty(value, value, value, value, async (requestId, question, mode, sessionId) => {
        const asked: AnswerRequest[] = [];
        const d = deps(asked);
        await (d.store as MemoryConnectionsStore).seed("s-1", "iam:x", ["json"]);
        await dispatch(
          { requestContext: { routeKey: ROUTES.ask, connectionId: "s-1-c0" }, body: JSON.stringify({ action: "ask", requestId, question, mode }) },
          context,
          d,
        );
        await dispatch({ kind: ASK_JOB_KIND, sessionId, principal: "iam:x", connectionId: "s-1-c0", requestId, question, mode }, context, d);
        asked.forEach(expectValid);
      }),
      runs,
    );
  });
});
