/**
 * PROMPT_CACHING, BEDROCK_LATENCY and BEDROCK_SERVICE_TIER, read and checked at cold start so a
 * misconfigured stack fails with the variable named instead of on every answer.
 */
import { ENV } from "../shared/env";
import {
  BEDROCK_LATENCIES,
  BEDROCK_SERVICE_TIERS,
  DEFAULT_PROMPT_CACHING,
  PROMPT_CACHING_MODES,
  parseChoice,
  type ModelTierSettings,
} from "./prompt-caching";

export type { ModelTierSettings } from "./prompt-caching";

export function loadModelTier(env: Record<string, string | undefined>): ModelTierSettings {
  const choice = <T extends string>(name: string, allowed: readonly T[]) => {
    try {
      return parseChoice(name, env[name], allowed);
    } catch (error) {
      throw new Error(`environment variable ${(error as Error).message}`);
    }
  };
  const latency = choice(ENV.bedrockLatency, BEDROCK_LATENCIES);
  const serviceTier = choice(ENV.bedrockServiceTier, BEDROCK_SERVICE_TIERS);
  return {
    promptCaching: choice(ENV.promptCaching, PROMPT_CACHING_MODES) ?? DEFAULT_PROMPT_CACHING,
    ...(latency ? { latency } : {}),
    ...(serviceTier ? { serviceTier } : {}),
  };
}
