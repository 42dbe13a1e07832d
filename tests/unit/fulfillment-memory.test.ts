import { expect } from "chai";
import { GetCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { startLocalDynamo, type LocalDynamo } from "../../local/dynamo";
import {
  DEFAULT_MEMORY_LIMITS,
  DynamoMemory,
  appendTurn,
  truncateUtf8,
  type MemoryLimits,
} from "../../functions/fulfillment/memory";

const limits: MemoryLimits = { turns: 3, ...DEFAULT_MEMORY_LIMITS };

describe("fulfillment: conversation memory", () => {
  describe("bounds (pure)", () => {
    it("truncates to a byte bound without splitting a multi-byte character", () => {
      expect(truncateUtf8("abc", 10)).to.equal("abc");
      expect(truncateUtf8("héllo", 2)).to.equal("h");
      expect(truncateUtf8("héllo", 3)).to.equal("hé");
      expect(truncateUtf8("👋🏽👋🏽", 7)).to.equal("👋");
      expect(truncateUtf8("日本語", 8)).to.equal("日本");
    });

    it("keeps the last N turns, oldest dropped first", () => {
      let state = { turns: [] as { question: string; answer: string }[] };
      for (let i = 1; i <= 5; i++) state = appendTurn(state, { question: `q${i}`, answer: `a${i}` }, limits);
      expect(state.turns.map((t) => t.question)).to.deep.equal(["q3", "q4", "q5"]);
    });

    it("truncates each text and drops old turns until the item fits its byte bound", () => {
      const big = "語".repeat(10_000);
      const tight: MemoryLimits = { turns: 10, maxTextBytes: 3_000, maxItemBytes: 10_000 };
      let state = { turns: [] as { question: string; answer: string }[] };
      for (let i = 0; i < 6; i++) state = appendTurn(state, { question: `q${i}`, answer: big }, tight);
      for (const turn of state.turns) expect(Buffer.byteLength(turn.answer)).to.be.at.most(3_000);
      expect(Buffer.byteLength(JSON.stringify(state))).to.be.at.most(10_000);
      expect(state.turns.at(-1)?.question).to.equal("q5");
      expect(state.turns.length).to.be.lessThan(6);
    });

    it("keeps the knowledge-base session id, replaced by a newer one", () => {
      const first = appendTurn({ turns: [] }, { question: "q", answer: "a" }, limits, "kb-1");
      expect(appendTurn(first, { question: "q", answer: "a" }, limits).kbSessionId).to.equal("kb-1");
      expect(appendTurn(first, { question: "q", answer: "a" }, limits, "kb-2").kbSessionId).to.equal("kb-2");
    });
  });

  describe("DynamoDB (over the wire, dynalite)", () => {
    let dynamo: LocalDynamo;
    let client: DynamoDBDocumentClient;
    let now = 1_700_000_000_000;
    const memory = () => new DynamoMemory({ tableName: dynamo.memoryTable, ttlSeconds: 3600, client, now: () => now });

    before(async () => {
      dynamo = await startLocalDynamo();
      client = DynamoDBDocumentClient.from(dynamo.client);
    });
    after(async () => {
      await dynamo.close();
    });

    it("round-trips a session's turns and sets the TTL from the last write", async () => {
      await memory().append("s-roundtrip", "iam:alice", { question: "Who?", answer: "Me 👋" }, limits, "kb-7");
      const expected = appendTurn({ turns: [] }, { question: "Who?", answer: "Me 👋" }, limits, "kb-7");
      expect(await memory().load("s-roundtrip", "iam:alice")).to.deep.equal(expected);
      const { Item } = await client.send(new GetCommand({ TableName: dynamo.memoryTable, Key: { sessionId: "s-roundtrip" } }));
      expect(Item).to.include({ principal: "iam:alice", ttl: Math.floor(now / 1000) + 3600 });
    });

    it("an unknown session has no memory", async () => {
      expect(await memory().load("s-none", "iam:alice")).to.deep.equal({ turns: [] });
    });

    it("another principal on the same sessionId neither reads nor overwrites the memory", async () => {
      await memory().append("s-shared", "cognito:us-east-1:alice", { question: "secret question", answer: "secret answer" }, limits);
      const mine = await memory().load("s-shared", "cognito:us-east-1:alice");
      expect(await memory().load("s-shared", "iam:mallory")).to.deep.equal({ turns: [] });
      await memory().append("s-shared", "iam:mallory", { question: "x", answer: "y" }, limits);
      expect(await memory().load("s-shared", "cognito:us-east-1:alice")).to.deep.equal(mine);
      const { Item } = await client.send(new GetCommand({ TableName: dynamo.memoryTable, Key: { sessionId: "s-shared" } }));
      expect(Item?.principal).to.equal("cognito:us-east-1:alice");
    });

    it("an expired item reads as empty and may be taken over", async () => {
      await memory().append("s-expired", "iam:alice", { question: "q", answer: "a" }, limits);
      now += 3601 * 1000;
      expect(await memory().load("s-expired", "iam:alice")).to.deep.equal({ turns: [] });
      await memory().append("s-expired", "iam:bob", { question: "new", answer: "owner" }, limits);
      expect(await memory().load("s-expired", "iam:bob")).to.deep.equal({ turns: [{ question: "new", answer: "owner" }] });
    });

    // Issue 19: a Lex memory ends with the claim of the principal it belongs to (`until`), never after.
    it("ends an item at `until` when that comes before its own TTL, and reads it as empty after", async () => {
      const until = Math.floor(now / 1000) + 60;
      await memory().append("s-claimed", "lex:cognito:holder", { question: "q", answer: "a" }, limits, undefined, until);
      const { Item } = await client.send(new GetCommand({ TableName: dynamo.memoryTable, Key: { sessionId: "s-claimed" } }));
      expect(Item?.ttl).to.equal(until);
      now += 61 * 1000;
      expect(await memory().load("s-claimed", "lex:cognito:holder")).to.deep.equal({ turns: [] });
      await memory().append("s-late", "iam:alice", { question: "q", answer: "a" }, limits, undefined, Math.floor(now / 1000) + 999_999);
      const late = await client.send(new GetCommand({ TableName: dynamo.memoryTable, Key: { sessionId: "s-late" } }));
      expect(late.Item?.ttl, "its own TTL when that comes first").to.equal(Math.floor(now / 1000) + 3600);
    });

    it("stores a long conversation within DynamoDB's item limit", async () => {
      for (let i = 0; i < 8; i++) {
        await memory().append("s-big", "iam:alice", { question: "?".repeat(4000), answer: "🙂".repeat(50_000) }, { ...limits, turns: 8 });
      }
      const loaded = await memory().load("s-big", "iam:alice");
      expect(loaded.turns.length).to.be.greaterThan(0);
      expect(Buffer.byteLength(JSON.stringify(loaded))).to.be.at.most(DEFAULT_MEMORY_LIMITS.maxItemBytes);
    });

    // The attack run of issue 11: 5 concurrent asks in one session left 1 turn (read-modify-write without a condition).
    for (const concurrent of [5, 20]) {
      it(`keeps every turn of ${concurrent} concurrent asks in one session`, async () => {
        const sessionId = `s-race-${concurrent}`;
        const wide = { ...limits, turns: 50 };
        await Promise.all(
          Array.from({ length: concurrent }, (_, i) => memory().append(sessionId, "iam:alice", { question: `q${i}`, answer: `a${i}` }, wide)),
        );
        const loaded = await memory().load(sessionId, "iam:alice");
        expect(loaded.turns.map((t) => t.question).sort()).to.deep.equal(Array.from({ length: concurrent }, (_, i) => `q${i}`).sort());
      });
    }
  });
});
