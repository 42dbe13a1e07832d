import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { expect } from "chai";
import { DynamoConnectionsStore } from "../../functions/shared/dynamo-connections";
import { ProtocolError } from "../../functions/shared/protocol";
import { SESSION_OWNER_KEY, type SessionOwnerRow } from "../../functions/shared/table";
import { LOCAL_DYNAMO_CREDENTIALS, startLocalDynamo, type LocalDynamo } from "../../local/dynamo";

const ALICE = "iam:arn:aws:iam::123456789012:user/alice";
const BOB = "iam:arn:aws:iam::123456789012:user/bob";
const TTL_SECONDS = 7200;
const START_MS = 1_750_000_000_000;

async function expectForbidden(attempt: Promise<unknown>): Promise<void> {
  const error = await attempt.then(() => undefined, (e: unknown) => e);
  expect(error, "expected a refusal").to.be.instanceOf(ProtocolError);
  expect((error as ProtocolError).code).to.equal("forbidden");
  expect((error as ProtocolError).status).to.equal(403);
}

let sequence = 0;
const unique = (prefix: string) => `${prefix}-${++sequence}`;

/**
 * A document client over the wire to dynalite; `failing` commands throw before they are
 * sent, and `sent` collects the name of every command.
 */
function wireClient(endpoint: string, options: { failing?: string[]; sent?: string[] } = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: LOCAL_DYNAMO_CREDENTIALS, maxAttempts: 1 });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      options.sent?.push(context.commandName ?? "");
      if (options.failing?.includes(context.commandName ?? "")) {
        throw Object.assign(new Error(`injected ${context.commandName} failure`), { name: "InternalServerError" });
      }
      return next(args);
    },
    { step: "initialize", name: "injectFailure" },
  );
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

