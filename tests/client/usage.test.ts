import { expect } from "chai";
import { footerText, formatUsage, formatUsd } from "../../client/web/usage";

describe("answer footer: tokens and estimated cost (client/web/usage.ts)", () => {
  it("says the tokens in and out, the cached ones when there are any, and the estimated cost when the stack prices tokens", () => {
    expect(formatUsage(undefined)).to.equal("");
    expect(formatUsage({ inputTokens: 812, outputTokens: 96, totalTokens: 908 })).to.equal("812 tokens in · 96 out");
    expect(formatUsage({ inputTokens: 12_345, outputTokens: 96, totalTokens: 13_141, cacheReadInputTokens: 700, cacheWriteInputTokens: 0, estimatedCostUsd: 0.0039 })).to.equal(
      "12,345 tokens in · 96 out · 700 from cache · ~$0.0039",
    );
    expect(formatUsage({ inputTokens: 12, outputTokens: 96, totalTokens: 6212, cacheReadInputTokens: 3004, cacheWriteInputTokens: 3100 })).to.equal(
      "12 tokens in · 96 out · 3,004 from cache · 3,100 to cache",
    );
  });

  it("shows dollars with two significant digits below a dollar, cents above", () => {
    expect([0, 0.00042, 0.0136, 0.1, 1.2, 12.345].map(formatUsd)).to.deep.equal(["$0", "$0.00042", "$0.014", "$0.1", "$1.20", "$12.35"]);
  });

  it("joins the timing figures and the usage, leaving out whichever is empty", () => {
    const usage = { inputTokens: 1, outputTokens: 2, totalTokens: 3 };
    expect(footerText("first token 5 ms", usage)).to.equal("first token 5 ms · 1 tokens in · 2 out");
    expect(footerText("", usage)).to.equal("1 tokens in · 2 out");
    expect(footerText("first token 5 ms", undefined)).to.equal("first token 5 ms");
  });
});
