/**
 * Lex Web UI against the whole local stack, over the wire, behaving as ../shared/clients.md
 * says each version does (see lex-web-ui-client.ts): a guest identity from the local Cognito
 * pool, its connect URL signed over the hostname without the port, questions through the local
 * Lex runtime into the real fulfillment. Bedrock's text is scripted so every streamed byte can
 * be compared with what the model sent, and each final answer with its formatting.
 */
import { expect } from "chai";
import { CONTINUE_PROMPT } from "../../functions/fulfillment/continuation";
import { CUT_SHORT_NOTE, formatAnswer } from "../../functions/fulfillment/format";
import { ENV } from "../../functions/shared/env";
import { applyEnv } from "../../local/process-env";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { LexWebUiClient, lexWebUiConnectUrl, stockUserId } from "./lex-web-ui-client";
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

  describe("stock Lex Web UI 0.22–0.24.1 (clients.md)", function () {
    it("connects with its random lex-web-ui-XXXX id signed over the hostname only, no format, and receives the answer's text frames; Lex's final message is the formatted answer", async function () {
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

      const deltas = ["Streaming ", "answers ", "arrive ", "as ", "generated: ", "naïve ", "café, ", "日本語, ", "emoji 🚀 ", "\ud83d", "\ude00 ", "done."];
      stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
      const { response, frames } = await ui.ask("What does Lex Web UI show while it waits?", { topic: "kept" });

      const generated = deltas.join("");
      expect(frames.length).to.be.greaterThan(0);
      expect(frames.join(""), "the frames concatenated are the generated text").to.equal(generated);
      for (const frame of frames) expect(() => JSON.parse(frame), `a raw text frame, not an envelope: ${frame}`).to.throw();

      const formatted = formatAnswer(generated, []);
      expect(response.sessionId).to.equal(ui.userId);
      expect(response.sessionState?.dialogAction?.type).to.equal("Close");
      expect(response.sessionState?.intent).to.deep.include({ name: "QnaIntent", state: "Fulfilled" });
      expect(response.messages).to.deep.equal([{ contentType: "PlainText", content: formatted.plainText }]);
      expect(altMarkdown(response.sessionState?.sessionAttributes)).to.equal(formatted.markdown);
      expect(response.sessionState?.sessionAttributes?.topic).to.equal("kept");
    });

    it("sees readable prose while it streams, the markdown's markers dropped across frame cuts; Lex's final answer keeps the markdown (issue 23)", async function () {
      const ui = await client();
      const deltas = ["_Offline_ **Bed", "rock** streams via `Conv", "erseStream`:\n- one\n- two"];
      stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
      const { response, frames } = await ui.ask("What does it show?");
      expect(frames.join("")).to.equal("Offline Bedrock streams via ConverseStream:\n• one\n• two");
      expect(altMarkdown(response.sessionState?.sessionAttributes)).to.equal(formatAnswer(deltas.join(""), []).markdown);
    });

    it("streams a second question on the same socket too (it never reconnects), with no frame of the first", async function () {
      const ui = await client();
      const first = ["First ", "answer."];
      const second = ["Second ", "answer, ", "longer."];
      stack.bedrock!.enqueue({ operation: "ConverseStream", deltas: first });
      expect((await ui.ask("First?")).frames.join("")).to.equal(first.join(""));
      stack.bedrock!.enqueue({ operation: "ConverseStream", deltas: second });
      const { response, frames } = await ui.ask("Second?");
      expect(frames.join("")).to.equal(second.join(""));
      expect(response.messages?.[0].content).to.equal(formatAnswer(second.join(""), []).plainText);
      expect(ui.received.join("")).to.equal(first.join("") + second.join(""));
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

  // Lex V2 API reference, RecognizeText: "If you don't configure a timeout message and a timeout, and the
  // Lambda function doesn't return within 30 seconds, the timeout message is returned."
  // https://docs.aws.amazon.com/lexv2/latest/APIReference/API_runtime_RecognizeText.html
  // The local Lex runtime cuts at those 30 s, so an answer that reaches the client at all came back in time.
  describe("a 60 s answer under Lex's 30 s cut", function () {
    it("reaches Lex Web UI as a complete, cut-short answer with no Lex error, and \"continue\" has the model carry on from where it stopped", async function () {
      // The budget is shortened (from 25 s) so the test does not wait out a real one; Lex's 30 s cut is not.
      const restore = applyEnv({ [ENV.lexAnswerBudgetMs]: "8000" });
      try {
        const ui = await client();
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

  describe("collision: two guests with one lex-web-ui-XXXX id (SESSION-MODEL.md)", function () {
    it("streams to nobody while the id is contested, and both still get their own final answers from Lex", async function () {
      const sharedId = stockUserId();
      const alice = await client({ userId: sharedId });
      const bob = await client({ userId: sharedId });
      expect(alice.identityId).to.not.equal(bob.identityId);
      const item = await sessionItem(stack, sharedId);
      expect(Object.keys(item!.claims).sort()).to.deep.equal([`cognito:${alice.identityId}`, `cognito:${bob.identityId}`].sort());
      expect(item, "a contested session offers no connectionId to QnABot-style hooks").to.not.have.property("connectionId");

      const aliceText = ["Alice's ", "private ", "answer."];
      const bobText = ["Bob's ", "different ", "answer."];
      // No operation named: whichever call the fulfillment makes when it may not stream (Converse) takes the script.
      stack.bedrock!.enqueue({ deltas: aliceText });
      const aliceAsk = await alice.ask("Alice's question?");
      stack.bedrock!.enqueue({ deltas: bobText });
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
      expect(openConnectionIds(stack).size).to.be.at.least(2);
    });

    it("keeps streaming to a guest whose id nobody shares while another id is contested", async function () {
      const sharedId = stockUserId();
      await client({ userId: sharedId });
      await client({ userId: sharedId });
      let ownId = stockUserId();
      while (ownId === sharedId) ownId = stockUserId();
      const solo = await client({ userId: ownId });
      const deltas = ["Still ", "streams."];
      stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
      expect((await solo.ask("Do I still stream?")).frames.join("")).to.equal(deltas.join(""));
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
});
