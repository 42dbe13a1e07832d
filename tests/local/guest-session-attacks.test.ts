/**
 * Issue 19's six attacks on guest sessions, over the wire against the local stack: a second
 * Cognito guest, signed exactly as a Lex Web UI page signs (lex-web-ui-client.ts), holds
 * sockets on a victim's stock `lex-web-ui-XXXX` id, asks Lex under it, and reads the
 * connections table as a QnABot 7.4 hook does. Facts the attacks rest on (docs/clients.md, "Lex Web UI"):
 * a stock guest's id has 16 random bits; the Lex code hook event carries no caller identity;
 * Lex Web UI's Cognito roles may call RecognizeText with any session id; Lex Web UI never
 * reconnects a closed socket.
 *
 * With the defaults, none of them delivers a byte of the victim's answer or memory. With
 * `unboundSessionStreaming` on, the hardening holds where the stack can prove anything (a full
 * session is contested, a principal holds at most MAX_UNBOUND_CLAIMS_PER_PRINCIPAL ids), and
 * the residual risks docs/reliability-and-security.md lists are shown as they are.
 */
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { expect } from "chai";
import { MAX_UNBOUND_CLAIMS_PER_PRINCIPAL } from "../../functions/shared/dynamo-connections";
import { MAX_CONNECTIONS_PER_SESSION } from "../../functions/shared/session-state";
import { DEFAULT_ROUTE_THROTTLES, ROUTES } from "../../functions/shared/routes";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../../local/stack";
import { LexWebUiClient, lexWebUiConnectUrl, stockUserId, type LexWebUiOptions } from "./lex-web-ui-client";
import { FAST, QUIET_ENV, openSocket, refusalOf, sessionItem, type StackSocket } from "./stack-helpers";

/** What the victim's question and answer contain: none of it may reach the attacker. */
const SECRET = "PIN 4711";
const VICTIM_ANSWER = ["Your ", "account ", "PIN ", "4711 ", "is ", "noted, ", "Victoria."];

interface Attacker {
  readonly guest: LexWebUiClient;
  /** Sockets the attacker holds on the victim's id, besides the guest's own. */
  readonly sockets: StackSocket[];
  /** Everything every socket of the attacker received (barrier replies left out). */
  received(): Promise<string>;
}

function suite(title: string, settings: Pick<LocalStackOptions, "unboundSessionStreaming" | "throttle">, body: (context: { stack: () => LocalStack; client: (options?: LexWebUiOptions) => Promise<LexWebUiClient>; attack: (sessionId: string, extraSockets?: number) => Promise<Attacker> }) => void): void {
  describe(title, function () {
    let stack: LocalStack;
    const clients: LexWebUiClient[] = [];
    const sockets: StackSocket[] = [];

    before(async function () {
      // The test's barrier sends one unrouted frame per socket (stack-helpers.ts): fifty at once
      // would spend the stage's whole $default budget (5/s, burst 10), so that route gets more here.
      const routeThrottles = { ...DEFAULT_ROUTE_THROTTLES, [ROUTES.default]: { rateLimit: 200, burstLimit: 200 } };
      stack = await startLocalStack({ page: false, bedrockBehavior: FAST, env: QUIET_ENV, routeThrottles, ...settings });
    });

    afterEach(async function () {
      // One at a time: fifty $disconnects of one session at once would mostly retry their conditional writes.
      for (const socket of sockets.splice(0)) {
        await socket.close();
        await stack.idle();
      }
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await stack.idle();
    });

    after(async function () {
      await stack?.close();
    });

    const client = async (options: LexWebUiOptions = {}): Promise<LexWebUiClient> => {
      const started = await LexWebUiClient.start(stack, options);
      clients.push(started);
      return started;
    };

    /** A second guest on the victim's id: its own Lex Web UI page, plus `extraSockets` more connects signed with its credentials. */
    const attack = async (sessionId: string, extraSockets = 0): Promise<Attacker> => {
      const guest = await client({ userId: sessionId });
      const url = await lexWebUiConnectUrl(stack.webSocketUrl, sessionId, stack.region, guest.credentials);
      const held: StackSocket[] = [];
      for (let i = 0; i < extraSockets; i++) held.push(await openSocket(url));
      sockets.push(...held);
      return {
        guest,
        sockets: held,
        async received() {
          await guest.settle();
          const texts = await Promise.all(held.map(async (socket) => (await socket.barrier()).map((m) => m.text).join("")));
          return guest.received.join("") + texts.join("");
        },
      };
    };

    body({ stack: () => stack, client, attack });
  });
}

/** The victim's question through Lex, answered with VICTIM_ANSWER; returns Lex's final message. */
async function victimAsks(stack: LocalStack, victim: LexWebUiClient): Promise<string | undefined> {
  stack.bedrock!.enqueue({ deltas: VICTIM_ANSWER });
  const { response } = await victim.ask(`Please remember my ${SECRET}`);
  return response.messages?.[0].content;
}

