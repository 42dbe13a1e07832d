/**
 * Model reasoning (Claude's extended thinking) through ConverseStream: the request fields that
 * turn it on, and the limits Bedrock puts on them. Pure.
 *
 * Bedrock streams the reasoning as `contentBlockDelta.delta.reasoningContent.text` (with a
 * `signature` delta the answer has no use for: it only matters when a reasoning block is sent
 * back, which memory never does):
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ReasoningContentBlockDelta.html
 * Claude takes it in `additionalModelRequestFields` as `thinking: {type: "enabled",
 * budget_tokens}`; thinking "isn't compatible with temperature, top_p, or top_k modifications",
 * and the budget counts within max_tokens:
 * https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html
 */
import type { ConverseStreamCommandInput } from "@aws-sdk/client-bedrock-runtime";
import type { InferenceSettings } from "./config";

/** Claude's smallest thinking budget. */
export const MIN_REASONING_BUDGET_TOKENS = 1024;
/** Kept with the answer's own tokens below the output limit of every Claude model that reasons (Opus 4: 32,000). */
export const MAX_REASONING_BUDGET_TOKENS = 24_000;
export const DEFAULT_REASONING_BUDGET_TOKENS = 2048;
/** The answer's own tokens on top of the thinking budget when the stack sets no maxTokens. */
export const DEFAULT_ANSWER_TOKENS_WITH_REASONING = 4096;

export interface ReasoningSettings {
  /** Most tokens the model may think with before it answers. */
  readonly budgetTokens: number;
}

/** Throws on a budget Bedrock would refuse, naming the rule. */
export function checkReasoningBudget(budgetTokens: number): number {
  if (!Number.isInteger(budgetTokens) || budgetTokens < MIN_REASONING_BUDGET_TOKENS || budgetTokens > MAX_REASONING_BUDGET_TOKENS) {
    throw new RangeError(
      `the reasoning budget must be a whole number of tokens from ${MIN_REASONING_BUDGET_TOKENS} to ${MAX_REASONING_BUDGET_TOKENS}, not ${budgetTokens}`,
    );
  }
  return budgetTokens;
}

/**
 * A ConverseStream request with reasoning on: the thinking budget added to the answer's
 * maxTokens (so the answer keeps its length), temperature and topP left out.
 */
export function withReasoning(input: ConverseStreamCommandInput, inference: InferenceSettings, settings: ReasoningSettings): ConverseStreamCommandInput {
  const answerTokens = inference.maxTokens ?? DEFAULT_ANSWER_TOKENS_WITH_REASONING;
  return {
    ...input,
    inferenceConfig: { maxTokens: settings.budgetTokens + answerTokens },
    additionalModelRequestFields: { thinking: { type: "enabled", budget_tokens: settings.budgetTokens } },
  };
}
