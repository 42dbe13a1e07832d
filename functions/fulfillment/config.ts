/**
 * The fulfillment function's settings, read once from the environment the stack sets
 * (functions/shared/env.ts). Streaming endpoint and table come only from here: nothing a
 * client sends can point the function at another API or table.
 */
import { optionalBooleanEnv } from "../shared/aws";
import { ENV } from "../shared/env";
import { DEFAULT_OUTPUT_POLICY, parseImageHosts, parseLinkSchemes, type OutputPolicy } from "./output-safety";
import { MAX_REASONING_BUDGET_TOKENS, MIN_REASONING_BUDGET_TOKENS, type ReasoningSettings } from "./reasoning";
import { loadModelTier, type ModelTierSettings } from "./model-tier-config";

/**
 * Bedrock Guardrail settings the stack passes in. Their names live here rather than in
 * shared/env.ts because only the fulfillment function reads them.
 */
export const GUARDRAIL_ENV = {
  /** Guardrail id (or ARN); guardrails are off without it. */
  id: "GUARDRAIL_ID",
  /** Guardrail version: a number or `DRAFT`. */
  version: "GUARDRAIL_VERSION",
  /** ConverseStream's `streamProcessingMode`: `async` (default) or `sync`. */
  streamProcessingMode: "GUARDRAIL_STREAM_PROCESSING_MODE",
} as const;

/**
 * How ConverseStream applies the guardrail to the answer. `async` streams chunks as the model
 * makes them and checks them alongside (a chunk may go out before the check blocks what
 * follows; masking sensitive information is not supported); `sync` holds chunks back until
 * checked, delaying the stream. Bedrock's own default is `sync`; ours keeps streaming live.
 * https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-streaming.html
 */
export type GuardrailStreamProcessingMode = "sync" | "async";
export const GUARDRAIL_STREAM_PROCESSING_MODES: readonly GuardrailStreamProcessingMode[] = ["async", "sync"];
export const DEFAULT_GUARDRAIL_STREAM_PROCESSING_MODE: GuardrailStreamProcessingMode = "async";

/** Guardrail identifier and version as Bedrock's API reference patterns them (GuardrailStreamConfiguration). */
export const GUARDRAIL_ID_PATTERN = /^(?:[a-z0-9]+|arn:aws(?:-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail\/[a-z0-9]+)$/;
export const GUARDRAIL_VERSION_PATTERN = /^(?:[1-9][0-9]{0,7}|DRAFT)$/;

/** The answer when a guardrail intervened and Bedrock sent no text (no blocked-message of its own). */
export const GUARDRAIL_FALLBACK_ANSWER = "This answer was blocked by a guardrail.";
/** The action a guardrail reports when it blocked or changed content (RetrieveAndGenerate's `guardrail.action`). */
export const GUARDRAIL_INTERVENED = "INTERVENED";
/** ConverseStream's stop reason when a guardrail intervened. */
export const GUARDRAIL_STOP_REASON = "guardrail_intervened";

/** The bare id of a guardrail given as id or ARN (RetrieveAndGenerate takes the id only). */
export function guardrailIdOf(idOrArn: string): string {
  return idOrArn.slice(idOrArn.lastIndexOf("/") + 1);
}

export interface GuardrailSettings {
  /** Guardrail id or ARN. */
  id: string;
  version: string;
  streamProcessingMode: GuardrailStreamProcessingMode;
}

export interface InferenceSettings {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
}

export interface FulfillmentConfig {
  /** Present when the stack enabled streaming (STREAMING_ENDPOINT set). */
  streaming?: {
    /** `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`. */
    endpoint: string;
    connectionsTable: string;
    connectionTtlSeconds: number;
  };
  /** Lex-door answers on session ids not bound to an identity stream and are remembered (UNBOUND_SESSION_STREAMING). */
  unboundSessionStreaming: boolean;
  /** Milliseconds without a Bedrock event before a stream is ended as stalled. */
  stallMs: number;
  /** Milliseconds within which the Lex door answers Lex (see DEFAULT_LEX_ANSWER_BUDGET_MS). */
  lexAnswerBudgetMs: number;
  /** Present when a memory table is configured. */
  memory?: { tableName: string; turns: number; ttlSeconds: number };
  llm: { modelId?: string; systemPrompt?: string; inference: InferenceSettings; guardrail?: GuardrailSettings; reasoning?: ReasoningSettings; tier: ModelTierSettings };
  /** Present when a knowledge base is configured: `kb` mode is available only then. */
  knowledgeBase?: { knowledgeBaseId: string; modelArn: string; guardrail?: GuardrailSettings };
  /** Custom LLM Lambda (QnABot's LLM_API=LAMBDA); replaces Bedrock for `llm` mode. */
  hookArn?: string;
  /** This function's own name, for the asynchronous hand-off of WebSocket asks. */
  selfFunctionName?: string;
  /** What links and images an answer may keep. */
  output: OutputPolicy;
}

export const DEFAULT_STALL_MS = 20_000;
/** Left for the stream's `end` (posts in flight time out after 3 s), the memory write and the response. */
export const TIME_BUDGET_MARGIN_MS = 5_000;
/**
 * Lex V2 gives a fulfillment code hook 30 s: "If you don't configure a timeout message and a
 * timeout, and the Lambda function doesn't return within 30 seconds, the timeout message is
 * returned" (Lex V2 API reference, RecognizeText:
 * https://docs.aws.amazon.com/lexv2/latest/APIReference/API_runtime_RecognizeText.html).
 * Past it the client gets Lex's timeout instead of the answer, however long the Lambda may run.
 */
export const LEX_CODE_HOOK_TIMEOUT_MS = 30_000;
/**
 * By when the Lex door returns its answer to Lex, counted from the invocation's start: below
 * Lex's cut by a margin for Lex's own work and the network between Lex and Lambda.
 */
export const DEFAULT_LEX_ANSWER_BUDGET_MS = 25_000;
/**
 * The Lex answer budget's range: above the time budget margin (the stream's end, memory and
 * response need it), below Lex's 30 s code hook cut (LEX_CODE_HOOK_TIMEOUT_MS).
 */
export const LEX_ANSWER_BUDGET_RANGE_MS = { min: TIME_BUDGET_MARGIN_MS + 1_000, max: LEX_CODE_HOOK_TIMEOUT_MS - 1_000 } as const;
export const DEFAULT_MEMORY_TURNS = 5;
export const DEFAULT_MEMORY_TTL_SECONDS = 24 * 60 * 60;
export const DEFAULT_CONNECTION_TTL_SECONDS = 2 * 60 * 60;

type Env = Record<string, string | undefined>;

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function number(env: Env, name: string, check: (n: number) => boolean, rule: string): number | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || !check(value)) {
    throw new Error(`environment variable ${name} must be ${rule}, got "${raw}"`);
  }
  return value;
}