async function memoryItem(stack: LocalStack, sessionId: string): Promise<Record<string, unknown> | undefined> {
  const output = await DynamoDBDocumentClient.from(stack.dynamo.client).send(
    new GetCommand({ TableName: stack.dynamo.memoryTable, Key: { sessionId }, ConsistentRead: true }),
  );
  return output.Item;
}

/** The model request of the latest answer, as Bedrock received it. */
function lastModelRequest(stack: LocalStack): string {
  return JSON.stringify(stack.bedrock!.requests.at(-1)?.body);
}

suite("issue 19's attacks on a guest's session, with the defaults (unboundSessionStreaming off)", {}, ({ stack, client, attack }) => {
  it(`1. session full: the attacker's ${MAX_CONNECTIONS_PER_SESSION} sockets on the victim's id get none of the victim's answer; the victim is refused (429) and still gets its final answer`, async function () {
    const victimId = stockUserId();
    const attacker = await attack(victimId, MAX_CONNECTIONS_PER_SESSION - 1);
    const probe = await LexWebUiClient.start(stack(), { userId: victimId, noSocket: true });
    expect((await refusalOf(probe.connectUrl)).status, "the victim's connect: the session is full").to.equal(429);
    await probe.close();
    const victim = await client({ userId: victimId, noSocket: true });
    expect(await victimAsks(stack(), victim)).to.include("4711");
    expect(await attacker.received(), "not a byte of the victim's answer").to.equal("");
  });

  it("2–4. a victim with no live claim (its connect throttled or late, streaming off, its socket closed, its claim expired): an attacker holding its id alone receives nothing", async function () {
    const victimId = stockUserId();
    const attacker = await attack(victimId, 2);
    const victim = await client({ userId: victimId, noSocket: true });
    expect(await victimAsks(stack(), victim)).to.include("4711");
    expect(await attacker.received()).to.equal("");
    // A victim whose socket closed (Lex Web UI never reconnects) and who keeps asking.
    const closedId = stockUserId();
    const leaver = await client({ userId: closedId });
    await leaver.socket!.close();
    const late = await attack(closedId, 1);
    expect(await victimAsks(stack(), leaver)).to.include("4711");
    expect(await late.received()).to.equal("");
  });

  it("3. a QnABot 7.4-style hook (GetItem {sessionId} → connectionId) finds no connection on a guest's id, so it streams to nobody", async function () {
    const victimId = stockUserId();
    await attack(victimId, 1);
    const item = await sessionItem(stack(), victimId);
    expect(item?.claims, "the attacker's claim is there").to.not.deep.equal({});
    expect(item, "but no connectionId for a hook that cannot know who asked").to.not.have.property("connectionId");
  });

  it("5. memory: a stranger calling RecognizeText with the victim's id reads none of the victim's turns, and writes none into the victim's", async function () {
    const victimId = stockUserId();
    const victim = await client({ userId: victimId });
    await victimAsks(stack(), victim);
    expect(await memoryItem(stack(), victimId), "a guest's id keeps no server-side memory").to.equal(undefined);
    const stranger = await client({ userId: victimId, noSocket: true });
    stack().bedrock!.enqueue({ deltas: ["I ", "do ", "not ", "know."] });
    await stranger.ask("What PIN did I give you earlier?");
    expect(lastModelRequest(stack()), "the stranger's model request").to.not.include("4711");
    stack().bedrock!.enqueue({ deltas: ["Fine."] });
    await victim.ask("And now?");
    expect(lastModelRequest(stack()), "the victim's next model request").to.not.include("What PIN did I give you");
    await victim.settle();
    expect(victim.received.join(""), "nor is the stranger's answer streamed to the victim").to.equal("");
  });

  it("6. occupation: a guest holding many ids keeps no other user from their final answers, and a logged-in user's session cannot be occupied at all", async function () {
    const occupied = Array.from({ length: 3 }, () => stockUserId());
    const attackers = [];
    for (const id of occupied) attackers.push(await attack(id));
    const victim = await client({ userId: occupied[0] });
    expect(await victimAsks(stack(), victim)).to.include("4711");
    for (const attacker of attackers) expect(await attacker.received()).to.equal("");

    const user = await client({ login: { providerName: stack().userPool.providerName, idToken: stack().userPool.issueIdToken("olga") } });
    const squatter = attackers[0].guest;
    expect((await refusalOf(await lexWebUiConnectUrl(stack().webSocketUrl, user.userId, stack().region, squatter.credentials))).status).to.equal(403);
    const deltas = ["Still ", "mine."];
    stack().bedrock!.enqueue({ operation: "ConverseStream", deltas });
    expect((await user.ask("Is my session mine?")).frames.join("")).to.equal(deltas.join(""));
  });
});

