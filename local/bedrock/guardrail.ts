/**
 * Bedrock Guardrails as the emulator plays them: which guardrail a request names (Converse*
 * `guardrailConfig`, RetrieveAndGenerate* `generationConfiguration.guardrailConfiguration`),
 * and an intervention turned into the answer and events Bedrock sends.
 */
import { DEFAULT_BLOCKED_MESSAGE, type BedrockBehavior, type BedrockOperation } from "./behavior";
import { isRecord } from "./http";
import type { PlannedAnswer } from "./plan";

export interface RequestGuardrail {
  readonly id: string;
  readonly version: string;
  /** Converse*: the request asked for the guardrail trace (`enabled` or `enabled_full`). */
  readonly trace: boolean;
}

/** ConverseStream / Converse stop reason of an intervention. */
export const GUARDRAIL_STOP_REASON = "guardrail_intervened";
/** RetrieveAndGenerate's guardrail action of an intervention. */
export const GUARDRAIL_INTERVENED = "INTERVENED";

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The guardrail a request names, or undefined. */
export function requestGuardrail(operation: BedrockOperation, body: unknown): RequestGuardrail | undefined {
  if (!isRecord(body)) return undefined;
  if (operation === "ConverseStream" || operation === "Converse") {
    const config = body.guardrailConfig;
    if (!isRecord(config)) return undefined;
    const id = text(config.guardrailIdentifier);
    const version = text(config.guardrailVersion);
    return id && version ? { id, version, trace: config.trace === "enabled" || config.trace === "enabled_full" } : undefined;
  }
  const kb = isRecord(body.retrieveAndGenerateConfiguration) ? body.retrieveAndGenerateConfiguration.knowledgeBaseConfiguration : undefined;
  const generation = isRecord(kb) ? kb.generationConfiguration : undefined;
  const config = isRecord(generation) ? generation.guardrailConfiguration : undefined;
  if (!isRecord(config)) return undefined;
  const id = text(config.guardrailId);
  const version = text(config.guardrailVersion);
  return id && version ? { id, version, trace: false } : undefined;
}

export interface Intervened {
  readonly answer: PlannedAnswer;
  readonly behavior: BedrockBehavior;
  /** Converse* `trace.guardrail` (GuardrailTraceAssessment), when the request asked for it. */
  readonly trace?: Record<string, unknown>;
}

/**
 * The answer and behaviour of a request after its guardrail intervened, or the given ones
 * when no intervention is scripted or the request names no guardrail.
 */
export function intervene(answer: PlannedAnswer, behavior: BedrockBehavior, guardrail: RequestGuardrail | undefined): Intervened {
  const intervention = behavior.guardrailIntervention;
  if (!intervention || !guardrail) return { answer, behavior };
  const kept = answer.deltas.slice(0, Math.min(answer.deltas.length, intervention.afterDeltas ?? 0));
  const deltas = [...kept, intervention.message ?? DEFAULT_BLOCKED_MESSAGE];
  const assessment = {
    topicPolicy: { topics: [{ name: intervention.topic ?? "Denied topic", type: "DENY", action: "BLOCKED" }] },
  };
  // Blocking the question shows as the input's assessment, blocking the answer as the output's.
  const onInput = kept.length === 0;
  return {
    answer: { text: deltas.join(""), deltas, citations: [] },
    behavior: { ...behavior, stopReason: GUARDRAIL_STOP_REASON, guardrailAction: GUARDRAIL_INTERVENED },
    trace: guardrail.trace
      ? {
          guardrail: onInput
            ? { inputAssessment: { [guardrail.id]: assessment } }
            : { modelOutput: [answer.text], outputAssessments: { [guardrail.id]: [assessment] } },
        }
      : undefined,
  };
}
