/**
 * Lex Web UI against the whole local stack, over the wire, behaving as docs/clients.md ("Lex Web UI")
 * says each version does (see lex-web-ui-client.ts): a guest identity from the local Cognito
 * pool (or a signed-in user's, with a user-pool ID token in `Logins`), its connect URL signed
 * over the hostname without the port, questions through the local Lex runtime into the real
 * fulfillment. Bedrock's text is scripted so every streamed byte can be compared with what the
 * model sent, and each final answer with its formatting. With the defaults a guest's
 * `lex-web-ui-XXXX` id gets final answers only (nothing proves who asks Lex under it, issue
 * 19), and a signed-in user streams; the `unboundSessionStreaming` stack streams to guests.
 */
import { expect } from "chai";
import { CONTINUE_PROMPT } from "../../functions/fulfillment/continuation";
import { CUT_SHORT_NOTE, formatAnswer } from "../../functions/fulfillment/format";
import { ENV } from "../../functions/shared/env";
import { applyEnv } from "../../local/process-env";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { LexWebUiClient, lexWebUiConnectUrl, stockUserId, type LexWebUiOptions } from "./lex-web-ui-client";
import { FAST, QUIET_ENV, openConnectionIds, refusalOf, sessionItem } from "./stack-helpers";

/** What Lex Web UI displays at the end: the markdown QnABot puts in `appContext.altMessages`. */
function altMarkdown(sessionAttributes: Record<string, string> | undefined): string {
  return (JSON.parse(sessionAttributes?.appContext ?? "{}") as { altMessages?: { markdown?: string } }).altMessages?.markdown ?? "";
}

