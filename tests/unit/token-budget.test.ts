import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { expect } from "chai";
import { answer, describeUsage, type EngineDeps } from "../../functions/fulfillment/engine";
import { GenerationError } from "../../functions/fulfillment/errors";
import type { Generator } from "../../functions/fulfillment/generate";
import {
  BUDGET_MESSAGE,
  budgetSubject,
  DynamoTokenBudget,
  estimateCostUsd,
  parseTokenPrices,
  TOKEN_USAGE_KEY_PREFIX,
  tokensSpent,
  usageItemKey,
  utcDay,
  type TokenBudget,
} from "../../functions/fulfillment/token-budget";
import { meterRefusal, meterUsage, USAGE_METRICS, type UsageMetricsSink } from "../../functions/fulfillment/usage-metrics";
import { SESSION_ID_PATTERN, type Usage } from "../../functions/shared/protocol";
import { useLocalDynamo } from "./local-dynamo";
import { ManualClock, quietLogs, recordingOpener } from "./fulfillment-fakes";

const DAY_MS = Date.UTC(2026, 11, 7, 23, 59, 0);
const USAGE: Usage = { inputTokens: 100, outputTokens: 20, totalTokens: 120 };

/** Records emissions as Powertools would publish them: the metrics added, with the dimensions added, since the last publish. */
function recordingMetrics() {
  const published: { dimensions: Record<string, string>; metrics: Record<string, number> }[] = [];
  let pending = { dimensions: {} as Record<string, string>, metrics: {} as Record<string, number> };
  const sink: UsageMetricsSink = {
    addDimension: (name, value) => void (pending.dimensions[name] = value),
    addMetric: (name, _unit, value) => void (pending.metrics[name] = value),
    publishStoredMetrics: () => {
      published.push(pending);
      pending = { dimensions: {}, metrics: {} };
    },
  };
  return { sink, published };
}

function countingGenerator(usage: Usage | undefined = USAGE) {
  const calls = { n: 0 };
  const generator: Generator = {
    streamsItself: false,
    async generate(_request, sink) {
      calls.n++;
      sink.delta("Yes.");
      return { text: "Yes.", stopReason: "end_turn", citations: [], usage };
    },
  };
  return { generator, calls };
}

describe("token budget: keys, prices, spending", () => {
  it("keys usage items with a prefix no session id can have, per subject and UTC day", () => {
    expect(SESSION_ID_PATTERN.test(TOKEN_USAGE_KEY_PREFIX)).to.equal(false);
    expect(usageItemKey("principal:iam:x", utcDay(DAY_MS))).to.equal("#tokens#2026-12-07#principal:iam:x");
    expect(utcDay(DAY_MS + 60_000)).to.equal("2026-12-08");
    expect(budgetSubject({ principal: "cognito:a", sessionId: "s" })).to.equal("principal:cognito:a");
    expect(budgetSubject({ sessionId: "lex-web-ui-0a1b" })).to.equal("session:lex-web-ui-0a1b");
  });

  it("spends cache reads and writes too, and never less than Bedrock's total", () => {
    expect(tokensSpent(USAGE)).to.equal(120);
    expect(tokensSpent({ ...USAGE, cacheReadInputTokens: 1000, cacheWriteInputTokens: 50 })).to.equal(1170);
    expect(tokensSpent({ ...USAGE, totalTokens: 1170, cacheReadInputTokens: 1000, cacheWriteInputTokens: 50 })).to.equal(1170);
  });

  it("parses input,output prices per million tokens and estimates a cost; refuses anything else", () => {
    expect(parseTokenPrices(undefined)).to.equal(undefined);
    expect(parseTokenPrices(" ")).to.equal(undefined);
    const prices = parseTokenPrices("3, 15")!;
    expect(prices).to.deep.equal({ input: 3, output: 15 });
    expect(estimateCostUsd(USAGE, prices)).to.equal(0.0006);
    expect(estimateCostUsd({ ...USAGE, cacheReadInputTokens: 1000 }, prices)).to.equal(0.0036);
    for (const bad of ["3", "3,15,1", "-1,2", "a,b", "3;15"]) expect(() => parseTokenPrices(bad), bad).to.throw(/input,output/);
  });

  it("names the model and the estimated cost in usage", () => {
    expect(describeUsage(USAGE, "llm", { models: { llm: "m1" }, prices: { input: 1, output: 1 } })).to.deep.equal({ ...USAGE, model: "m1", estimatedCostUsd: 0.00012 });
    expect(describeUsage(USAGE, "kb", { models: { llm: "m1" } })).to.deep.equal(USAGE);
  });

  it("emits token metrics with the model as dimension, and budget refusals without it", () => {
    const { sink, published } = recordingMetrics();
    meterUsage({ ...USAGE, cacheReadInputTokens: 7, model: "m1" }, sink);
    meterRefusal(sink);
    expect(published).to.deep.equal([
      {
        dimensions: { model: "m1" },
        metrics: { [USAGE_METRICS.input]: 100, [USAGE_METRICS.output]: 20, [USAGE_METRICS.cacheRead]: 7, [USAGE_METRICS.cacheWrite]: 0 },
      },
      { dimensions: {}, metrics: { [USAGE_METRICS.refused]: 1 } },
    ]);
  });
});

