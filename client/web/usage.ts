/**
 * What an answer's footer says of its cost: the tokens Bedrock reported (`end.usage`) and, when
 * the stack has token prices, the estimated cost. Pure, for the page and the CLI.
 */
import type { Usage } from "../../functions/shared/protocol";

const count = (n: number): string => n.toLocaleString("en-US");

/** Dollars with two significant digits past the zeros: `$0.00042`, `$0.013`, `$1.20`. */
export function formatUsd(usd: number): string {
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  if (usd === 0) return "$0";
  return `$${usd.toPrecision(2).replace(/(\.\d*?[1-9])0+$/, "$1")}`;
}

/** `12 tokens in · 96 out · 3,004 from cache · 3,100 to cache · ~$0.0039`; "" without usage. */
export function formatUsage(usage: Usage | undefined): string {
  if (!usage) return "";
  const parts = [`${count(usage.inputTokens)} tokens in`, `${count(usage.outputTokens)} out`];
  // Apart: a read is billed below the input price, a write (on some models) above it.
  if ((usage.cacheReadInputTokens ?? 0) > 0) parts.push(`${count(usage.cacheReadInputTokens!)} from cache`);
  if ((usage.cacheWriteInputTokens ?? 0) > 0) parts.push(`${count(usage.cacheWriteInputTokens!)} to cache`);
  if (usage.estimatedCostUsd !== undefined) parts.push(`~${formatUsd(usage.estimatedCostUsd)}`);
  return parts.join(" · ");
}

/** An answer's footer: its timing figures, then its usage once it is done. */
export function footerText(stats: string, usage: Usage | undefined): string {
  return [stats, formatUsage(usage)].filter((part) => part !== "").join(" · ");
}
