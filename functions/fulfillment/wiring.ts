/**
 * Builds the doors' dependencies from the configuration: Bedrock or the custom LLM Lambda per
 * mode, DynamoDB memory, and, when the stack enabled streaming, the stream opener, the
 * connections store, the @connections transport and the asynchronous hand-off.
 *
 * Each generator and the hand-off require their module and SDK client on first use (the
 * bundler keeps a `require` lazy): the WebSocket `ask` route never calls Bedrock, a Lex or job
 * invocation never calls Lambda (without a custom hook), and an LLM-only stack never calls
 * the knowledge base, so none of them pays for a client it does not call (bench/RESULTS.md,
 * "Cold start", prices each one).
 */
import { DEFAULT_ASKS_PER_CONNECTION, DEFAULT_ASKS_PER_SESSION, DynamoAskLedger } from "../shared/ask-ledger";
import { lambdaClient, optionalIntEnv } from "../shared/aws";
import { ENV } from "../shared/env";
import { DynamoConnectionsStore } from "../shared/dynamo-connections";
import type { AnswerMode } from "../shared/protocol";
import { flushIntervalsFromEnv, ManagementApiTransport, postRetriesFromEnv, postTimeoutFromEnv, streamOpenerFromEnv } from "../stream/aws";
import { DynamoJournalStore } from "../stream/journal-store";
import { replayAnswer } from "../stream/writer";
import type { FulfillmentConfig } from "./config";
import type { DoorDeps } from "./doors";
import { answer, type EngineDeps } from "./engine";
import type { Generator } from "./generate";
import { systemClock } from "../shared/clock";
import { DynamoMemory } from "./memory";
import { DynamoFeedbackStore } from "./feedback-store";
import { MAX_FEEDBACK_TTL_DAYS } from "../shared/feedback";
import { DynamoTokenBudget, MAX_TOKEN_BUDGET_PER_DAY, parseTokenPrices } from "./token-budget";
import { DEFAULT_SOURCE_LINK_EXPIRY_SECONDS, MAX_SOURCE_LINK_EXPIRY_SECONDS, parseSourceLinkBuckets, type SourceLinks } from "./source-links";

/**
 * A generator whose module and client load when it first generates (a `require`, which the
 * bundler keeps lazy). A load that fails (a bad setting) fails that request and is tried again
 * by the next.
 */
export function lazyGenerator(streamsItself: boolean, load: () => Generator): Generator {
  let loaded: Generator | undefined;
  return {
    streamsItself,
    async generate(request, sink, guard) {
      loaded ??= load();
      return loaded.generate(request, sink, guard);
    },
  };
}

function generators(config: FulfillmentConfig): Partial<Record<AnswerMode, Generator>> {
  const result: Partial<Record<AnswerMode, Generator>> = {};
  const { llm } = config;
  const { hookArn, knowledgeBase, streaming } = config;
  if (hookArn) {
    // A custom LLM Lambda streams by itself (hook.ts); in knowledge-base mode it answers from
    // the passages Bedrock retrieves, as QnABot hands a hook its retrieved context.
    const hook = (retrieveFrom?: string) => {
      const { hookGenerator, parseModelParameters } = require("./hook") as typeof import("./hook");
      const options = {
        functionArn: hookArn,
        systemPrompt: llm.systemPrompt,
        inference: llm.inference,
        promptTemplate: process.env[ENV.llmQaPromptTemplate] || undefined,
        modelParameters: parseModelParameters(process.env[ENV.llmQaModelParams]),
        streaming: streaming && { endpoint: streaming.endpoint, connectionsTable: streaming.connectionsTable },
      };
      if (retrieveFrom === undefined) return hookGenerator(lambdaClient(), options);
      const { knowledgeBaseRetriever } = require("./kb-retrieve") as typeof import("./kb-retrieve");
      const { createBedrockAgentRuntimeClient } = require("./clients/bedrock-agent-runtime") as typeof import("./clients/bedrock-agent-runtime");
      return hookGenerator(lambdaClient(), options, knowledgeBaseRetriever(createBedrockAgentRuntimeClient(), retrieveFrom));
    };
    result.llm = lazyGenerator(true, () => hook());
    if (knowledgeBase) result.kb = lazyGenerator(true, () => hook(knowledgeBase.knowledgeBaseId));
  } else if (llm.modelId) {
    const modelId = llm.modelId;
    result.llm = lazyGenerator(false, () => {
      const { converseGenerator } = require("./converse") as typeof import("./converse");
      const { createBedrockRuntimeClient } = require("./clients/bedrock-runtime") as typeof import("./clients/bedrock-runtime");
      return converseGenerator(createBedrockRuntimeClient(), {
        modelId,
        systemPrompt: llm.systemPrompt,
        inference: llm.inference,
        guardrail: llm.guardrail,
        reasoning: llm.reasoning,
        tier: llm.tier,
      });
    });
  }
  if (knowledgeBase && !result.kb) {
    result.kb = lazyGenerator(false, () => {
      const { knowledgeBaseGenerator } = require("./knowledge-base") as typeof import("./knowledge-base");
      const { createBedrockAgentRuntimeClient } = require("./clients/bedrock-agent-runtime") as typeof import("./clients/bedrock-agent-runtime");
      return knowledgeBaseGenerator(createBedrockAgentRuntimeClient(), { ...knowledgeBase, inference: llm.inference, latency: llm.tier.latency });
    });
  }
  return result;
}

