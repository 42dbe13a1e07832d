/**
 * Turns a request of one of the four operations into what the emulator serves: the
 * planned answer, its event plan (streaming operations) or one-shot body, extra response
 * headers, and the ids worth recording.
 */
import type { BedrockBehavior, BedrockOperation } from "./behavior";
import { converseResponse, converseStreamPlan, parseConverseRequest } from "./converse";
import { intervene, requestGuardrail } from "./guardrail";
import { planAnswer, type PlannedAnswer } from "./plan";
import type { EventPlan } from "./player";
import type { PromptCache } from "./prompt-cache";
import type { DocumentIndex } from "./retrieval";
import {
  SESSION_ID_HEADER,
  parseRetrieveAndGenerateRequest,
  retrieveAndGenerateResponse,
  retrieveAndGenerateStreamPlan,
} from "./retrieve-and-generate";

export interface PreparedOperation {
  readonly streaming: boolean;
  readonly answer: PlannedAnswer;
  /** Events of the streaming operations. */
  readonly plan: EventPlan;
  /** Body of the one-shot operations, built when sent (it reports the latency). */
  oneShot(): unknown;
  readonly headers: Readonly<Record<string, string>>;
  /** The configuration's model ARN (RetrieveAndGenerate*); Converse* take the model id from the path. */
  readonly modelArn?: string;
  readonly knowledgeBaseId?: string;
}

/** Throws a ServiceError (ValidationException) when the body is not a valid request. */
export function prepareOperation(
  operation: BedrockOperation,
  body: unknown,
  behavior: BedrockBehavior,
  index: DocumentIndex,
  startedAt: number,
  converse: { modelId?: string; cache?: PromptCache } = {},
): PreparedOperation {
  if (operation === "ConverseStream" || operation === "Converse") {
    const request = parseConverseRequest(body, converse.modelId, converse.cache);
    const { answer, behavior: played, trace } = intervene(
      planAnswer(behavior, index, request.question),
      behavior,
      requestGuardrail(operation, body),
    );
    return {
      streaming: operation === "ConverseStream",
      answer,
      plan: converseStreamPlan(request, answer, played, startedAt, trace),
      oneShot: () => converseResponse(request, answer, played, startedAt, trace),
      headers: {},
    };
  }
  const request = parseRetrieveAndGenerateRequest(body);
  const { answer, behavior: played } = intervene(
    planAnswer(behavior, index, request.question, { cited: true }),
    behavior,
    requestGuardrail(operation, body),
  );
  return {
    streaming: operation === "RetrieveAndGenerateStream",
    answer,
    plan: retrieveAndGenerateStreamPlan(answer, played),
    oneShot: () => retrieveAndGenerateResponse(request, answer, played),
    headers: { [SESSION_ID_HEADER]: request.sessionId },
    modelArn: request.modelArn,
    knowledgeBaseId: request.knowledgeBaseId,
  };
}