describe("DynamoConnectionsStore (over the wire against dynalite)", () => {
  let local: LocalDynamo;
  let client: DynamoDBDocumentClient;
  let clock: number;
  let store: DynamoConnectionsStore;
  const clients: DynamoDBDocumentClient[] = [];

  const storeWith = (options: { client?: DynamoDBDocumentClient; pageSize?: number } = {}) =>
    new DynamoConnectionsStore({
      tableName: local.connectionsTable,
      ttlSeconds: TTL_SECONDS,
      client: options.client ?? client,
      now: () => clock,
      pageSize: options.pageSize,
    });

  async function ownerRow(sessionId: string): Promise<SessionOwnerRow | undefined> {
    const output = await client.send(
      new GetCommand({ TableName: local.connectionsTable, Key: { sessionId, connectionId: SESSION_OWNER_KEY }, ConsistentRead: true }),
    );
    return output.Item as SessionOwnerRow | undefined;
  }

  async function rowExists(sessionId: string, connectionId: string): Promise<boolean> {
    const output = await client.send(
      new GetCommand({ TableName: local.connectionsTable, Key: { sessionId, connectionId }, ConsistentRead: true }),
    );
    return output.Item !== undefined;
  }

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

  it("registers a connection, binds the session and finds the row by connection id", async () => {
    const sessionId = unique("s");
    const row = await store.register({ sessionId, connectionId: "c1=", principal: ALICE, format: "json" });
    expect(row).to.deep.equal({
      sessionId,
      connectionId: "c1=",
      principal: ALICE,
      format: "json",
      connectedAt: START_MS,
      ttl: START_MS / 1000 + TTL_SECONDS,
    });
    expect(await store.find("c1=")).to.deep.equal(row);
    expect(await ownerRow(sessionId)).to.deep.equal({
      sessionId,
      connectionId: SESSION_OWNER_KEY,
      principal: ALICE,
      connections: 1,
      ttl: START_MS / 1000 + TTL_SECONDS,
    });
    expect(await store.listSession(sessionId)).to.deep.equal({ owner: ALICE, connections: [row] });
  });

  it("refuses a second principal and writes nothing for it", async () => {
    const sessionId = unique("s");
    await store.register({ sessionId, connectionId: unique("a"), principal: ALICE, format: "text" });
    const bobConnection = unique("b");
    await expectForbidden(store.register({ sessionId, connectionId: bobConnection, principal: BOB, format: "text" }));
    expect(await rowExists(sessionId, bobConnection)).to.equal(false);
    expect(await ownerRow(sessionId)).to.include({ principal: ALICE, connections: 1 });
  });

  it("keeps several connections per session and the owner row until the last one goes", async () => {
    const sessionId = unique("s");
    const ids = [unique("c"), unique("c"), unique("c")];
    for (const connectionId of ids) await store.register({ sessionId, connectionId, principal: ALICE, format: "text" });
    const listed = await store.listSession(sessionId);
    expect(listed.owner).to.equal(ALICE);
    expect(listed.connections.map((row) => row.connectionId).sort()).to.deep.equal([...ids].sort());
    expect((await ownerRow(sessionId))?.connections).to.equal(3);

    expect(await store.remove({ sessionId, connectionId: ids[0] })).to.equal(true);
    expect((await ownerRow(sessionId))?.connections).to.equal(2);
    expect(await store.remove({ sessionId, connectionId: ids[1] })).to.equal(true);
    expect(await ownerRow(sessionId)).to.include({ principal: ALICE, connections: 1 });
    expect(await store.remove({ sessionId, connectionId: ids[2] })).to.equal(true);
    expect(await ownerRow(sessionId)).to.equal(undefined);
    expect(await store.listSession(sessionId)).to.deep.equal({ owner: undefined, connections: [] });

    // Unbound again: the next caller may claim it.
    await store.register({ sessionId, connectionId: unique("b"), principal: BOB, format: "text" });
    expect((await store.listSession(sessionId)).owner).to.equal(BOB);
  });

  it("removes idempotently: a second remove changes nothing and resolves false", async () => {
    const sessionId = unique("s");
    const [first, second] = [unique("c"), unique("c")];
    await store.register({ sessionId, connectionId: first, principal: ALICE, format: "text" });
    await store.register({ sessionId, connectionId: second, principal: ALICE, format: "text" });
    expect(await store.remove({ sessionId, connectionId: first })).to.equal(true);
    expect(await store.remove({ sessionId, connectionId: first })).to.equal(false);
    expect((await ownerRow(sessionId))?.connections).to.equal(1);
    expect(await store.find(first)).to.equal(undefined);
    expect(await store.find(second)).to.not.equal(undefined);
  });

  it("answers unknown connections and never treats the owner key as one", async () => {
    const sessionId = unique("s");
    await store.register({ sessionId, connectionId: unique("c"), principal: ALICE, format: "text" });
    expect(await store.find("unknown=")).to.equal(undefined);
    expect(await store.remove({ sessionId: unique("s"), connectionId: "unknown=" })).to.equal(false);
    expect(await store.find(SESSION_OWNER_KEY)).to.equal(undefined);
    expect(await store.remove({ sessionId, connectionId: SESSION_OWNER_KEY })).to.equal(false);
    expect(await ownerRow(sessionId)).to.include({ principal: ALICE, connections: 1 });
  });

  it("does not recreate an owner row when a row outlives it", async () => {
    const sessionId = unique("s");
    const connectionId = unique("c");
    await client.send(
      new PutCommand({
        TableName: local.connectionsTable,
        Item: { sessionId, connectionId, principal: ALICE, format: "text", connectedAt: START_MS, ttl: START_MS / 1000 + TTL_SECONDS },
      }),
    );
    expect(await store.remove({ sessionId, connectionId })).to.equal(true);
    expect(await ownerRow(sessionId)).to.equal(undefined);
  });

  it("takes TTLs from the clock and refreshes the owner row's on each connect", async () => {
    const sessionId = unique("s");
    const first = await store.register({ sessionId, connectionId: unique("c"), principal: ALICE, format: "text" });
    clock = START_MS + 600_500;
    const second = await store.register({ sessionId, connectionId: unique("c"), principal: ALICE, format: "text" });
    expect(first.ttl).to.equal(START_MS / 1000 + TTL_SECONDS);
    expect(second.ttl).to.equal(START_MS / 1000 + 600 + TTL_SECONDS);
    expect(second.connectedAt).to.equal(START_MS + 600_500);
    expect((await ownerRow(sessionId))?.ttl).to.equal(second.ttl);
  });

  it("lets another principal take over a session whose owner row expired, without inheriting its rows", async () => {
    const sessionId = unique("s");
    const alice = await store.register({ sessionId, connectionId: unique("a"), principal: ALICE, format: "text" });
    clock = START_MS + (TTL_SECONDS - 1) * 1000;
    await expectForbidden(store.register({ sessionId, connectionId: unique("b"), principal: BOB, format: "text" }));
    clock = START_MS + (TTL_SECONDS + 1) * 1000;
    const bob = await store.register({ sessionId, connectionId: unique("b"), principal: BOB, format: "text" });
    expect(await store.listSession(sessionId)).to.deep.equal({ owner: BOB, connections: [bob] });
    expect(await ownerRow(sessionId)).to.include({ principal: BOB, connections: 1 });

    // The earlier owner's left-over row going must not unbind the session under its new owner.
    expect(await store.remove({ sessionId, connectionId: alice.connectionId })).to.equal(true);
    expect(await ownerRow(sessionId)).to.include({ principal: BOB, connections: 1 });
    expect(await store.remove({ sessionId, connectionId: bob.connectionId })).to.equal(true);
    expect(await ownerRow(sessionId)).to.equal(undefined);
  });

  it("lists only live connections of the owner", async () => {
    const sessionId = unique("s");
    const alice = await store.register({ sessionId, connectionId: unique("a"), principal: ALICE, format: "text" });
    const put = (connectionId: string, principal: string, ttl: number) =>
      client.send(
        new PutCommand({
          TableName: local.connectionsTable,
          Item: { sessionId, connectionId, principal, format: "text", connectedAt: START_MS, ttl },
        }),
      );
    await put(unique("foreign"), BOB, alice.ttl);
    await put(unique("expired"), ALICE, START_MS / 1000 - 1);
    expect(await store.listSession(sessionId)).to.deep.equal({ owner: ALICE, connections: [alice] });
  });

  it("follows Query pages", async () => {
    const sessionId = unique("s");
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const connectionId = `c${i}=`;
      ids.push(connectionId);
      await store.register({ sessionId, connectionId, principal: ALICE, format: "text" });
    }
    const sent: string[] = [];
    const paged = wireClient(local.endpoint, { sent });
    clients.push(paged);
    const listed = await storeWith({ client: paged, pageSize: 2 }).listSession(sessionId);
    // 8 items, 2 a page: a full last page still carries a LastEvaluatedKey, hence 4 or 5 requests.
    expect(sent.length).to.be.at.least(4);
    expect(new Set(sent)).to.deep.equal(new Set(["QueryCommand"]));
    expect(listed.owner).to.equal(ALICE);
    expect(listed.connections.map((row) => row.connectionId)).to.deep.equal(ids);
  });

  it("undoes the owner count when the connection row cannot be written", async () => {
    const failingClient = wireClient(local.endpoint, { failing: ["PutItemCommand"] });
    clients.push(failingClient);
    const failing = storeWith({ client: failingClient });
    const sessionId = unique("s");
    let error = await failing
      .register({ sessionId, connectionId: unique("c"), principal: ALICE, format: "text" })
      .then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).to.equal("injected PutItemCommand failure");
    expect(await ownerRow(sessionId)).to.equal(undefined);

    const kept = await store.register({ sessionId, connectionId: unique("c"), principal: ALICE, format: "text" });
    error = await failing
      .register({ sessionId, connectionId: unique("c"), principal: ALICE, format: "text" })
      .then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(Error);
    expect(await ownerRow(sessionId)).to.include({ principal: ALICE, connections: 1 });
    expect(await store.listSession(sessionId)).to.deep.equal({ owner: ALICE, connections: [kept] });
  });

  it("binds a session to exactly one of two principals connecting at once", async () => {
    const sessionId = unique("s");
    const attempts = [ALICE, BOB, ALICE, BOB, ALICE, BOB].map((principal) =>
      store.register({ sessionId, connectionId: unique("c"), principal, format: "text" }).then(
        () => ({ principal, ok: true }),
        (error: unknown) => {
          if (!(error instanceof ProtocolError)) throw error;
          return { principal, ok: false };
        },
      ),
    );
    const results = await Promise.all(attempts);
    const winners = new Set(results.filter((r) => r.ok).map((r) => r.principal));
    expect(winners.size).to.equal(1);
    const [owner] = [...winners];
    expect(results.filter((r) => r.principal === owner).every((r) => r.ok)).to.equal(true);
    expect(results.filter((r) => r.principal !== owner).every((r) => !r.ok)).to.equal(true);
    const listed = await store.listSession(sessionId);
    expect(listed.owner).to.equal(owner);
    expect(listed.connections).to.have.length(3);
    expect((await ownerRow(sessionId))?.connections).to.equal(3);
  });
});