describe("Lex Web UI against the local stack (clients.md)", function () {
  let stack: LocalStack;
  const clients: LexWebUiClient[] = [];

  before(async function () {
    stack = await startLocalStack({ page: false, bedrockBehavior: FAST, env: QUIET_ENV });
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await stack.idle();
  });

  after(async function () {
    await stack?.close();
  });

  async function client(options: Parameters<typeof LexWebUiClient.start>[1] = {}): Promise<LexWebUiClient> {
    const started = await LexWebUiClient.start(stack, options);
    clients.push(started);
    return started;
  }

  /** Lex Web UI signed in through the Cognito user pool: a user-pool ID token in `Logins`. */
  const loggedIn = (username: string): LexWebUiOptions => ({ login: { providerName: stack.userPool.providerName, idToken: stack.userPool.issueIdToken(username) } });

  describe("stock Lex Web UI 0.22–0.24.1, a guest (clients.md), with the defaults", function () {
    it("connects with its random lex-web-ui-XXXX id signed over the hostname only, no format; its Lex answers are not streamed, and Lex's final message is the formatted answer", async function () {
      const ui = await client();
      expect(ui.userId).to.match(/^lex-web-ui-[0-9a-f]{4}$/);
      expect(ui.userId).to.not.equal(ui.identityId);
      const url = new URL(ui.connectUrl);
      expect(url.searchParams.get("X-Amz-SignedHeaders")).to.equal("host");
      expect(url.searchParams.get("X-Amz-Expires")).to.equal("3600");
      expect(url.searchParams.has("format"), "no format: the default must stay Lex-compatible").to.equal(false);
      expect(url.port, "the URL reaches the local port while the signature covers only the hostname").to.not.equal("");

      // Its connection is recorded under the guest's own identity, in text format.
      const item = await sessionItem(stack, ui.userId);
      expect(Object.keys(item!.claims)).to.deep.equal([`cognito:${ui.identityId}`]);
      expect(Object.values(item!.connections).map((c) => ({ principal: c.principal, format: c.format }))).to.deep.equal([
        { principal: `cognito:${ui.identityId}`, format: "text" },
      ]);

      expect(item, "no connectionId for a QnABot-style hook: the id is bound to no identity").to.not.have.property("connectionId");

      const deltas = ["Final ", "answers ", "only: ", "naïve ", "café, ", "日本語, ", "emoji 🚀 ", "\ud83d", "\ude00 ", "done."];
      // No operation named: whichever call the fulfillment makes when it may not stream (Converse) takes the script.
      stack.bedrock!.enqueue({ deltas });
      const { response, frames } = await ui.ask("What does Lex Web UI show while it waits?", { topic: "kept" });

      const generated = deltas.join("");
      expect(frames, "a guest's Lex answer streams to nobody by default").to.deep.equal([]);
      expect(stack.bedrock!.requests.at(-1)?.operation, "generated without a stream").to.equal("Converse");

      const formatted = formatAnswer(generated, []);
      expect(response.sessionId).to.equal(ui.userId);
      expect(response.sessionState?.dialogAction?.type).to.equal("Close");
      expect(response.sessionState?.intent).to.deep.include({ name: "QnaIntent", state: "Fulfilled" });
      expect(response.messages).to.deep.equal([{ contentType: "PlainText", content: formatted.plainText }]);
      expect(altMarkdown(response.sessionState?.sessionAttributes)).to.equal(formatted.markdown);
      expect(response.sessionState?.sessionAttributes?.topic).to.equal("kept");
    });

    it("is refused when the URL it signed was changed, or signed for another host", async function () {
      const ui = await client();
      const tampered = ui.connectUrl.replace(`sessionId=${ui.userId}`, `sessionId=${stockUserId()}`);
      expect((await refusalOf(tampered)).status).to.equal(403);
      const otherHost = await lexWebUiConnectUrl(stack.webSocketUrl.replace("127.0.0.1", "localhost"), ui.userId, stack.region, ui.credentials);
      const misdirected = otherHost.replace("//localhost:", "//127.0.0.1:");
      expect((await refusalOf(misdirected)).status).to.equal(403);
    });
  });

  describe("Lex Web UI 0.21.7 and QnABot's own client page: the identity id as session id (clients.md)", function () {
    it("streams to the identity's own session, and nobody else may connect to it (strict binding)", async function () {
      const ui = await client({ version: "identity-id" });
      expect(ui.userId).to.equal(ui.identityId);
      const deltas = ["Bound ", "to ", "my ", "identity."];
      stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
      const { response, frames } = await ui.ask("Is my session mine?");
      expect(frames.join("")).to.equal(deltas.join(""));
      expect(altMarkdown(response.sessionState?.sessionAttributes)).to.equal(formatAnswer(deltas.join(""), []).markdown);

      // Another guest signing a connect to that identity id is refused, and the session stays uncontested.
      const intruder = await client();
      const foreign = await lexWebUiConnectUrl(stack.webSocketUrl, ui.identityId, stack.region, intruder.credentials);
      expect((await refusalOf(foreign)).status).to.equal(403);
      // So is an IAM caller.
      expect((await refusalOf(await stack.presign(ui.identityId))).status).to.equal(403);
      expect(Object.keys((await sessionItem(stack, ui.identityId))!.claims)).to.deep.equal([`cognito:${ui.identityId}`]);
    });
  });
  // clients.md: logged in through the Cognito user pool, both loaders' getCredentials(poolId, region, logins) call
  // GetId + GetCredentialsForIdentity with the logins map, and LexClient.initCredentials adopts the identityId as session id.
  describe("Lex Web UI 0.22–0.24.1, a user logged in through the Cognito user pool, with the defaults", function () {
    it("uses its identity id as session id, streams its Lex answers, and keeps its Lex memory across questions", async function () {
      const ui = await client(loggedIn("ana"));
      expect(ui.userId, "the session id is the identity id").to.equal(ui.identityId);
      const item = await sessionItem(stack, ui.userId);
      expect(Object.keys(item!.claims)).to.deep.equal([`cognito:${ui.identityId}`]);
      expect(item!.connectionId, "a QnABot-style hook finds this user's connection").to.be.a("string");

      const first = ["My ", "PIN ", "is ", "noted."];
      stack.bedrock!.enqueue({ operation: "ConverseStream", deltas: first });
      const answered = await ui.ask("Remember my PIN 4711");
      expect(answered.frames.join(""), "streamed with the defaults").to.equal(first.join(""));
      expect(altMarkdown(answered.response.sessionState?.sessionAttributes)).to.equal(formatAnswer(first.join(""), []).markdown);

      const second = ["It ", "was ", "4711."];
      stack.bedrock!.enqueue({ operation: "ConverseStream", deltas: second });
      expect((await ui.ask("What was my PIN?")).frames.join("")).to.equal(second.join(""));
      expect(JSON.stringify(stack.bedrock!.requests.at(-1)?.body), "its own earlier turn is its history").to.include("Remember my PIN 4711");
    });

    it("gets the same session on a second sign-in (another tab), and both of its sockets stream", async function () {
      const tabA = await client(loggedIn("bea"));
      const tabB = await client(loggedIn("bea"));
      expect(tabB.userId).to.equal(tabA.userId);
      const deltas = ["Both ", "tabs."];
      stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
      expect((await tabA.ask("Two tabs?")).frames.join("")).to.equal(deltas.join(""));
      await tabB.settle();
      expect(tabB.received.join("")).to.equal(deltas.join(""));
    });

    it("binds the session strictly: a second identity, logged in or guest, may not connect to it, and the session stays uncontested", async function () {
      const ui = await client(loggedIn("cy"));
      const other = await client(loggedIn("dee"));
      expect(other.identityId).to.not.equal(ui.identityId);
      const guest = await client();
      for (const intruder of [other, guest]) {
        const foreign = await lexWebUiConnectUrl(stack.webSocketUrl, ui.identityId, stack.region, intruder.credentials);
        expect((await refusalOf(foreign)).status).to.equal(403);
      }
      expect(Object.keys((await sessionItem(stack, ui.identityId))!.claims)).to.deep.equal([`cognito:${ui.identityId}`]);
      // A guest cannot get this user's credentials from the pool without the user's token either.
      const stolen = await LexWebUiClient.start(stack, { login: { providerName: stack.userPool.providerName, idToken: "eyJ.forged.token" } }).then(
        () => undefined,
        (error: Error) => error,
      );
      expect(stolen?.name).to.equal("NotAuthorizedException");
    });
  });

  // Lex V2 API reference, RecognizeText: "If you don't configure a timeout message and a timeout, and the
  // Lambda function doesn't return within 30 seconds, the timeout message is returned."
  // https://docs.aws.amazon.com/lexv2/latest/APIReference/API_runtime_RecognizeText.html
  // The local Lex runtime cuts at those 30 s, so an answer that reaches the client at all came back in time.
  describe("a 60 s answer under Lex's 30 s cut", function () {
    it("reaches Lex Web UI as a complete, cut-short answer with no Lex error, and \"continue\" has the model carry on from where it stopped", async function () {
      // The budget is shortened (from 25 s) so the test does not wait out a real one; Lex's 30 s cut is not.
      const restore = applyEnv({ [ENV.lexAnswerBudgetMs]: "8000" });
      try {
        // A signed-in user: its Lex answers stream and are remembered with the defaults, so "continue" has a turn to go on from.
        const ui = await client(loggedIn("eve"));
        // 600 deltas at 10 per second: a 60 s answer.
        const long = Array.from({ length: 600 }, (_, i) => `w${i} `);
        stack.bedrock!.enqueue({ operation: "ConverseStream", deltas: long, deltasPerSecond: 10, firstTokenDelayMs: 0 });
        const { response, frames } = await ui.ask("Tell me everything about Lex.");

        const streamed = frames.join("");
        expect(streamed.length, "some of the answer streamed before the cut").to.be.greaterThan(0);
        expect(long.join("").startsWith(streamed), "what streamed is the start of the answer").to.equal(true);
        expect(streamed.length).to.be.below(long.join("").length);
        const cut = formatAnswer(streamed, [], { cutShort: true, continuable: true });
        expect(response.sessionState?.dialogAction?.type).to.equal("Close");
        expect(response.sessionState?.intent).to.deep.include({ name: "QnaIntent", state: "Fulfilled" });
        expect(response.messages).to.deep.equal([{ contentType: "PlainText", content: cut.plainText }]);
        expect(altMarkdown(response.sessionState?.sessionAttributes)).to.equal(cut.markdown);
        expect(cut.plainText).to.include(CUT_SHORT_NOTE);

        const rest = ["the ", "rest."];
        stack.bedrock!.enqueue({ operation: "ConverseStream", deltas: rest });
        const more = await ui.ask("continue");
        const request = stack.bedrock!.requests[stack.bedrock!.requests.length - 1].body as { messages: { role: string; content: { text: string }[] }[] };
        const messages = request.messages.map((m) => [m.role, m.content[0].text]);
        expect(messages.slice(-3), "the model sees its cut answer, then is asked to carry on").to.deep.equal([
          ["user", "Tell me everything about Lex."],
          ["assistant", streamed],
          ["user", CONTINUE_PROMPT],
        ]);
        expect(more.frames.join("")).to.equal(rest.join(""));
        expect(more.response.messages?.[0].content).to.equal(formatAnswer(rest.join(""), []).plainText);
      } finally {
        restore();
      }
    });
  });

  describe("with unboundSessionStreaming (npm start --unbound-session-streaming)", function () {
    let optIn: LocalStack;
    const optInClients: LexWebUiClient[] = [];

    before(async function () {
      optIn = await startLocalStack({ page: false, bedrockBehavior: FAST, env: QUIET_ENV, unboundSessionStreaming: true });
    });

    afterEach(async function () {
      await Promise.all(optInClients.splice(0).map((started) => started.close()));
      await optIn.idle();
    });

    after(async function () {
      await optIn?.close();
    });

    async function optInClient(options: LexWebUiOptions = {}): Promise<LexWebUiClient> {
      const started = await LexWebUiClient.start(optIn, options);
      optInClients.push(started);
      return started;
    }

    it("streams a guest's answer as raw text frames that concatenate to the generated text; Lex's final message is the formatted answer", async function () {
      const ui = await optInClient();
      expect((await sessionItem(optIn, ui.userId))?.connectionId, "the sole claimant's connection, for QnABot-style hooks").to.be.a("string");
      const deltas = ["Streaming ", "answers ", "arrive ", "as ", "generated: ", "naïve ", "café, ", "日本語, ", "emoji 🚀 ", "\ud83d", "\ude00 ", "done."];
      optIn.bedrock!.enqueue({ operation: "ConverseStream", deltas });
      const { response, frames } = await ui.ask("What does Lex Web UI show while it waits?");
      const generated = deltas.join("");
      expect(frames.length).to.be.greaterThan(0);
      expect(frames.join(""), "the frames concatenated are the generated text").to.equal(generated);
      for (const frame of frames) expect(() => JSON.parse(frame), `a raw text frame, not an envelope: ${frame}`).to.throw();
      expect(response.messages).to.deep.equal([{ contentType: "PlainText", content: formatAnswer(generated, []).plainText }]);
    });

    it("streams a second question on the same socket too (it never reconnects), with no frame of the first", async function () {
      const ui = await optInClient();
      const first = ["First ", "answer."];
      const second = ["Second ", "answer, ", "longer."];
      optIn.bedrock!.enqueue({ operation: "ConverseStream", deltas: first });
      expect((await ui.ask("First?")).frames.join("")).to.equal(first.join(""));
      optIn.bedrock!.enqueue({ operation: "ConverseStream", deltas: second });
      const { response, frames } = await ui.ask("Second?");
      expect(frames.join("")).to.equal(second.join(""));
      expect(response.messages?.[0].content).to.equal(formatAnswer(second.join(""), []).plainText);
      expect(ui.received.join("")).to.equal(first.join("") + second.join(""));
    });

    it("sees readable prose while it streams, the markdown's markers dropped across frame cuts; Lex's final answer keeps the markdown (issue 23)", async function () {
      const ui = await optInClient();
      const deltas = ["_Offline_ **Bed", "rock** streams via `Conv", "erseStream`:\n- one\n- two"];
      optIn.bedrock!.enqueue({ operation: "ConverseStream", deltas });
      const { response, frames } = await ui.ask("What does it show?");
      expect(frames.join("")).to.equal("Offline Bedrock streams via ConverseStream:\n• one\n• two");
      expect(altMarkdown(response.sessionState?.sessionAttributes)).to.equal(formatAnswer(deltas.join(""), []).markdown);
    });

    describe("collision: two guests with one lex-web-ui-XXXX id", function () {
      it("streams to nobody while the id is contested, and both still get their own final answers from Lex", async function () {
        const sharedId = stockUserId();
        const alice = await optInClient({ userId: sharedId });
        const bob = await optInClient({ userId: sharedId });
        expect(alice.identityId).to.not.equal(bob.identityId);
        const item = await sessionItem(optIn, sharedId);
        expect(Object.keys(item!.claims).sort()).to.deep.equal([`cognito:${alice.identityId}`, `cognito:${bob.identityId}`].sort());
        expect(item, "a contested session offers no connectionId to QnABot-style hooks").to.not.have.property("connectionId");

        const aliceText = ["Alice's ", "private ", "answer."];
        const bobText = ["Bob's ", "different ", "answer."];
        // No operation named: whichever call the fulfillment makes when it may not stream (Converse) takes the script.
        optIn.bedrock!.enqueue({ deltas: aliceText });
        const aliceAsk = await alice.ask("Alice's question?");
        optIn.bedrock!.enqueue({ deltas: bobText });
        const bobAsk = await bob.ask("Bob's question?");
        await Promise.all([alice.settle(), bob.settle()]);

        expect(aliceAsk.response.messages?.[0].content).to.equal(formatAnswer(aliceText.join(""), []).plainText);
        expect(bobAsk.response.messages?.[0].content).to.equal(formatAnswer(bobText.join(""), []).plainText);
        for (const [who, ui] of [
          ["alice", alice],
          ["bob", bob],
        ] as const) {
          const all = ui.received.join("");
          for (const word of ["Alice's", "private", "Bob's", "different"]) expect(all, `${who}'s socket`).to.not.include(word);
        }
        expect(alice.received, "a Lex question in a contested session streams to nobody").to.deep.equal([]);
        expect(bob.received).to.deep.equal([]);
        // Both sockets are still open and usable: nothing was cut.
        expect(openConnectionIds(optIn).size).to.be.at.least(2);
      });

      it("keeps streaming to a guest whose id nobody shares while another id is contested", async function () {
        const sharedId = stockUserId();
        await optInClient({ userId: sharedId });
        await optInClient({ userId: sharedId });
        let ownId = stockUserId();
        while (ownId === sharedId) ownId = stockUserId();
        const solo = await optInClient({ userId: ownId });
        const deltas = ["Still ", "streams."];
        optIn.bedrock!.enqueue({ operation: "ConverseStream", deltas });
        expect((await solo.ask("Do I still stream?")).frames.join("")).to.equal(deltas.join(""));
      });
    });

  });
});
