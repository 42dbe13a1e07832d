/**
 * Bedrock Agent Runtime `RetrieveAndGenerateStream` and `RetrieveAndGenerate`: request
 * checks, output/citation/guardrail events, the one-shot response, and the knowledge-base
 * session id (a response header for the stream, a body field for the one-shot call).
 */
import { randomUUID } from "node:crypto";
import type { BedrockBehavior } from "./behavior";
import { encodeEvent } from "./event-stream";
import { ServiceError, isRecord } from "./http";
import type { PlannedAnswer, PlannedCitation } from "./plan";
import type { EventPlan } from "./player";
import { BEDROCK_LATENCIES } from "../../functions/fulfillment/prompt-caching";

/** Header that carries the session id of a streamed answer (the SDK's `sessionId`). */
export const SESSION_ID_HEADER = "x-amzn-bedrock-knowledge-base-session-id";

export interface RetrieveAndGenerateRequest {
  readonly question: string;
  /** The caller's session id, or a new one. */
  readonly sessionId: string;
  readonly knowledgeBaseId?: string;
  readonly modelArn?: string;
}

export function parseRetrieveAndGenerateRequest(body: unknown): RetrieveAndGenerateRequest {
  if (!isRecord(body) || !isRecord(body.input) || typeof body.input.text !== "string" || body.input.text.length === 0) {
    throw new ServiceError("ValidationException", "input.text is required.");
  }
  const config = body.retrieveAndGenerateConfiguration;
  if (!isRecord(config) || (config.type !== "KNOWLEDGE_BASE" && config.type !== "EXTERNAL_SOURCES")) {
    throw new ServiceError("ValidationException", "retrieveAndGenerateConfiguration.type must be KNOWLEDGE_BASE or EXTERNAL_SOURCES.");
  }
  const kb = isRecord(config.knowledgeBaseConfiguration) ? config.knowledgeBaseConfiguration : undefined;
  const external = isRecord(config.externalSourcesConfiguration) ? config.externalSourcesConfiguration : undefined;
  if (config.type === "KNOWLEDGE_BASE" && (!kb || typeof kb.knowledgeBaseId !== "string" || typeof kb.modelArn !== "string")) {
    throw new ServiceError("ValidationException", "knowledgeBaseConfiguration needs a knowledgeBaseId and a modelArn.");
  }
  if (body.sessionId !== undefined && (typeof body.sessionId !== "string" || body.sessionId.length < 2)) {
    throw new ServiceError("ValidationException", "sessionId must be a string of at least 2 characters.");
  }
  const generation = isRecord(kb?.generationConfiguration) ? kb.generationConfiguration : isRecord(external?.generationConfiguration) ? external.generationConfiguration : undefined;
  const latency = isRecord(generation?.performanceConfig) ? generation.performanceConfig.latency : undefined;
  if (latency !== undefined && !(BEDROCK_LATENCIES as readonly unknown[]).includes(latency)) {
    throw new ServiceError(
      "ValidationException",
      `1 validation error detected: Value '${String(latency)}' at 'retrieveAndGenerateConfiguration.knowledgeBaseConfiguration.generationConfiguration.performanceConfig.latency' failed to satisfy constraint: Member must satisfy enum value set: [${BEDROCK_LATENCIES.join(", ")}]`,
    );
  }
  const modelArn = kb?.modelArn ?? external?.modelArn;
  return {
    question: body.input.text,
    sessionId: typeof body.sessionId === "string" ? body.sessionId : randomUUID(),
    knowledgeBaseId: typeof kb?.knowledgeBaseId === "string" ? kb.knowledgeBaseId : undefined,
    modelArn: typeof modelArn === "string" ? modelArn : undefined,
  };
}

/** A citation as the service sends it; `span.end` is the offset of the last cited character. */
function citationShape(c: PlannedCitation) {
  const generatedResponsePart = {
    textResponsePart: { text: c.text, span: { start: c.start, end: c.start + Math.max(0, c.text.length - 1) } },
  };
  const retrievedReferences = c.references.map((r) => ({
    content: { type: "TEXT", text: r.text },
    location: { type: "S3", s3Location: { uri: r.uri } },
    metadata: { "x-amz-bedrock-kb-source-uri": r.uri, "x-amz-bedrock-kb-chunk-id": r.chunkId },
  }));
  return { generatedResponsePart, retrievedReferences };
}

export function retrieveAndGenerateStreamPlan(answer: PlannedAnswer, behavior: BedrockBehavior): EventPlan {
  // The event carries both the current members and the deprecated `citation` wrapper, as the service does.
  const citationEvent = (c: PlannedCitation) => {
    const shape = citationShape(c);
    return encodeEvent("citation", { ...shape, citation: shape });
  };
  const placed = (i: number) => answer.citations.filter((c) => c.afterDelta === i);
  return {
    opening: () => [],
    deltaCount: answer.deltas.length,
    delta: (i) => [encodeEvent("output", { text: answer.deltas[i] }), ...placed(i).map(citationEvent)],
    closing: () => [
      ...(answer.deltas.length === 0 ? answer.citations.map(citationEvent) : []),
      ...(behavior.guardrailAction ? [encodeEvent("guardrail", { action: behavior.guardrailAction })] : []),
    ],
  };
}

export function retrieveAndGenerateResponse(request: RetrieveAndGenerateRequest, answer: PlannedAnswer, behavior: BedrockBehavior) {
  return {
    sessionId: request.sessionId,
    output: { text: answer.text },
    citations: answer.citations.map(citationShape),
    ...(behavior.guardrailAction ? { guardrailAction: behavior.guardrailAction } : {}),
  };
}
