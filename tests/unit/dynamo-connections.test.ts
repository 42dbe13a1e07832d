import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { expect } from "chai";
import { DynamoConnectionsStore, MAX_UNBOUND_CLAIMS_PER_PRINCIPAL, principalClaimsKey } from "../../functions/shared/dynamo-connections";
import { ProtocolError } from "../../functions/shared/protocol";
import { CLAIM_GRACE_SECONDS, MAX_CONNECTIONS_PER_SESSION } from "../../functions/shared/session-state";
import { validateSessionId } from "../../functions/shared/protocol";
import { CONNECTION_KEY_PREFIX, PRINCIPAL_CLAIMS_KEY_PREFIX } from "../../functions/shared/table";
import { newCognitoIdentityId } from "./connection-events";
import { LOCAL_DYNAMO_CREDENTIALS, startLocalDynamo, type LocalDynamo } from "../../local/dynamo";

const ALICE = "iam:arn:aws:iam::123456789012:user/alice";
const BOB = "iam:arn:aws:iam::123456789012:user/bob";
const TTL_SECONDS = 7200;
const START_MS = 1_750_000_000_000;

async function refusal(attempt: Promise<unknown>): Promise<ProtocolError> {
  const error = await attempt.then(() => undefined, (e: unknown) => e);
  expect(error, "expected a refusal").to.be.instanceOf(ProtocolError);
  return error as ProtocolError;
}

let sequence = 0;
const unique = (prefix: string) => `${prefix}-${++sequence}`;

/** A document client over the wire to dynalite, without retries so an injected failure shows. */
function wireClient(endpoint: string): DynamoDBDocumentClient {
  const client = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: LOCAL_DYNAMO_CREDENTIALS, maxAttempts: 1 });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