const positiveInteger = (n: number) => Number.isInteger(n) && n > 0;

/** The guardrail settings, or undefined when GUARDRAIL_ID is unset; throws on a malformed one. */
export function loadGuardrail(env: Env): GuardrailSettings | undefined {
  const id = text(env, GUARDRAIL_ENV.id);
  const version = text(env, GUARDRAIL_ENV.version);
  const mode = text(env, GUARDRAIL_ENV.streamProcessingMode);
  if (!id) {
    if (version || mode) throw new Error(`${GUARDRAIL_ENV.version} and ${GUARDRAIL_ENV.streamProcessingMode} need ${GUARDRAIL_ENV.id}`);
    return undefined;
  }
  if (!GUARDRAIL_ID_PATTERN.test(id)) throw new Error(`environment variable ${GUARDRAIL_ENV.id} must be a guardrail id or ARN, got "${id}"`);
  if (!version) throw new Error(`${GUARDRAIL_ENV.id} is set but ${GUARDRAIL_ENV.version} is not`);
  if (!GUARDRAIL_VERSION_PATTERN.test(version)) {
    throw new Error(`environment variable ${GUARDRAIL_ENV.version} must be a version number or DRAFT, got "${version}"`);
  }
  if (mode !== undefined && !(GUARDRAIL_STREAM_PROCESSING_MODES as readonly string[]).includes(mode)) {
    throw new Error(`environment variable ${GUARDRAIL_ENV.streamProcessingMode} must be async or sync, got "${mode}"`);
  }
  return { id, version, streamProcessingMode: (mode as GuardrailStreamProcessingMode | undefined) ?? DEFAULT_GUARDRAIL_STREAM_PROCESSING_MODE };
}

/** The output-safety allowlists; a malformed or script-running entry fails with the variable named. */
export function loadOutputPolicy(env: Env): OutputPolicy {
  const parse = (name: string, raw: string | undefined, parser: (raw: string) => string[], fallback: readonly string[]) => {
    if (raw === undefined) return fallback;
    try {
      return parser(raw);
    } catch (error) {
      throw new Error(`environment variable ${name}: ${(error as Error).message}`);
    }
  };
  return {
    linkSchemes: parse(ENV.outputLinkSchemes, env[ENV.outputLinkSchemes], parseLinkSchemes, DEFAULT_OUTPUT_POLICY.linkSchemes),
    imageHosts: parse(ENV.outputImageHosts, env[ENV.outputImageHosts], parseImageHosts, DEFAULT_OUTPUT_POLICY.imageHosts),
  };
}

