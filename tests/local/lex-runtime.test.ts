/**
 * The local Lex V2 runtime, driven by the real `@aws-sdk/client-lex-runtime-v2`: RecognizeText
 * builds the code hook event of the Lex V2 "Lambda input event format" (QnABot's bot: every
 * text is `QnaIntent` with the text in `qnaslot`, fulfillment code hook only), maps the
 * function's `Close` back, keeps session attributes per session, and refuses what Lex
 * refuses. The code hook here is a recording test function; the whole stack's real
 * fulfillment behind it is exercised in lex-web-ui-stock.test.ts.
 */
import { Hash } from "@smithy/hash-node";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { LexRuntimeV2Client, RecognizeTextCommand, ResourceNotFoundException, ValidationException, DependencyFailedException, AccessDeniedException } from "@aws-sdk/client-lex-runtime-v2";
import { expect } from "chai";
import { CredentialStore, localCognitoIdentity, localIamUser, type LocalCredential } from "../../local/gateway";
import { applyEnv } from "../../local/process-env";
import { LEX_CODE_HOOK_TIMEOUT_MS } from "../../functions/fulfillment/config";
import { CodeHookError, DEFAULT_LOCAL_BOT, startLocalLexRuntime, type LexCodeHookEvent, type LocalLexRuntime } from "../../local/lex-runtime";
import { shiftWallClock } from "../helpers/wall-clock";

const REGION = "eu-west-1";
const BOT = DEFAULT_LOCAL_BOT;

async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("the request succeeded");
}

/** `clockOffsetMs` makes the client sign at the time the runtime's clock was moved to. */
function clientFor(lex: LocalLexRuntime, credential: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, clockOffsetMs = 0): LexRuntimeV2Client {
  return new LexRuntimeV2Client({ region: REGION, endpoint: lex.endpoint, credentials: credential, maxAttempts: 1, systemClockOffset: clockOffsetMs });
}

/** What a fulfillment answers Lex with: Close, the session's attributes plus one of its own, and a plain-text message. */
function closeWith(event: LexCodeHookEvent, content: string): unknown {
  return {
    sessionState: {
      sessionAttributes: { ...event.sessionState.sessionAttributes, turns: String(Number(event.sessionState.sessionAttributes.turns ?? "0") + 1) },
      dialogAction: { type: "Close" },
      intent: { ...event.sessionState.intent, state: "Fulfilled" },
    },
    messages: [{ contentType: "PlainText", content }],
  };
}