describe("DynamoConnectionsStore (over the wire against dynalite)", () => {
  let local: LocalDynamo;
  let client: DynamoDBDocumentClient;
  let clock: number;
  let store: DynamoConnectionsStore;
  const clients: DynamoDBDocumentClient[] = [];

  const storeWith = (options: { client?: DynamoDBDocumentClient; unboundSessionStreaming?: boolean } = {}) =>
    new DynamoConnectionsStore({
      tableName: local.connectionsTable,
      ttlSeconds: TTL_SECONDS,
      client: options.client ?? client,
      now: () => clock,
      unboundSessionStreaming: options.unboundSessionStreaming,
    });
  /** The store with the operator's `unboundSessionStreaming` on, and two Cognito guests no other test has used (each holds few claims). */
  const optedIn = () => {
    const optIn = storeWith({ unboundSessionStreaming: true });
    const alice = `cognito:${newCognitoIdentityId()}`;
    const bob = `cognito:${newCognitoIdentityId()}`;
    const on = (sessionId: string, connectionId: string, principal = alice) => optIn.register({ sessionId, connectionId, principal, format: "text" });
    return { optIn, alice, bob, on };
  };

  /** What a QnABot 7.4 hook does (clients.md): `GetItem {TableName, Key: {sessionId}}`, then reads `connectionId`. */
  async function qnabotLookup(sessionId: string): Promise<unknown> {
    const output = await client.send(new GetCommand({ TableName: local.connectionsTable, Key: { sessionId } }));
    return output.Item?.connectionId;
  }

  const register = (sessionId: string, connectionId: string, principal = ALICE, format: "text" | "json" = "text") =>
    store.register({ sessionId, connectionId, principal, format });

  before(async () => {
    local = await startLocalDynamo();
    client = wireClient(local.endpoint);
    clients.push(client);
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await local.close();
  });

  beforeEach(() => {
    clock = START_MS;
    store = storeWith();
  });

  it("registers a connection, lists it under its session and finds it by connection id", async () => {
    const sessionId = unique("s");
    const row = await register(sessionId, "c1=", ALICE, "json");
    expect(row).to.deep.equal({ sessionId, connectionId: "c1=", principal: ALICE, format: "json", connectedAt: START_MS, ttl: START_MS / 1000 + TTL_SECONDS });
    expect(await store.find("c1=")).to.deep.equal(row);
    expect(await store.listSession(sessionId)).to.deep.equal({
      claimants: [ALICE],
      claimEnds: { [ALICE]: START_MS / 1000 + TTL_SECONDS + CLAIM_GRACE_SECONDS },
      contested: false,
      openToUnknownAsker: false,
      connections: [row],
    });
  });

  // clients.md: a QnABot 7.4 hook streams to whatever `GetItem {sessionId}` → `connectionId` names, for any asker.
  it("by default offers a QnABot 7.4 hook no connectionId on an unbound id, and the latest one on a bound id (a Cognito identity id)", async () => {
    const sessionId = unique("lex-web-ui");
    await register(sessionId, "guest=");
    expect(await qnabotLookup(sessionId)).to.equal(undefined);
    expect((await store.listSession(sessionId)).openToUnknownAsker).to.equal(false);
    const identityId = newCognitoIdentityId();
    await register(identityId, "first=", `cognito:${identityId}`);
    clock += 1000;
    await register(identityId, "second=", `cognito:${identityId}`);
    expect(await qnabotLookup(identityId)).to.equal("second=");
    expect((await store.listSession(identityId)).openToUnknownAsker).to.equal(true);
  });

  it("with unboundSessionStreaming, answers a QnABot 7.4 hook's GetItem {sessionId} with the session's latest live connection", async () => {
    const { optIn, on } = optedIn();
    const sessionId = unique("s");
    await on(sessionId, "first=");
    clock += 1000;
    await on(sessionId, "second=");
    expect(await qnabotLookup(sessionId)).to.equal("second=");
    await optIn.remove({ sessionId, connectionId: "second=" });
    expect(await qnabotLookup(sessionId)).to.equal("first=");
    await optIn.remove({ sessionId, connectionId: "first=" });
    expect(await qnabotLookup(sessionId)).to.equal(undefined);
  });

  it("lets a second principal claim the same id: the session is contested and plain readers see no connection", async () => {
    const sessionId = unique("lex-web-ui");
    await register(sessionId, "alice=", ALICE);
    await register(sessionId, "bob=", BOB);
    const session = await store.listSession(sessionId);
    expect(session.contested).to.equal(true);
    expect(session.claimants).to.deep.equal([ALICE, BOB]);
    expect(session.connections.map((r) => [r.connectionId, r.principal])).to.deep.equal([
      ["alice=", ALICE],
      ["bob=", BOB],
    ]);
    expect(await qnabotLookup(sessionId)).to.equal(undefined);
  });

  it("keeps a contest after a claimant disconnects, until its claim expires; then the session is uncontested again", async () => {
    const { optIn, on, alice, bob } = optedIn();
    const sessionId = unique("lex-web-ui");
    await on(sessionId, "alice=", alice);
    await on(sessionId, "bob=", bob);
    await optIn.remove({ sessionId, connectionId: "alice=" });
    expect((await optIn.listSession(sessionId)).contested, "Alice may still ask through Lex").to.equal(true);
    clock = START_MS + (TTL_SECONDS + CLAIM_GRACE_SECONDS + 1) * 1000;
    await on(sessionId, "bob-again=", bob);
    const session = await optIn.listSession(sessionId);
    expect(session).to.deep.include({ claimants: [bob], contested: false, openToUnknownAsker: true });
    expect(session.connections.map((r) => r.connectionId)).to.deep.equal(["bob-again="]);
    expect(await qnabotLookup(sessionId)).to.equal("bob-again=");
  });

  it("keeps a claim after its last connection closes (a Lex Web UI page never reconnects but keeps asking)", async () => {
    const sessionId = unique("lex-web-ui");
    await register(sessionId, "alice=", ALICE);
    await store.remove({ sessionId, connectionId: "alice=" });
    clock += TTL_SECONDS * 1000;
    expect(await store.listSession(sessionId)).to.deep.include({ claimants: [ALICE], contested: false, connections: [] });
    await register(sessionId, "bob=", BOB);
    expect((await store.listSession(sessionId)).contested).to.equal(true);
  });

  it("treats connections past their TTL as gone, and finds none by id", async () => {
    const { optIn, on } = optedIn();
    const sessionId = unique("s");
    await on(sessionId, "old=");
    clock += (TTL_SECONDS + 1) * 1000;
    expect((await optIn.listSession(sessionId)).connections).to.deep.equal([]);
    expect(await optIn.find("old=")).to.equal(undefined);
    expect(await qnabotLookup(sessionId), "the derived field is refreshed on the next write only").to.equal("old=");
    await on(sessionId, "new=");
    expect(await qnabotLookup(sessionId)).to.equal("new=");
  });

  it("removes idempotently: a second remove changes nothing and resolves false", async () => {
    const sessionId = unique("s");
    await register(sessionId, "c=");
    expect(await store.remove({ sessionId, connectionId: "c=" })).to.equal(true);
    expect(await store.remove({ sessionId, connectionId: "c=" })).to.equal(false);
    expect(await store.find("c=")).to.equal(undefined);
  });

  it("deletes the session item once no claim and no connection is left", async () => {
    const sessionId = unique("s");
    await register(sessionId, "c=");
    clock += (TTL_SECONDS + CLAIM_GRACE_SECONDS + 1) * 1000;
    await store.remove({ sessionId, connectionId: "c=" });
    const output = await client.send(new GetCommand({ TableName: local.connectionsTable, Key: { sessionId }, ConsistentRead: true }));
    expect(output.Item).to.equal(undefined);
  });

  it("sets the item's DynamoDB TTL to the latest claim's end, past every connection", async () => {
    const sessionId = unique("s");
    await register(sessionId, "c=");
    const output = await client.send(new GetCommand({ TableName: local.connectionsTable, Key: { sessionId }, ConsistentRead: true }));
    expect(output.Item?.ttl).to.equal(START_MS / 1000 + TTL_SECONDS + CLAIM_GRACE_SECONDS);
  });

  it("refuses more than the maximum of connections per session with a retryable busy, and records the refused principal's claim", async () => {
    const sessionId = unique("s");
    for (let i = 0; i < MAX_CONNECTIONS_PER_SESSION; i++) await register(sessionId, `c${i}=`);
    const error = await refusal(register(sessionId, "one-more=", BOB));
    expect(error).to.include({ code: "busy", status: 429, retryable: true });
    expect(await store.find("one-more=")).to.equal(undefined);
    // Issue 19, "session full": whoever filled the session does not keep it to themselves.
    const session = await store.listSession(sessionId);
    expect(session).to.deep.include({ claimants: [ALICE, BOB], contested: true, openToUnknownAsker: false });
    expect(session.connections).to.have.length(MAX_CONNECTIONS_PER_SESSION);
  });

  describe(`with unboundSessionStreaming: at most ${MAX_UNBOUND_CLAIMS_PER_PRINCIPAL} unbound ids per Cognito identity at once`, () => {
    it("refuses the next unbound id with a non-retryable busy and writes no claim; a renewed claim, a bound id and another principal still pass", async () => {
      const { optIn, on, bob } = optedIn();
      const ids = Array.from({ length: MAX_UNBOUND_CLAIMS_PER_PRINCIPAL }, () => unique("lex-web-ui"));
      for (const [i, id] of ids.entries()) await on(id, `held${i}=`);
      const next = unique("lex-web-ui");
      const error = await refusal(on(next, "over="));
      expect(error).to.include({ code: "busy", status: 429, retryable: false });
      expect(error.message).to.include(String(MAX_UNBOUND_CLAIMS_PER_PRINCIPAL));
      expect((await optIn.listSession(next)).claimants, "the refused id is not claimed").to.deep.equal([]);
      await on(ids[0], "another-tab=");
      const identityId = newCognitoIdentityId();
      await optIn.register({ sessionId: identityId, connectionId: "bound=", principal: `cognito:${identityId}`, format: "text" });
      await on(next, "bob=", bob);
      expect((await optIn.listSession(next)).claimants).to.deep.equal([bob]);
    });

    it("does not count an IAM caller's ids (the operator's own roles: a backend, the chat page's signer)", async () => {
      const { on } = optedIn();
      const operator = unique("iam:arn:aws:iam::123456789012:role/backend");
      for (let i = 0; i <= MAX_UNBOUND_CLAIMS_PER_PRINCIPAL; i++) await on(unique("web"), `tab${i}=`, operator);
      const output = await client.send(new GetCommand({ TableName: local.connectionsTable, Key: { sessionId: principalClaimsKey(operator) }, ConsistentRead: true }));
      expect(output.Item).to.equal(undefined);
    });

    it("frees an id when its claim ends", async () => {
      const { on } = optedIn();
      for (let i = 0; i < MAX_UNBOUND_CLAIMS_PER_PRINCIPAL; i++) await on(unique("lex-web-ui"), `held${i}=`);
      await refusal(on(unique("lex-web-ui"), "over="));
      clock += (TTL_SECONDS + CLAIM_GRACE_SECONDS + 1) * 1000;
      await on(unique("lex-web-ui"), "later=");
    });

    it("counts concurrent connects exactly (conditional writes): no more than the maximum get through", async () => {
      const { on } = optedIn();
      const attempts = Array.from({ length: MAX_UNBOUND_CLAIMS_PER_PRINCIPAL + 4 }, (_, i) => on(unique("lex-web-ui"), `burst${i}=`));
      const outcomes = await Promise.allSettled(attempts);
      expect(outcomes.filter((o) => o.status === "fulfilled")).to.have.length(MAX_UNBOUND_CLAIMS_PER_PRINCIPAL);
    });

    it("keeps the count in an item whose key no session id can take", async () => {
      const { on, alice } = optedIn();
      const sessionId = unique("lex-web-ui");
      await on(sessionId, "c=");
      const key = principalClaimsKey(alice);
      expect(key.startsWith(PRINCIPAL_CLAIMS_KEY_PREFIX)).to.equal(true);
      expect(() => validateSessionId(key), "a session id can never be this key").to.throw(ProtocolError);
      const output = await client.send(new GetCommand({ TableName: local.connectionsTable, Key: { sessionId: key }, ConsistentRead: true }));
      expect(output.Item?.sessions).to.deep.equal({ [sessionId]: START_MS / 1000 + TTL_SECONDS + CLAIM_GRACE_SECONDS });
      expect(output.Item?.ttl).to.equal(START_MS / 1000 + TTL_SECONDS + CLAIM_GRACE_SECONDS);
    });
  });

  it("takes the connection back out of the session when its lookup item cannot be written", async () => {
    const failing = wireClient(local.endpoint);
    failing.middlewareStack.add(
      (next) => async (args) => {
        const item = (args.input as { Item?: { sessionId?: unknown } }).Item;
        if (typeof item?.sessionId === "string" && item.sessionId.startsWith(CONNECTION_KEY_PREFIX)) {
          throw Object.assign(new Error("injected lookup PutItem failure"), { name: "InternalServerError" });
        }
        return next(args);
      },
      { step: "initialize", name: "failLookupPut" },
    );
    clients.push(failing);
    const sessionId = unique("s");
    const error = await storeWith({ client: failing })
      .register({ sessionId, connectionId: "c=", principal: ALICE, format: "text" })
      .then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).to.match(/injected lookup PutItem failure/);
    expect((await store.listSession(sessionId)).connections).to.deep.equal([]);
  });

  it("loses no connection when many connect to one session at once (conditional writes, retried)", async () => {
    const sessionId = unique("s");
    const ids = Array.from({ length: 12 }, (_, i) => `tab${i}=`);
    await Promise.all(ids.map((id, i) => register(sessionId, id, i % 2 ? ALICE : BOB)));
    const session = await store.listSession(sessionId);
    expect(session.connections.map((r) => r.connectionId)).to.have.members(ids);
    expect(session.claimants).to.deep.equal([ALICE, BOB]);
    await Promise.all(ids.slice(0, 6).map((id) => store.remove({ sessionId, connectionId: id })));
    expect((await store.listSession(sessionId)).connections.map((r) => r.connectionId)).to.have.members(ids.slice(6));
  });

  it("ignores an item it did not write: unknown fields are never trusted as connections", async () => {
    const sessionId = unique("s");
    await client.send(
      new PutCommand({
        TableName: local.connectionsTable,
        Item: { sessionId, connectionId: "legacy=", ttl: START_MS / 1000 + 60, connections: { "x=": { principal: 7 } } },
      }),
    );
    expect(await store.listSession(sessionId)).to.deep.include({ claimants: [], contested: false, connections: [] });
    await optedIn().on(sessionId, "c=");
    expect(await qnabotLookup(sessionId)).to.equal("c=");
  });
});
