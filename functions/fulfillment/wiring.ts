/**
 * Builds the doors' dependencies from the configuration: Bedrock or the custom LLM Lambda per
 * mode, DynamoDB memory, and, when the stack enabled streaming, the stream opener, the
 * connections store, the @connections transport and the asynchronous hand-off.
 */
import { BedrockAgentRuntimeClient } from "@aws-sdk/client-bedrock-agent-runtime";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { DEFAULT_ASKS_PER_CONNECTION, DEFAULT_ASKS_PER_SESSION, DynamoAskLedger } from "../shared/ask-ledger";
import { lambdaClient, optionalIntEnv } from "../shared/aws";
import { ENV } from "../shared/env";
import { DynamoConnectionsStore } from "../shared/dynamo-connections";
import type { AnswerMode } from "../shared/protocol";
import { ManagementApiTransport, streamOpenerFromEnv } from "../stream/aws";
import type { FulfillmentConfig } from "./config";
import { converseGenerator } from "./converse";
import type { DoorDeps } from "./doors";
import { answer, type EngineDeps } from "./engine";
import type { Generator } from "./generate";
import { invokeAskJob } from "./handoff";
import { hookGenerator, parseModelParameters } from "./hook";
import { knowledgeBaseGenerator } from "./knowledge-base";
import { systemClock } from "../shared/clock";
import { DynamoMemory } from "./memory";

function generators(config: FulfillmentConfig): Partial<Record<AnswerMode, Generator>> {
  const result: Partial<Record<AnswerMode, Generator>> = {};
  const { llm } = config;
  if (config.hookArn) {
    result.llm = hookGenerator(lambdaClient(), {
      functionArn: config.hookArn,
      systemPrompt: llm.systemPrompt,
      inference: llm.inference,
      promptTemplate: process.env[ENV.llmQaPromptTemplate] || undefined,
      modelParameters: parseModelParameters(process.env[ENV.llmQaModelParams]),
      streaming: config.streaming && {
        endpoint: config.streaming.endpoint,
        connectionsTable: config.streaming.connectionsTable,
      },
    });
  } else if (llm.modelId) {
    result.llm = converseGenerator(new BedrockRuntimeClient({}), {
      modelId: llm.modelId,
      systemPrompt: llm.systemPrompt,
      inference: llm.inference,
    });
  }
  if (config.knowledgeBase) {
    result.kb = knowledgeBaseGenerator(new BedrockAgentRuntimeClient({}), {
      ...config.knowledgeBase,
      inference: llm.inference,
    });
  }
  return result;
}

export function doorDeps(config: FulfillmentConfig): DoorDeps {
  const engine: EngineDeps = {
    generators: generators(config),
    memory: config.memory && new DynamoMemory({ tableName: config.memory.tableName, ttlSeconds: config.memory.ttlSeconds }),
    memoryTurns: config.memory?.turns,
    openStream: config.streaming ? streamOpenerFromEnv() : undefined,
    stallMs: config.stallMs,
    clock: systemClock,
  };
  const streaming = config.streaming;
  const selfFunctionName = config.selfFunctionName;
  return {
    answer: (request) => answer(request, engine),
    // Lex requests rarely name a mode: answer from the knowledge base when that is all there is.
    defaultMode: engine.generators.llm || !engine.generators.kb ? "llm" : "kb",
    store: streaming && new DynamoConnectionsStore({ tableName: streaming.connectionsTable, ttlSeconds: streaming.connectionTtlSeconds }),
    transport: streaming && new ManagementApiTransport({ endpoint: streaming.endpoint }),
    ledger:
      streaming &&
      new DynamoAskLedger({
        tableName: streaming.connectionsTable,
        perConnection: optionalIntEnv(ENV.asksPerConnection, DEFAULT_ASKS_PER_CONNECTION, { min: 1, max: 100 }),
        perSession: optionalIntEnv(ENV.asksPerSession, DEFAULT_ASKS_PER_SESSION, { min: 1, max: 1000 }),
      }),
    handOff: streaming && selfFunctionName ? (job) => invokeAskJob(lambdaClient(), selfFunctionName, job) : undefined,
    clock: systemClock,
  };
}