/** The model each mode answers with, as `usage` names it: the part after the last `/` of an ARN. */
function modelsOf(config: FulfillmentConfig): Partial<Record<AnswerMode, string>> {
  const kbModel = config.knowledgeBase?.modelArn.slice(config.knowledgeBase.modelArn.lastIndexOf("/") + 1);
  return {
    ...(config.hookArn ? { llm: "lambda" } : config.llm.modelId ? { llm: config.llm.modelId } : {}),
    ...(config.knowledgeBase ? { kb: config.hookArn ? "lambda" : kbModel } : {}),
  };
}

/**
 * Presigned source links when buckets are allowlisted, signed with the function's own
 * credentials (those its Lambda client resolves); the signer loads on first use.
 */
export function sourceLinksFromEnv(): SourceLinks | undefined {
  const buckets = parseSourceLinkBuckets(process.env[ENV.sourceLinkBuckets]);
  if (buckets.length === 0) return undefined;
  const expirySeconds = optionalIntEnv(ENV.sourceLinkExpirySeconds, DEFAULT_SOURCE_LINK_EXPIRY_SECONDS, { min: 1, max: MAX_SOURCE_LINK_EXPIRY_SECONDS });
  let linker: SourceLinks | undefined;
  return {
    link(uri, policy) {
      if (!linker) {
        const { SourceLinker } = require("./source-presign") as typeof import("./source-presign");
        linker = new SourceLinker({
          buckets,
          expirySeconds,
          // Lambda always sets AWS_REGION; S3 object URLs and their signatures name it.
          region: process.env.AWS_REGION ?? "",
          credentials: () => lambdaClient().config.credentials(),
          endpoint: process.env.AWS_ENDPOINT_URL_S3 || undefined,
        });
      }
      return linker.link(uri, policy);
    },
  };
}

export function doorDeps(config: FulfillmentConfig): DoorDeps {
  const engine: EngineDeps = {
    generators: generators(config),
    memory: config.memory && new DynamoMemory({ tableName: config.memory.tableName, ttlSeconds: config.memory.ttlSeconds }),
    memoryTurns: config.memory?.turns,
    openStream: config.streaming ? streamOpenerFromEnv() : undefined,
    stallMs: config.stallMs,
    clock: systemClock,
    outputPolicy: config.output,
    models: modelsOf(config),
    prices: parseTokenPrices(process.env[ENV.tokenPricesUsdPerMillion]),
    sourceLinks: sourceLinksFromEnv(),
  };
  const streaming = config.streaming;
  // Tokens are always metered as metrics; tallied per asker (one DynamoDB write per answer) only under a budget.
  const tokensPerDay = optionalIntEnv(ENV.tokenBudgetPerDay, 0, { min: 0, max: MAX_TOKEN_BUDGET_PER_DAY });
  if (streaming && tokensPerDay > 0) engine.budget = new DynamoTokenBudget({ tableName: streaming.connectionsTable, tokensPerDay });
  // Feedback records live in the connections table too: one write per answer, only when kept.
  const feedbackTtlDays = optionalIntEnv(ENV.feedbackTtlDays, 0, { min: 0, max: MAX_FEEDBACK_TTL_DAYS });
  if (streaming && feedbackTtlDays > 0) engine.feedback = new DynamoFeedbackStore({ tableName: streaming.connectionsTable, ttlDays: feedbackTtlDays });
  const selfFunctionName = config.selfFunctionName;
  const store =
    streaming &&
    new DynamoConnectionsStore({
      tableName: streaming.connectionsTable,
      ttlSeconds: streaming.connectionTtlSeconds,
      unboundSessionStreaming: config.unboundSessionStreaming,
    });
  const transport = streaming && new ManagementApiTransport({ endpoint: streaming.endpoint, requestTimeoutMs: postTimeoutFromEnv() });
  return {
    answer: (request) => answer(request, engine),
    // Lex requests rarely name a mode: answer from the knowledge base when that is all there is.
    defaultMode: engine.generators.llm || !engine.generators.kb ? "llm" : "kb",
    lexAnswerBudgetMs: config.lexAnswerBudgetMs,
    unboundSessionStreaming: config.unboundSessionStreaming,
    store,
    transport,
    refusalPosts: { maxRetries: postRetriesFromEnv() },
    ledger:
      streaming &&
      new DynamoAskLedger({
        tableName: streaming.connectionsTable,
        perConnection: optionalIntEnv(ENV.asksPerConnection, DEFAULT_ASKS_PER_CONNECTION, { min: 1, max: 100 }),
        perSession: optionalIntEnv(ENV.asksPerSession, DEFAULT_ASKS_PER_SESSION, { min: 1, max: 1000 }),
      }),
    feedback: engine.feedback,
    journal: streaming && new DynamoJournalStore({ tableName: streaming.connectionsTable }),
    replay:
      store && transport
        ? (replay) => replayAnswer({ store, transport, options: { flushIntervalMs: flushIntervalsFromEnv(), maxRetries: postRetriesFromEnv() } }, replay)
        : undefined,
    handOff:
      streaming && selfFunctionName
        ? (job) => (require("./handoff") as typeof import("./handoff")).invokeAskJob(lambdaClient(), selfFunctionName, job)
        : undefined,
    clock: systemClock,
  };
}