/** Reads and checks the configuration; a misconfigured stack fails at cold start with the variable named. */
export function loadConfig(env: Env = process.env): FulfillmentConfig {
  const endpoint = text(env, ENV.streamingEndpoint);
  const connectionsTable = text(env, ENV.connectionsTable);
  if (endpoint && !connectionsTable) {
    throw new Error(`${ENV.streamingEndpoint} is set but ${ENV.connectionsTable} is not`);
  }
  if (endpoint && !/^https?:\/\/[^/?#]+\/[^/?#]+\/?$/.test(endpoint)) {
    throw new Error(`${ENV.streamingEndpoint} must be https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`);
  }
  const memoryTable = text(env, ENV.memoryTable);
  const knowledgeBaseId = text(env, ENV.knowledgeBaseId);
  const modelArn = text(env, ENV.knowledgeBaseModelArn);
  if (knowledgeBaseId && !modelArn) {
    throw new Error(`${ENV.knowledgeBaseId} is set but ${ENV.knowledgeBaseModelArn} is not`);
  }
  const inference: InferenceSettings = {};
  const maxTokens = number(env, ENV.maxTokens, positiveInteger, "a positive integer");
  const temperature = number(env, ENV.temperature, (n) => n >= 0 && n <= 1, "a number from 0 to 1");
  const topP = number(env, ENV.topP, (n) => n >= 0 && n <= 1, "a number from 0 to 1");
  if (maxTokens !== undefined) inference.maxTokens = maxTokens;
  if (temperature !== undefined) inference.temperature = temperature;
  if (topP !== undefined) inference.topP = topP;
  const guardrail = loadGuardrail(env);
  const reasoningBudget = number(
    env,
    ENV.reasoningBudgetTokens,
    (n) => Number.isInteger(n) && n >= MIN_REASONING_BUDGET_TOKENS && n <= MAX_REASONING_BUDGET_TOKENS,
    `an integer from ${MIN_REASONING_BUDGET_TOKENS} to ${MAX_REASONING_BUDGET_TOKENS}`,
  );

  return {
    streaming:
      endpoint && connectionsTable
        ? {
            endpoint: endpoint.replace(/\/$/, ""),
            connectionsTable,
            connectionTtlSeconds:
              number(env, ENV.connectionTtlSeconds, positiveInteger, "a positive integer") ??
              DEFAULT_CONNECTION_TTL_SECONDS,
          }
        : undefined,
    unboundSessionStreaming: optionalBooleanEnv(ENV.unboundSessionStreaming, false, env),
    stallMs: number(env, ENV.streamStallMs, positiveInteger, "a positive integer") ?? DEFAULT_STALL_MS,
    lexAnswerBudgetMs:
      number(
        env,
        ENV.lexAnswerBudgetMs,
        (n) => Number.isInteger(n) && n >= LEX_ANSWER_BUDGET_RANGE_MS.min && n <= LEX_ANSWER_BUDGET_RANGE_MS.max,
        `an integer from ${LEX_ANSWER_BUDGET_RANGE_MS.min} to ${LEX_ANSWER_BUDGET_RANGE_MS.max} (below Lex's 30 s code hook cut)`,
      ) ?? DEFAULT_LEX_ANSWER_BUDGET_MS,
    memory: memoryTable
      ? {
          tableName: memoryTable,
          turns: number(env, ENV.memoryTurns, (n) => Number.isInteger(n) && n >= 0, "a non-negative integer") ??
            DEFAULT_MEMORY_TURNS,
          ttlSeconds:
            number(env, ENV.memoryTtlSeconds, positiveInteger, "a positive integer") ?? DEFAULT_MEMORY_TTL_SECONDS,
        }
      : undefined,
    llm: {
      modelId: text(env, ENV.llmModelId),
      systemPrompt: text(env, ENV.systemPrompt),
      inference,
      ...(guardrail ? { guardrail } : {}),
      ...(reasoningBudget !== undefined ? { reasoning: { budgetTokens: reasoningBudget } } : {}),
      tier: loadModelTier(env),
    },
    knowledgeBase: knowledgeBaseId && modelArn ? { knowledgeBaseId, modelArn, ...(guardrail ? { guardrail } : {}) } : undefined,
    hookArn: text(env, ENV.llmLambdaArn),
    selfFunctionName: text(env, ENV.selfFunctionName),
    output: loadOutputPolicy(env),
  };
}
