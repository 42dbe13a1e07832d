/**
 * Token budgets over the wire (issue 24): the local stack's real handlers, against dynalite and
 * the Bedrock emulator, with a daily budget set as the stack sets it (TOKEN_BUDGET_PER_DAY). An
 * answer's usage is recorded per asker and shown in `end.usage` with its model and estimated
 * cost; a guest over budget is refused on every door before any request reaches Bedrock (the
 * emulator's request log does not grow).
 */
import { expect } from "chai";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { SseParser } from "../../client/sse";
import { localCognitoIdentity } from "../../local/gateway";
import { DEFAULT_LOCAL_MODEL_ID, startLocalStack, type LocalStack } from "../../local/stack";
import { parseStartArgs, USAGE, UsageError } from "../../local/start";
import { BUDGET_MESSAGE, budgetSubject, usageItemKey, utcDay } from "../../functions/fulfillment/token-budget";
import { connect, last, lexV2Event, postAsk, postFunctionUrl, QUIET_ENV, type LexResponse } from "./stack-helpers";

const BUDGET = 40;


describe("npm start: token budget flags", () => {
  it("reads --token-budget-per-day and --token-prices; leaves both off by default; refuses bad values", () => {
    expect(parseStartArgs([])).to.deep.include({ tokenBudgetPerDay: undefined, tokenPrices: undefined });
    expect(parseStartArgs(["--token-budget-per-day", "0"]).tokenBudgetPerDay).to.equal(undefined);
    expect(parseStartArgs(["--token-budget-per-day", "5000", "--token-prices", "0.8,4"])).to.deep.include({ tokenBudgetPerDay: 5000, tokenPrices: { input: 0.8, output: 4 } });
    expect(USAGE).to.include("--token-budget-per-day").and.include("--token-prices");
    expect(() => parseStartArgs(["--token-budget-per-day", "1e3"])).to.throw(UsageError, /^--token-budget-per-day must be a whole number/);
    expect(() => parseStartArgs(["--token-prices", "4"])).to.throw(UsageError, /^--token-prices: token prices must be "input,output"/);
  });
});

describe("local stack: token budgets", () => {
  let stack: LocalStack;
  let table: DynamoDBDocumentClient;
  const guest = localCognitoIdentity({ allow: { connect: true, manageConnections: false } });
  const guestPrincipal = `cognito:${guest.identity.cognitoIdentityId}`;

  const usageItem = async (subject: string) =>
    (await table.send(new GetCommand({ TableName: stack.dynamo.connectionsTable, Key: { sessionId: usageItemKey(subject, utcDay(Date.now())) }, ConsistentRead: true }))).Item;
  const spendAll = (subject: string) =>
    table.send(new PutCommand({ TableName: stack.dynamo.connectionsTable, Item: { sessionId: usageItemKey(subject, utcDay(Date.now())), spentTokens: BUDGET } }));

  before(async () => {
    stack = await startLocalStack({
      credentials: [guest],
      bedrockBehavior: { firstTokenDelayMs: 0, deltasPerSecond: 0, deltas: ["Budgets ", "are ", "kept."] },
      // As `npm start -- --token-budget-per-day 40 --token-prices 3,15` passes them.
      ...parseStartArgs(["--token-budget-per-day", String(BUDGET), "--token-prices", "3,15"]),
      page: false,
      ports: undefined,
      env: QUIET_ENV,
    });
    table = DynamoDBDocumentClient.from(stack.dynamo.client);
  });
  after(() => stack?.close());

  it("records an answer's tokens against its asker and shows them, with model and estimated cost, in end.usage; the next ask is refused once spent", async () => {
    const socket = await connect(stack, "budget-meter", { format: "json", credential: guest });
    try {
      socket.ask("meter-1", "How are budgets kept?");
      const end = last(await socket.answer("meter-1"), "end");
      const usage = end.usage!;
      expect(usage.model).to.equal(DEFAULT_LOCAL_MODEL_ID);
      expect(usage.inputTokens).to.be.greaterThan(0);
      expect(usage.outputTokens).to.equal(3);
      expect(usage.estimatedCostUsd).to.equal(Math.round(usage.inputTokens * 3 + usage.outputTokens * 15) / 1_000_000);
      const item = await usageItem(budgetSubject({ principal: guestPrincipal, sessionId: "budget-meter" }));
      expect(item).to.include({ spentTokens: usage.totalTokens, inputTokens: usage.inputTokens, outputTokens: 3, answers: 1 });
      expect(item!.ttl).to.be.greaterThan(Date.now() / 1000 + 86_400);

      // Ask until the tally reaches the budget: every answer before is served, the first after it refused.
      let asked = 1;
      while (((await usageItem(budgetSubject({ principal: guestPrincipal, sessionId: "x" })))!.spentTokens as number) < BUDGET) {
        asked++;
        socket.ask(`meter-${asked}`, "And again?");
        expect(last(await socket.answer(`meter-${asked}`), "end").stopReason).to.equal("end_turn");
      }
      socket.ask("meter-over", "Once more?");
      expect(last(await socket.answer("meter-over"), "error")).to.include({ code: "budget", message: BUDGET_MESSAGE, retryable: false });
    } finally {
      await socket.close();
    }
  });

  it("refuses a guest over budget on all four doors before any Bedrock call; Lex gets a polite final answer", async () => {
    await spendAll(budgetSubject({ principal: guestPrincipal, sessionId: "any" }));
    const lexSession = "lex-web-ui-b0d9";
    await spendAll(budgetSubject({ sessionId: lexSession }));
    const bedrockCalls = stack.bedrock!.requests.length;

    const socket = await connect(stack, "budget-doors", { format: "json", credential: guest });
    try {
      socket.ask("ws-over", "Over budget?");
      expect(last(await socket.answer("ws-over"), "error")).to.include({ code: "budget", message: BUDGET_MESSAGE });
    } finally {
      await socket.close();
    }

    const http = await postAsk(stack, { question: "Over budget?", sessionId: "budget-doors", requestId: "http-over" }, guest);
    expect(http.status).to.equal(429);
    expect(http.body.error).to.deep.equal({ code: "budget", message: BUDGET_MESSAGE, retryable: false });

    const sse = await postFunctionUrl(stack, { question: "Over budget?", sessionId: "budget-doors", requestId: "sse-over" }, "text/event-stream", guest);
    const events = new SseParser().push(sse.body);
    expect(events.at(-1)?.event).to.equal("error");
    expect(JSON.parse(events.at(-1)!.data)).to.include({ code: "budget", message: BUDGET_MESSAGE });
    const json = await postFunctionUrl(stack, { question: "Over budget?", sessionId: "budget-doors" }, "application/json", guest);
    expect(json.status).to.equal(429);
    expect((JSON.parse(json.body) as { error: { code: string } }).error.code).to.equal("budget");

    const lex = (await stack.invokeFulfillment(lexV2Event({ sessionId: lexSession, question: "Over budget?" }))) as LexResponse;
    expect(lex.sessionState.dialogAction.type).to.equal("Close");
    expect(lex.messages).to.deep.equal([{ contentType: "PlainText", content: BUDGET_MESSAGE }]);

    expect(stack.bedrock!.requests.length, "no request reached Bedrock").to.equal(bedrockCalls);
  });

  it("keeps other askers' budgets apart: a second principal still gets its answer", async () => {
    const response = await postAsk(stack, { question: "Still open for me?", sessionId: "budget-other", requestId: "other-1" });
    expect(response.status).to.equal(200);
    expect(response.body.usage).to.include({ model: DEFAULT_LOCAL_MODEL_ID });
  });
});
