/**
 * The fulfillment function's settings, read once from the environment the stack sets
 * (functions/shared/env.ts). Streaming endpoint and table come only from here: nothing a
 * client sends can point the function at another API or table.
 */
import { ENV } from "../shared/env";

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
  /** Milliseconds without a Bedrock event before a stream is ended as stalled. */
  stallMs: number;
  /** Present when a memory table is configured. */
  memory?: { tableName: string; turns: number; ttlSeconds: number };
  llm: { modelId?: string; systemPrompt?: string; inference: InferenceSettings };
  /** Present when a knowledge base is configured: `kb` mode is available only then. */
  knowledgeBase?: { knowledgeBaseId: string; modelArn: string };
  /** Custom LLM Lambda (QnABot's LLM_API=LAMBDA); replaces Bedrock for `llm` mode. */
  hookArn?: string;
  /** This function's own name, for the asynchronous hand-off of WebSocket asks. */
  selfFunctionName?: string;
}

export const DEFAULT_STALL_MS = 20_000;
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
    stallMs: number(env, ENV.streamStallMs, positiveInteger, "a positive integer") ?? DEFAULT_STALL_MS,
    memory: memoryTable
      ? {
          tableName: memoryTable,
          turns: number(env, ENV.memoryTurns, (n) => Number.isInteger(n) && n >= 0, "a non-negative integer") ??
            DEFAULT_MEMORY_TURNS,
          ttlSeconds:
            number(env, ENV.memoryTtlSeconds, positiveInteger, "a positive integer") ?? DEFAULT_MEMORY_TTL_SECONDS,
        }
      : undefined,
    llm: { modelId: text(env, ENV.llmModelId), systemPrompt: text(env, ENV.systemPrompt), inference },
    knowledgeBase: knowledgeBaseId && modelArn ? { knowledgeBaseId, modelArn } : undefined,
    hookArn: text(env, ENV.llmLambdaArn),
    selfFunctionName: text(env, ENV.selfFunctionName),
  };
}
