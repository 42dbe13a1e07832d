/**
 * The local stack's front door over the wire: who may connect to which session (SigV4 on
 * `$connect`, session claims, Cognito identities), the gateway's limits and the routes
 * that are not answers (`$disconnect`, `$default`, a refused `ask`), checked on the items the
 * real connection handler writes to dynalite (docs/reliability-and-security.md, "Sessions and who receives an answer").
 */
import { expect } from "chai";
import { CLIENT_ACTIONS } from "../../functions/shared/routes";
import { localCognitoIdentity, localIamUser } from "../../local/gateway";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { FAST, QUIET_ENV, connect, connectionLookup, deltaText, last, openConnectionIds, postAsk, refusalOf, sessionItem, settleDisconnects, type StackSocket } from "./stack-helpers";

/** Opens a socket and returns it with the id the gateway gave its connection. */
async function connectWithId(stack: LocalStack, sessionId: string, options: Parameters<typeof connect>[2] = {}): Promise<{ socket: StackSocket; connectionId: string }> {
  const before = openConnectionIds(stack);
  const socket = await connect(stack, sessionId, options);
  const connectionId = [...openConnectionIds(stack)].find((id) => !before.has(id))!;
  return { socket, connectionId };
}

describe("local stack: who may connect, and the gateway's own routes", function () {
  let stack: LocalStack;
  const otherUser = localIamUser("other-user");
  const cognitoUser = localCognitoIdentity({ identityId: "us-east-1:5d1f2c3b-8a9e-4b7c-9d6e-1f2a3b4c5d6e" });

  before(async function () {
    stack = await startLocalStack({ page: false, bedrockBehavior: FAST, credentials: [otherUser, cognitoUser], env: QUIET_ENV });
  });

  after(async function () {
    await stack?.close();
  });

  afterEach(async function () {
    await stack.idle();
  });

  it("refuses unsigned, tampered and expired URLs with 403 before any handler runs, and writes no item", async function () {
    const connectsBefore = stack.gateway.stats().invocations.$connect ?? 0;
    const unsigned = `${stack.webSocketUrl}?sessionId=session-unsigned`;
    const tamperedSession = (await stack.presign("session-victim")).replace("sessionId=session-victim", "sessionId=session-tampered");
    const tamperedFormat = `${await stack.presign("session-format")}&format=json`;
    const expired = await stack.presign("session-expired", { expiresInSeconds: 1, now: Date.now() - 60_000 });

    for (const url of [unsigned, tamperedSession, tamperedFormat, expired]) {
      const refusal = await refusalOf(url);
      expect(refusal.status, url).to.equal(403);
    }
    expect(stack.gateway.stats().invocations.$connect ?? 0).to.equal(connectsBefore);
    for (const sessionId of ["session-unsigned", "session-victim", "session-tampered", "session-format", "session-expired"]) {
      expect(await sessionItem(stack, sessionId), sessionId).to.equal(undefined);
    }
  });

  it("lets a second principal claim a plain session id too (contested), but neither receives the other's answers over WebSocket or HTTP", async function () {
    const owner = await connect(stack, "session-shared", { format: "json" });
    const other = await connect(stack, "session-shared", { format: "json", credential: otherUser });
    const item = await sessionItem(stack, "session-shared");
    expect(Object.keys(item!.claims).sort()).to.deep.equal([`iam:${otherUser.identity.userArn}`, `iam:${stack.chatUser.identity.userArn}`].sort());
    expect(item, "contested: no connectionId for QnABot-style hooks").to.not.have.property("connectionId");

    // A WebSocket ask knows its asker: it streams to the asker's connections only.
    const deltas = ["Only ", "the ", "asker ", "sees ", "this."];
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
    owner.ask("ask-owned", "Who sees this?");
    expect(deltaText(await owner.answer("ask-owned"))).to.equal(deltas.join(""));
    expect(await other.barrier(), "nothing of the owner's answer reached the other principal").to.deep.equal([]);

    // So does POST /ask: the other principal's answer reaches its own socket, never the owner's.
    const theirs = ["Their ", "answer."];
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas: theirs });
    const foreign = await postAsk(stack, { question: "And mine?", sessionId: "session-shared", mode: "llm" }, otherUser);
    expect(foreign.status).to.equal(200);
    await other.barrier();
    expect(deltaText(other.envelopes(foreign.body.requestId as string))).to.equal(theirs.join(""));
    await owner.barrier();
    expect(owner.envelopes(foreign.body.requestId as string)).to.deep.equal([]);
    await Promise.all([owner.close(), other.close()]);
  });

  it("binds a Cognito identity id session to that identity alone, while a Cognito caller may claim any other id", async function () {
    const identityId = cognitoUser.identity.cognitoIdentityId!;
    const own = await connect(stack, identityId, { credential: cognitoUser });
    expect(Object.keys((await sessionItem(stack, identityId))!.claims)).to.deep.equal([`cognito:${identityId}`]);

    // Another identity's id: refused, nothing written.
    const foreignId = "us-east-1:00000000-1111-4222-8333-444444444444";
    expect((await refusalOf(await stack.presign(foreignId, { credential: cognitoUser }))).status).to.equal(403);
    expect(await sessionItem(stack, foreignId)).to.equal(undefined);
    // Nor may an IAM caller take a session id shaped like a Cognito identity's.
    expect((await refusalOf(await stack.presign(identityId))).status).to.equal(403);
    expect(Object.keys((await sessionItem(stack, identityId))!.claims)).to.deep.equal([`cognito:${identityId}`]);

    // A plain id (stock Lex Web UI's lex-web-ui-XXXX) is open to any signed caller.
    const plain = await connect(stack, "lex-web-ui-0f0f", { credential: cognitoUser });
    expect(Object.keys((await sessionItem(stack, "lex-web-ui-0f0f"))!.claims)).to.deep.equal([`cognito:${identityId}`]);
    await Promise.all([own.close(), plain.close()]);
  });

  it("closes the socket with 1009 when a client sends a 200 KB message, and its connection leaves the session", async function () {
    const disconnects = stack.gateway.stats().disconnected;
    const { socket, connectionId } = await connectWithId(stack, "session-big", { format: "json" });
    socket.send(JSON.stringify({ action: "ask", requestId: "too-big", question: "x".repeat(200 * 1024) }));
    expect((await socket.closed).code).to.equal(1009);
    await settleDisconnects(stack, disconnects + 1);
    const item = await sessionItem(stack, "session-big");
    expect(item!.connections).to.deep.equal({});
    expect(item).to.not.have.property("connectionId");
    expect(await connectionLookup(stack, connectionId)).to.equal(undefined);
  });

  it("on $disconnect removes the connection and its lookup item, and keeps the claim until it expires (Lex Web UI never reconnects)", async function () {
    const disconnects = stack.gateway.stats().disconnected;
    const principal = `iam:${stack.chatUser.identity.userArn}`;
    const { socket, connectionId } = await connectWithId(stack, "session-bye", { format: "json" });
    const open = await sessionItem(stack, "session-bye");
    // Issue 19: an id bound to no identity offers a QnABot-style hook (which cannot know who asked) no connectionId.
    expect(open).to.not.have.property("connectionId");
    expect(open!.connections[connectionId]).to.include({ principal, format: "json" });
    expect(await connectionLookup(stack, connectionId)).to.include({ session: "session-bye", principal, format: "json" });

    expect((await socket.close()).code).to.equal(1000);
    await settleDisconnects(stack, disconnects + 1);
    expect(stack.gateway.stats().invocations.$disconnect).to.be.greaterThan(0);
    const closed = await sessionItem(stack, "session-bye");
    expect(closed!.connections).to.deep.equal({});
    expect(closed).to.not.have.property("connectionId");
    expect(Object.keys(closed!.claims)).to.deep.equal([principal]);
    expect(closed!.claims[principal]).to.be.greaterThan(Date.now() / 1000);
    expect(await connectionLookup(stack, connectionId)).to.equal(undefined);
  });

  it("answers an unknown action or a non-JSON frame on $default with an error envelope naming the accepted actions", async function () {
    const socket = await connect(stack, "session-default", { format: "json" });
    socket.send({ action: "dance", requestId: "req-dance" });
    const [dance] = await socket.until((messages) => (messages.length >= 1 ? messages : undefined));
    expect(JSON.parse(dance.text)).to.deep.include({ v: 1, type: "error", requestId: "req-dance", code: "bad_request", retryable: false });
    expect(JSON.parse(dance.text).message).to.equal(`no route for action "dance"; accepted actions: ${CLIENT_ACTIONS.join(", ")}`);

    socket.send("hello?");
    const [, hello] = await socket.until((messages) => (messages.length >= 2 ? messages : undefined));
    expect(JSON.parse(hello.text)).to.deep.include({ type: "error", code: "bad_request", message: `a message must be a JSON object with an "action"; accepted actions: ${CLIENT_ACTIONS.join(", ")}` });
    await socket.close();
  });

  it("answers an ask the protocol refuses with an error envelope on the asking socket, without asking Bedrock", async function () {
    const socket = await connect(stack, "session-bad-ask", { format: "json" });
    const requests = stack.bedrock!.requests.length;
    socket.send({ action: "ask", requestId: "ask-no-question", mode: "llm" });
    const error = last(await socket.answer("ask-no-question"), "error");
    expect(error).to.include({ code: "bad_request", retryable: false });
    expect(error.message).to.match(/question is required/);
    expect(stack.bedrock!.requests.length).to.equal(requests);
    await socket.close();
  });
});