describe("local Lex V2 runtime (RecognizeText, with @aws-sdk/client-lex-runtime-v2)", function () {
  let lex: LocalLexRuntime;
  // The runtime's clock, set before each test (never at file load: a slow suite reaches this
  // file minutes later, and a signature made now would be "not yet current" then).
  let clock = 0;
  const events: LexCodeHookEvent[] = [];
  let hook: (event: LexCodeHookEvent) => Promise<unknown> = async (event) => closeWith(event, `You asked: ${event.inputTranscript}`);
  const guest = localCognitoIdentity({ region: REGION });
  const mute = localIamUser("no-lex", { allow: { recognizeText: false } });
  const store = new CredentialStore([guest, mute]);
  let client: LexRuntimeV2Client;

  const ask = (sessionId: string, text: string, extra: Partial<ConstructorParameters<typeof RecognizeTextCommand>[0]> = {}, using = client) =>
    using.send(new RecognizeTextCommand({ botId: BOT.id, botAliasId: BOT.aliasId, localeId: BOT.localeId, sessionId, text, ...extra }));

  before(async function () {
    // Now, not when mocha loaded the file: the first request signs at the current time.
    clock = Date.now();
    lex = await startLocalLexRuntime({
      region: REGION,
      credentials: store,
      now: () => clock,
      invokeCodeHook: async (event) => {
        events.push(event);
        return hook(event);
      },
    });
    client = clientFor(lex, guest);
  });

  beforeEach(function () {
    clock = Date.now();
  });

  afterEach(function () {
    hook = async (event) => closeWith(event, `You asked: ${event.inputTranscript}`);
  });

  after(async function () {
    client?.destroy();
    await lex?.close();
  });

  it("sends the fulfillment code hook the Lex V2 event for a text utterance, as QnABot's bot produces it", async function () {
    const before = events.length;
    await ask("lex-web-ui-1a2b", "How does streaming work?", {
      sessionState: { sessionAttributes: { streamingEndpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/Prod", streamingDynamoDbTable: "" } },
      requestAttributes: { channel: "web" },
    });
    expect(events.length - before).to.equal(1);
    const event = events[events.length - 1];
    const intent = {
      name: "QnaIntent",
      slots: { qnaslot: { shape: "Scalar", value: { originalValue: "How does streaming work?", interpretedValue: "How does streaming work?", resolvedValues: [] } } },
      state: "ReadyForFulfillment",
      confirmationState: "None",
    };
    expect(event).to.deep.include({
      messageVersion: "1.0",
      invocationSource: "FulfillmentCodeHook",
      inputMode: "Text",
      responseContentType: "text/plain; charset=utf-8",
      sessionId: "lex-web-ui-1a2b",
      inputTranscript: "How does streaming work?",
      bot: { id: BOT.id, name: BOT.name, aliasId: BOT.aliasId, aliasName: BOT.aliasName, localeId: BOT.localeId, version: BOT.version },
      requestAttributes: { channel: "web" },
    });
    expect(event.interpretations[0]).to.deep.equal({ intent, nluConfidence: 1, interpretationSource: "Lex" });
    expect(event.sessionState.intent).to.deep.equal(intent);
    expect(event.sessionState.sessionAttributes).to.deep.equal({ streamingEndpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/Prod", streamingDynamoDbTable: "" });
    expect(event.sessionState.originatingRequestId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(event.transcriptions[0]).to.deep.include({ transcription: "How does streaming work?", resolvedContext: { intent: "QnaIntent" } });
  });

  it("answers with the function's Close: its messages, Fulfilled intent, session attributes, interpretations and the session id", async function () {
    const output = await ask("lex-web-ui-0c0d", "What is Lex?", { requestAttributes: { channel: "web" } });
    const event = events[events.length - 1];
    expect(output.sessionId).to.equal("lex-web-ui-0c0d");
    expect(output.messages).to.deep.equal([{ contentType: "PlainText", content: "You asked: What is Lex?" }]);
    expect(output.sessionState?.dialogAction).to.deep.equal({ type: "Close" });
    expect(output.sessionState?.intent).to.deep.include({ name: "QnaIntent", state: "Fulfilled", confirmationState: "None" });
    expect(output.sessionState?.intent?.slots?.qnaslot?.value?.interpretedValue).to.equal("What is Lex?");
    expect(output.sessionState?.sessionAttributes).to.deep.equal({ turns: "1" });
    expect(output.sessionState?.originatingRequestId).to.equal(event.sessionState.originatingRequestId);
    expect(output.interpretations?.[0]).to.deep.include({ nluConfidence: { score: 1 }, interpretationSource: "Lex" });
    expect(output.interpretations?.[0].intent?.name).to.equal("QnaIntent");
    expect(output.requestAttributes).to.deep.equal({ channel: "web" });
  });

  it("serves HTTP/1.1 as well as the Node SDK's HTTP/2 (a browser's fetch speaks HTTP/1.1)", async function () {
    const http1 = new LexRuntimeV2Client({ region: REGION, endpoint: lex.endpoint, credentials: guest, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
    const output = await ask("session-http1", "Over HTTP/1.1?", {}, http1);
    http1.destroy();
    expect(output.messages).to.deep.equal([{ contentType: "PlainText", content: "You asked: Over HTTP/1.1?" }]);
  });

  it("is found by a Node client through AWS_ENDPOINT_URL_LEX_RUNTIME_V2 (what npm start prints), and answers a browser's CORS preflight", async function () {
    // The SDK reads the variable when it resolves the endpoint, so it stays set until the call is made.
    const restore = applyEnv({ AWS_ENDPOINT_URL_LEX_RUNTIME_V2: lex.endpoint });
    const viaEnv = new LexRuntimeV2Client({ region: REGION, credentials: guest, maxAttempts: 1 });
    try {
      expect((await ask("session-env", "Found me?", {}, viaEnv)).messages?.[0].content).to.equal("You asked: Found me?");
    } finally {
      restore();
      viaEnv.destroy();
    }
    const path = `/bots/${BOT.id}/botAliases/${BOT.aliasId}/botLocales/${BOT.localeId}/sessions/s-cors/text`;
    const preflight = await fetch(`${lex.endpoint}${path}`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:8000", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type,x-amz-date,x-amz-security-token" },
    });
    expect(preflight.status).to.equal(200);
    expect(preflight.headers.get("access-control-allow-origin")).to.equal("*");
    expect(preflight.headers.get("access-control-allow-headers")).to.equal("authorization,content-type,x-amz-date,x-amz-security-token");
  });

  it("keeps each session's attributes between calls until the client sends its own, and forgets them after the idle timeout", async function () {
    await ask("session-keep", "one");
    const second = await ask("session-keep", "two");
    expect(events[events.length - 1].sessionState.sessionAttributes).to.deep.equal({ turns: "1" });
    expect(second.sessionState?.sessionAttributes).to.deep.equal({ turns: "2" });
    // Another session is not affected.
    await ask("session-other", "one");
    expect(events[events.length - 1].sessionState.sessionAttributes).to.deep.equal({});
    // Attributes the client sends replace the session's (what Lex Web UI does on every turn).
    await ask("session-keep", "three", { sessionState: { sessionAttributes: { topic: "lex" } } });
    expect(events[events.length - 1].sessionState.sessionAttributes).to.deep.equal({ topic: "lex" });
    // QnABot's bot's idle session timeout is 300 s.
    clock += 301_000;
    const later = clientFor(lex, guest, clock - Date.now());
    await ask("session-keep", "four", {}, later);
    later.destroy();
    expect(events[events.length - 1].sessionState.sessionAttributes).to.deep.equal({});
  });

  describe("ten minutes after this file loaded (a slow full run reaches it that late)", function () {
    let restore: () => void;
    before(function () {
      restore = shiftWallClock(10 * 60_000);
    });
    after(function () {
      restore();
    });

    it("accepts a request signed now: the runtime's clock is set when each test starts (SigV4 allows 5 minutes of skew)", async function () {
      const response = await ask("session-late", "Still current?");
      expect(response.messages?.[0]?.content).to.equal("You asked: Still current?");
    });
  });

  it("answers an unknown bot, alias or locale with ResourceNotFoundException (404), and bad members with ValidationException (400)", async function () {
    for (const wrong of [{ botId: "NOSUCHBOT1" }, { botAliasId: "NOSUCHALIA" }, { localeId: "fr_FR" }]) {
      const error = await rejection(client.send(new RecognizeTextCommand({ botId: BOT.id, botAliasId: BOT.aliasId, localeId: BOT.localeId, sessionId: "s-404", text: "hi", ...wrong })));
      expect(error, JSON.stringify(wrong)).to.be.instanceOf(ResourceNotFoundException);
      expect(error.$metadata?.httpStatusCode).to.equal(404);
    }
    const tooLong = await rejection(ask("s-400", "x".repeat(1025)));
    expect(tooLong).to.be.instanceOf(ValidationException);
    expect(tooLong.$metadata?.httpStatusCode).to.equal(400);
    const badSession = await rejection(ask("a b", "hi"));
    expect(badSession).to.be.instanceOf(ValidationException);
  });

  it("answers a function error or an unusable function response with DependencyFailedException (424)", async function () {
    hook = async () => {
      throw new CodeHookError("Unhandled");
    };
    const failed = await rejection(ask("s-424", "hi"));
    expect(failed).to.be.instanceOf(DependencyFailedException);
    expect(failed.$metadata?.httpStatusCode).to.equal(424);
    expect(failed.message).to.match(/Received error response from Lambda: Unhandled/);

    hook = async () => ({ sessionState: { dialogAction: { type: "Answer" } } });
    const invalid = await rejection(ask("s-424", "hi"));
    expect(invalid).to.be.instanceOf(DependencyFailedException);
    expect(invalid.message).to.match(/^Invalid Lambda Response/);
  });

  // Lex V2 API reference, RecognizeText: "If you don't configure a timeout message and a timeout, and
  // the Lambda function doesn't return within 30 seconds, the timeout message is returned."
  // https://docs.aws.amazon.com/lexv2/latest/APIReference/API_runtime_RecognizeText.html
  describe("Lex's 30 s code hook cut", function () {
    it("waits 30 s by default, and never longer", async function () {
      expect(LEX_CODE_HOOK_TIMEOUT_MS).to.equal(30_000);
      const longer = startLocalLexRuntime({ credentials: store, codeHookTimeoutMs: LEX_CODE_HOOK_TIMEOUT_MS + 1, invokeCodeHook: async () => undefined });
      expect((await rejection(longer)).message).to.match(/codeHookTimeoutMs must be .* at most Lex's 30000 ms/);
    });

    it("answers with Lex's timeout, not the answer, when the hook returns past the cut (shortened here); the hook runs on and the session keeps its attributes", async function () {
      let finished = false;
      const slow = await startLocalLexRuntime({
        region: REGION,
        credentials: store,
        codeHookTimeoutMs: 300,
        invokeCodeHook: async (event) => {
          if (event.inputTranscript === "slow") {
            await new Promise((resolve) => setTimeout(resolve, 1_000));
            finished = true;
          }
          return closeWith(event, "late answer");
        },
      });
      const slowClient = clientFor(slow, guest);
      try {
        const first = await slowClient.send(
          new RecognizeTextCommand({ botId: BOT.id, botAliasId: BOT.aliasId, localeId: BOT.localeId, sessionId: "s-cut", text: "fast" }),
        );
        expect(first.sessionState?.sessionAttributes).to.deep.equal({ turns: "1" });
        const cut = await rejection(
          slowClient.send(new RecognizeTextCommand({ botId: BOT.id, botAliasId: BOT.aliasId, localeId: BOT.localeId, sessionId: "s-cut", text: "slow" })),
        );
        expect(cut).to.be.instanceOf(DependencyFailedException);
        expect(cut.$metadata?.httpStatusCode).to.equal(424);
        expect(cut.message).to.match(/timed out/);
        expect(finished, "Lex answered before the hook returned").to.equal(false);
        await slow.idle();
        expect(finished, "the hook ran on after the cut").to.equal(true);
        // The late answer's attributes were never applied: the session carries the first turn's.
        const after = await slowClient.send(
          new RecognizeTextCommand({ botId: BOT.id, botAliasId: BOT.aliasId, localeId: BOT.localeId, sessionId: "s-cut", text: "fast" }),
        );
        expect(after.sessionState?.sessionAttributes).to.deep.equal({ turns: "2" });
      } finally {
        slowClient.destroy();
        await slow.close();
      }
    });
  });

  it("refuses an unsigned request, a bad signature, an unknown key, an expired guest key and a caller without lex:RecognizeText (all 403)", async function () {
    const path = `/bots/${BOT.id}/botAliases/${BOT.aliasId}/botLocales/${BOT.localeId}/sessions/s-403/text`;
    const unsigned = await fetch(`${lex.endpoint}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "hi" }) });
    expect(unsigned.status).to.equal(403);
    expect(unsigned.headers.get("x-amzn-errortype")).to.equal("MissingAuthenticationTokenException");

    const wrongSecret = clientFor(lex, { ...guest, secretAccessKey: "not-the-secret" });
    const badSignature = await rejection(ask("s-403", "hi", {}, wrongSecret));
    expect(badSignature.name).to.equal("InvalidSignatureException");
    expect(badSignature.$metadata?.httpStatusCode).to.equal(403);
    wrongSecret.destroy();

    const stranger = clientFor(lex, localIamUser("stranger"));
    expect((await rejection(ask("s-403", "hi", {}, stranger))).name).to.equal("UnrecognizedClientException");
    stranger.destroy();

    // A body swapped under a valid signature is refused too.
    const url = new URL(`${lex.endpoint}${path}`);
    const signer = new SignatureV4({ service: "lex", region: REGION, credentials: guest, sha256: Hash.bind(null, "sha256") });
    const signed = await signer.sign(
      new HttpRequest({ method: "POST", protocol: "http:", hostname: url.hostname, port: Number(url.port), path, headers: { host: url.host, "content-type": "application/json" }, body: JSON.stringify({ text: "hi" }) }),
    );
    const swapped = await fetch(url, { method: "POST", headers: signed.headers as Record<string, string>, body: JSON.stringify({ text: "bye" }) });
    expect(swapped.status).to.equal(403);

    const expiring: LocalCredential = localCognitoIdentity({ region: REGION, expiration: new Date(clock + 1000) });
    store.add(expiring);
    const expiringClient = clientFor(lex, expiring);
    await ask("s-expiring", "hi", {}, expiringClient);
    clock += 2000;
    expect((await rejection(ask("s-expiring", "hi", {}, expiringClient))).name).to.equal("ExpiredTokenException");
    expiringClient.destroy();

    const muteClient = clientFor(lex, mute);
    const denied = await rejection(ask("s-403", "hi", {}, muteClient));
    expect(denied).to.be.instanceOf(AccessDeniedException);
    expect(denied.message).to.match(/not authorized to perform: lex:RecognizeText on resource: arn:aws:lex:eu-west-1:000000000000:bot-alias\/QNABOTLOCL\/TSTALIASID/);
    muteClient.destroy();
  });
});
