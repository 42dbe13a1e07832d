import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { expect } from "chai";
import { DynamoConnectionsStore } from "../../functions/shared/dynamo-connections";
import { ProtocolError } from "../../functions/shared/protocol";
import { CLAIM_GRACE_SECONDS, MAX_CONNECTIONS_PER_SESSION } from "../../functions/shared/session-state";
import { CONNECTION_KEY_PREFIX } from "../../functions/shared/table";
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

  const storeWith = (options: { client?: DynamoDBDocumentClient } = {}) =>
    new DynamoConnectionsStore({ tableName: local.connectionsTable, ttlSeconds: TTL_SECONDS, client: options.client ?? client, now: () => clock });

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
    expect(await store.listSession(sessionId)).to.deep.equal({ claimants: [ALICE], contested: false, connections: [row] });
  });

  it("answers a QnABot 7.4 hook's GetItem {sessionId} with the session's latest live connection", async () => {
    const sessionId = unique("s");
    await register(sessionId, "first=");
    clock += 1000;
    await register(sessionId, "second=");
    expect(await qnabotLookup(sessionId)).to.equal("second=");
    await store.remove({ sessionId, connectionId: "second=" });
    expect(await qnabotLookup(sessionId)).to.equal("first=");
    await store.remove({ sessionId, connectionId: "first=" });
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
    const sessionId = unique("lex-web-ui");
    await register(sessionId, "alice=", ALICE);
    await register(sessionId, "bob=", BOB);
    await store.remove({ sessionId, connectionId: "alice=" });
    expect((await store.listSession(sessionId)).contested, "Alice may still ask through Lex").to.equal(true);
    clock = START_MS + (TTL_SECONDS + CLAIM_GRACE_SECONDS + 1) * 1000;
    await register(sessionId, "bob-again=", BOB);
    const session = await store.listSession(sessionId);
    expect(session).to.deep.include({ claimants: [BOB], contested: false });
    expect(session.connections.map((r) => r.connectionId)).to.deep.equal(["bob-again="]);
    expect(await qnabotLookup(sessionId)).to.equal("bob-again=");
  });

  it("keeps a claim after its last connection closes (a Lex Web UI page never reconnects but keeps asking)", async () => {
    const sessionId = unique("lex-web-ui");
    await register(sessionId, "alice=", ALICE);
    await store.remove({ sessionId, connectionId: "alice=" });
    clock += TTL_SECONDS * 1000;
    expect(await store.listSession(sessionId)).to.deep.equal({ claimants: [ALICE], contested: false, connections: [] });
    await register(sessionId, "bob=", BOB);
    expect((await store.listSession(sessionId)).contested).to.equal(true);
  });

  it("treats connections past their TTL as gone, and finds none by id", async () => {
    const sessionId = unique("s");
    await register(sessionId, "old=");
    clock += (TTL_SECONDS + 1) * 1000;
    expect((await store.listSession(sessionId)).connections).to.deep.equal([]);
    expect(await store.find("old=")).to.equal(undefined);
    expect(await qnabotLookup(sessionId), "the derived field is refreshed on the next write only").to.equal("old=");
    await register(sessionId, "new=");
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

  it("refuses more than the maximum of connections per session with a retryable busy", async () => {
    const sessionId = unique("s");
    for (let i = 0; i < MAX_CONNECTIONS_PER_SESSION; i++) await register(sessionId, `c${i}=`);
    const error = await refusal(register(sessionId, "one-more="));
    expect(error).to.include({ code: "busy", status: 429, retryable: true });
    expect(await store.find("one-more=")).to.equal(undefined);
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
    expect(await store.listSession(sessionId)).to.deep.equal({ claimants: [], contested: false, connections: [] });
    await register(sessionId, "c=");
    expect(await qnabotLookup(sessionId)).to.equal("c=");
  });
});
