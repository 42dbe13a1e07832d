/**
 * The local stack's front door over the wire: who may connect to which session (SigV4 on
 * `$connect`, session ownership, Cognito identities), the gateway's limits and the routes
 * that are not answers (`$disconnect`, `$default`, a refused `ask`), checked on the rows the
 * real connection handler writes to dynalite.
 */
import { expect } from "chai";
import { localCognitoIdentity, localIamUser } from "../../local/gateway";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { FAST, QUIET_ENV, connect, deltaText, last, postAsk, refusalOf, sessionRows, settleDisconnects } from "./stack-helpers";

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

  it("refuses unsigned, tampered and expired URLs with 403 before any handler runs, and writes no row", async function () {
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
      expect(await sessionRows(stack, sessionId), sessionId).to.deep.equal([]);
    }
  });

  it("lets a second principal neither register the first's session nor receive any of it", async function () {
    const owner = await connect(stack, "session-owned", { format: "json" });
    const ownerRows = await sessionRows(stack, "session-owned");

    const refusal = await refusalOf(await stack.presign("session-owned", { format: "json", credential: otherUser }));
    expect(refusal.status).to.equal(403);
    expect(await sessionRows(stack, "session-owned"), "the refused connect changed nothing").to.deep.equal(ownerRows);

    // Over HTTP the other principal cannot ask in the session either.
    const foreign = await postAsk(stack, { question: "What did they ask?", sessionId: "session-owned", mode: "llm" }, otherUser);
    expect(foreign.status).to.equal(403);
    expect(foreign.body).to.have.nested.property("error.code", "forbidden");

    // With a session of its own, the other principal's socket stays silent while the owner's answer streams.
    const other = await connect(stack, "session-other", { format: "json", credential: otherUser });
    const deltas = ["Only ", "the ", "owner ", "sees ", "this."];
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas });
    owner.ask("ask-owned", "Who sees this?");
    expect(deltaText(await owner.answer("ask-owned"))).to.equal(deltas.join(""));
    expect(await owner.barrier()).to.satisfy((messages: unknown[]) => messages.length > 0);
    expect(await other.barrier(), "nothing of the owner's session reached the other principal").to.deep.equal([]);
    await Promise.all([owner.close(), other.close()]);
  });

  it("lets a Cognito identity connect only with its own identity id as the session", async function () {
    const identityId = cognitoUser.identity.cognitoIdentityId!;
    const own = await connect(stack, identityId, { credential: cognitoUser });
    const rows = await sessionRows(stack, identityId);
    expect(rows.find((r) => r.connectionId === "#owner")).to.include({ principal: `cognito:${identityId}` });

    for (const sessionId of ["us-east-1:00000000-1111-4222-8333-444444444444", "session-plain"]) {
      const refusal = await refusalOf(await stack.presign(sessionId, { credential: cognitoUser }));
      expect(refusal.status, sessionId).to.equal(403);
      expect(await sessionRows(stack, sessionId)).to.deep.equal([]);
    }
    // Nor may an IAM caller take a session id shaped like a Cognito identity's.
    expect((await refusalOf(await stack.presign(identityId))).status).to.equal(403);
    await own.close();
  });

  it("closes the socket with 1009 when a client sends a 200 KB message, and its row goes", async function () {
    const disconnects = stack.gateway.stats().disconnected;
    const socket = await connect(stack, "session-big", { format: "json" });
    socket.send(JSON.stringify({ action: "ask", requestId: "too-big", question: "x".repeat(200 * 1024) }));
    expect((await socket.closed).code).to.equal(1009);
    await settleDisconnects(stack, disconnects + 1);
    expect(await sessionRows(stack, "session-big")).to.deep.equal([]);
  });

  it("removes the connection's row and the session's owner row on $disconnect", async function () {
    const disconnects = stack.gateway.stats().disconnected;
    const socket = await connect(stack, "session-bye", { format: "json" });
    const rows = await sessionRows(stack, "session-bye");
    expect(rows.map((r) => r.connectionId).sort()).to.have.length(2).and.include("#owner");
    expect(rows.find((r) => r.connectionId !== "#owner")).to.include({ principal: `iam:${stack.chatUser.identity.userArn}`, format: "json" });
    expect((await socket.close()).code).to.equal(1000);
    await settleDisconnects(stack, disconnects + 1);
    expect(stack.gateway.stats().invocations.$disconnect).to.be.greaterThan(0);
    expect(await sessionRows(stack, "session-bye")).to.deep.equal([]);
  });

  it("answers an unknown action or a non-JSON frame on $default with an error envelope naming the accepted actions", async function () {
    const socket = await connect(stack, "session-default", { format: "json" });
    socket.send({ action: "dance", requestId: "req-dance" });
    const [dance] = await socket.until((messages) => (messages.length >= 1 ? messages : undefined));
    expect(JSON.parse(dance.text)).to.deep.include({ v: 1, type: "error", requestId: "req-dance", code: "bad_request", retryable: false });
    expect(JSON.parse(dance.text).message).to.equal('no route for action "dance"; accepted actions: ping, ask');

    socket.send("hello?");
    const [, hello] = await socket.until((messages) => (messages.length >= 2 ? messages : undefined));
    expect(JSON.parse(hello.text)).to.deep.include({ type: "error", code: "bad_request", message: 'a message must be a JSON object with an "action"; accepted actions: ping, ask' });
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