suite("issue 19's attacks with unboundSessionStreaming on: what the hardening closes, and the residual risks as documented", { unboundSessionStreaming: true }, ({ stack, client, attack }) => {
  it("1. session full is closed: the refused victim's claim contests the id, so the attacker's sockets get nothing", async function () {
    const victimId = stockUserId();
    const attacker = await attack(victimId, MAX_CONNECTIONS_PER_SESSION - 1);
    expect((await sessionItem(stack(), victimId))?.connectionId, "the attacker alone: its connection is offered").to.be.a("string");
    const victim = await client({ userId: victimId, noSocket: true });
    expect((await refusalOf(victim.connectUrl)).status).to.equal(429);
    const item = await sessionItem(stack(), victimId);
    expect(Object.keys(item!.claims)).to.have.members([`cognito:${attacker.guest.identityId}`, `cognito:${victim.identityId}`]);
    expect(item).to.not.have.property("connectionId");
    expect(await victimAsks(stack(), victim)).to.include("4711");
    expect(await attacker.received()).to.equal("");
  });

  it(`6. occupation is bounded: one guest holds at most ${MAX_UNBOUND_CLAIMS_PER_PRINCIPAL} unbound ids at once; the next connect is refused (429)`, async function () {
    const squatter = await client();
    for (let i = 1; i < MAX_UNBOUND_CLAIMS_PER_PRINCIPAL; i++) {
      const socket = await openSocket(await lexWebUiConnectUrl(stack().webSocketUrl, stockUserId(), stack().region, squatter.credentials));
      await socket.close();
    }
    const next = stockUserId();
    const refusal = await refusalOf(await lexWebUiConnectUrl(stack().webSocketUrl, next, stack().region, squatter.credentials));
    expect(refusal.status).to.equal(429);
    expect(await sessionItem(stack(), next), "the refused id is not claimed").to.equal(undefined);
  });

  it("residual risk (documented): a victim with no claim on an id one attacker holds alone has its Lex answer streamed to that attacker", async function () {
    const victimId = stockUserId();
    const attacker = await attack(victimId);
    const victim = await client({ userId: victimId, noSocket: true });
    stack().bedrock!.enqueue({ operation: "ConverseStream", deltas: VICTIM_ANSWER });
    await victim.ask(`Please remember my ${SECRET}`);
    expect(await attacker.received()).to.equal(VICTIM_ANSWER.join(""));
  });

  it("residual risk (documented): anyone asking Lex under an id answers with its sole holder's Lex memory, which ends with the holder's claim", async function () {
    const victimId = stockUserId();
    const victim = await client({ userId: victimId });
    stack().bedrock!.enqueue({ operation: "ConverseStream", deltas: VICTIM_ANSWER });
    await victim.ask(`Please remember my ${SECRET}`);
    const item = await memoryItem(stack(), victimId);
    const claims = (await sessionItem(stack(), victimId))!.claims;
    expect(item?.principal).to.equal(`lex:cognito:${victim.identityId}`);
    expect(item?.ttl, "the memory ends when the claim does").to.equal(claims[`cognito:${victim.identityId}`]);
    const stranger = await client({ userId: victimId, noSocket: true });
    stack().bedrock!.enqueue({ operation: "ConverseStream", deltas: ["Noted."] });
    await stranger.ask("What PIN did I give you earlier?");
    expect(lastModelRequest(stack())).to.include("4711");
  });
});

// The stage throttle in small: 4 connects, then one per minute (the deployed default is 50/s, burst 100).
suite("issue 19's connect flood, with the defaults and a stage throttle the attacker can exhaust", { throttle: { rateLimit: 1 / 60, burstLimit: 4 } }, ({ stack, client, attack }) => {
  it("2. the attacker's connects use up the stage throttle, the victim's connect is throttled (429), and the attacker receives nothing of its answer", async function () {
    const victimId = stockUserId();
    const attacker = await attack(victimId, 2);
    const flood = await client({ noSocket: true });
    // Whatever is left of the burst goes to the attacker's flood, until the gateway throttles.
    let status = 0;
    for (let i = 0; i < 4 && status !== 429; i++) {
      const url = await lexWebUiConnectUrl(stack().webSocketUrl, stockUserId(), stack().region, flood.credentials);
      status = await openSocket(url).then(
        async (socket) => (await socket.close(), 101),
        (error: { refusal?: { status: number } }) => error.refusal?.status ?? 0,
      );
    }
    expect(status, "the flood reached the throttle").to.equal(429);
    const victim = await client({ userId: victimId, noSocket: true });
    expect((await refusalOf(victim.connectUrl)).status, "the victim's connect is throttled before any handler runs").to.equal(429);
    expect(await victimAsks(stack(), victim)).to.include("4711");
    // No barrier here: a throttled stage refuses the barrier's frame too. A stream's posts all end before Lex gets its
    // answer (the writer's end awaits them), so the attacker's sockets hold by now whatever was posted to them.
    await stack().idle();
    const received = [...attacker.guest.received, ...attacker.sockets.flatMap((socket) => socket.messages.map((m) => m.text))].join("");
    for (const word of ["4711", "Victoria", "account"]) expect(received, "the attacker's sockets").to.not.include(word);
  });
});