describe("token budget: the engine checks before generating and records after (fakes)", () => {
  quietLogs();
  const ask = { question: "Q?", sessionId: "s-1", principal: "iam:alice", mode: "llm" as const, requestId: "r-1" };
  function deps(budget: TokenBudget, generator: Generator, metrics: UsageMetricsSink): EngineDeps {
    return { generators: { llm: generator }, stallMs: 20_000, clock: new ManualClock(), budget, metrics, models: { llm: "m1" } };
  }

  it("refuses a spent budget without calling the generator, and tells the stream", async () => {
    const { generator, calls } = countingGenerator();
    const { sink, published } = recordingMetrics();
    const spent: TokenBudget = {
      check: async () => {
        throw new GenerationError("budget", BUDGET_MESSAGE, false);
      },
      record: async () => expect.fail("nothing to record"),
    };
    const { opener, streams } = recordingOpener();
    const result = await answer(ask, { ...deps(spent, generator, sink), openStream: opener });
    expect(calls.n).to.equal(0);
    expect(result.error).to.deep.equal({ code: "budget", message: BUDGET_MESSAGE, retryable: false });
    expect(result.answer).to.equal(BUDGET_MESSAGE);
    expect(streams[0].failed).to.deep.equal({ code: "budget", message: BUDGET_MESSAGE, retryable: false });
    expect(published.map((p) => Object.keys(p.metrics))).to.deep.equal([[USAGE_METRICS.refused]]);
  });

  it("records the usage against the asker and lets an ask through when the budget store fails", async () => {
    const { generator, calls } = countingGenerator();
    const { sink } = recordingMetrics();
    const recorded: [string, Usage][] = [];
    const broken: TokenBudget = {
      check: async () => {
        throw Object.assign(new Error("down"), { name: "ProvisionedThroughputExceededException" });
      },
      record: async (subject, usage) => void recorded.push([subject, usage]),
    };
    const result = await answer(ask, deps(broken, generator, sink));
    expect(calls.n).to.equal(1);
    expect(result.usage).to.deep.equal({ ...USAGE, model: "m1" });
    expect(recorded).to.deep.equal([["principal:iam:alice", { ...USAGE, model: "m1" }]]);
  });
});

describe("token budget: DynamoDB tally (over the wire against dynalite)", () => {
  const dynamo = useLocalDynamo();

  it("adds each answer atomically, refuses once the day's budget is spent, and starts afresh the next UTC day", async () => {
    let now = DAY_MS;
    const budget = new DynamoTokenBudget({ tableName: dynamo.local.connectionsTable, tokensPerDay: 300, client: dynamo.client, now: () => now });
    await budget.check("principal:p");
    await Promise.all([budget.record("principal:p", USAGE), budget.record("principal:p", { ...USAGE, cacheWriteInputTokens: 40 })]);
    const item = (await dynamo.client.send(new GetCommand({ TableName: dynamo.local.connectionsTable, Key: { sessionId: usageItemKey("principal:p", "2026-12-07") } }))).Item!;
    expect(item).to.include({ spentTokens: 280, inputTokens: 200, outputTokens: 40, cacheWriteInputTokens: 40, cacheReadInputTokens: 0, answers: 2 });
    expect(item.ttl).to.equal(Math.floor(DAY_MS / 1000) + 2 * 86_400);
    await budget.check("principal:p");
    await budget.check("principal:other");
    await budget.record("principal:p", USAGE);
    const refusal = await budget.check("principal:p").then(() => undefined, (e: unknown) => e);
    expect(refusal).to.be.instanceOf(GenerationError).and.to.include({ code: "budget", retryable: false });
    now += 60_000;
    await budget.check("principal:p");
  });

  it("refuses a budget that is not a positive integer", () => {
    for (const tokensPerDay of [0, -1, 1.5]) {
      expect(() => new DynamoTokenBudget({ tableName: "t", tokensPerDay })).to.throw(RangeError);
    }
  });
});
