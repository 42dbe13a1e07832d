/**
 * Model reasoning's settings (issue 24, item 5), from Pulumi config to the function's
 * environment: `reasoning` / `reasoningBudgetTokens` checked in components/config.ts, the
 * QnaBot args checked in components/qna.ts, REASONING_BUDGET_TOKENS read back by the function
 * exactly as set.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { ENV } from "../../functions/shared/env";
import { loadConfig } from "../../functions/fulfillment/config";
import { DEFAULT_REASONING_BUDGET_TOKENS } from "../../functions/fulfillment/reasoning";
import { parseStackConfig, type ConfigKey } from "../../components/config";
import { createStack } from "../../components/stack";
import { QnaBot } from "../../components/qna";
import { StreamingComponent } from "../../components/streaming";
import { installMocks, registrationsSettled } from "./mocks";

function parse(values: Partial<Record<ConfigKey, string>>) {
  return parseStackConfig((key) => values[key]);
}

function parseError(values: Partial<Record<ConfigKey, string>>): string {
  try {
    parse(values);
  } catch (error) {
    expect(error).to.be.instanceOf(pulumi.RunError);
    return (error as Error).message;
  }
  throw new Error("expected the configuration to be refused");
}

describe("reasoning settings (components/config.ts, components/qna.ts)", function () {
  this.timeout(60_000);

  it("is off by default; reads reasoning and its budget; refuses a budget out of range, without reasoning, or reasoning without streaming or with a custom LLM", () => {
    expect(parse({})).to.deep.include({ reasoning: false, reasoningBudgetTokens: DEFAULT_REASONING_BUDGET_TOKENS });
    expect(parse({ enableStreaming: "true", reasoning: "true", reasoningBudgetTokens: "8000" })).to.deep.include({ reasoning: true, reasoningBudgetTokens: 8000 });
    expect(parseError({ enableStreaming: "true", reasoning: "true", reasoningBudgetTokens: "512" })).to.include(
      'qnabot-streaming:reasoningBudgetTokens must be an integer from 1024 to 24000; got "512"',
    );
    expect(parseError({ reasoningBudgetTokens: "4096" })).to.include("qnabot-streaming:reasoningBudgetTokens only applies with reasoning");
    expect(parseError({ reasoning: "true" })).to.include("qnabot-streaming:reasoning needs enableStreaming");
    expect(parseError({ enableStreaming: "true", reasoning: "true", llmLambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:my-llm" })).to.include(
      "qnabot-streaming:reasoning applies to Bedrock answers only",
    );
  });

  it("sets REASONING_BUDGET_TOKENS on both answering functions, which read it back as set; none without reasoning", async () => {
    const recorder = await installMocks();
    createStack(parse({ enableStreaming: "true", reasoning: "true", reasoningBudgetTokens: "4096", llmModelId: "us.anthropic.claude-sonnet-4-20250514-v1:0" }), {});
    await registrationsSettled();
    for (const name of ["qnabot-fulfillment", "qnabot-streaming-http"]) {
      const variables = recorder.named(name).inputs.environment.variables as Record<string, string>;
      expect(variables[ENV.reasoningBudgetTokens], name).to.equal("4096");
      expect(loadConfig(variables).llm.reasoning).to.deep.equal({ budgetTokens: 4096 });
    }
    const plain = await installMocks();
    createStack(parse({ enableStreaming: "true" }), {});
    await registrationsSettled();
    expect(plain.named("qnabot-fulfillment").inputs.environment.variables).to.not.have.property(ENV.reasoningBudgetTokens);
  });

  it("QnaBot refuses reasoning it cannot honour, before registering anything", async () => {
    const recorder = await installMocks();
    const streaming = new StreamingComponent("ws");
    await registrationsSettled();
    const before = recorder.resources.length;
    const cases: [() => unknown, string | RegExp][] = [
      [() => new QnaBot("a", { reasoning: true }), "reasoning needs streaming"],
      [() => new QnaBot("b", { streaming, reasoning: true, llmLambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:f" }), /reasoning applies to Bedrock answers only/],
      [() => new QnaBot("c", { streaming, reasoning: true, reasoningBudgetTokens: 100_000 }), /reasoningBudgetTokens: the reasoning budget must be a whole number of tokens from 1024 to 24000/],
      [() => new QnaBot("d", { reasoningBudgetTokens: 4096 }), "reasoningBudgetTokens only applies with reasoning: true"],
    ];
    for (const [make, message] of cases) expect(make).to.throw(message);
    await registrationsSettled();
    expect(recorder.resources.length).to.equal(before);
  });
});
