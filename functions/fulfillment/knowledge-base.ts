/**
 * Knowledge-base answers through Bedrock's RetrieveAndGenerate API: the streaming form while
 * streaming (`output.text` → delta, `citation` → citation, `guardrail` → guardrail), the
 * one-shot form otherwise. The knowledge base keeps its own conversation: the `sessionId`
 * it returns goes back with the next question of the session.
 */
import {
  RetrieveAndGenerateCommand,
  RetrieveAndGenerateStreamCommand,
  type Citation as BedrockCitation,
  type CitationEvent,
  type RetrieveAndGenerateCommandInput,
  type RetrieveAndGenerateCommandOutput,
  type RetrieveAndGenerateStreamCommandOutput,
  type RetrievalResultLocation,
  type RetrievedReference,
} from "@aws-sdk/client-bedrock-agent-runtime";
import type { BedrockLatency } from "./prompt-caching";
import type { Citation } from "../shared/protocol";
import {
  GUARDRAIL_FALLBACK_ANSWER,
  GUARDRAIL_INTERVENED,
  GUARDRAIL_STOP_REASON,
  guardrailIdOf,
  type GuardrailSettings,
  type InferenceSettings,
} from "./config";
import { BudgetExhausted, GenerationError, MESSAGES } from "./errors";
import {
  TIME_BUDGET_STOP_REASON,
  type GenerateRequest,
  type GenerateResult,
  type GenerateSink,
  type Generator,
} from "./generate";
import type { StreamGuard } from "./guard";
import { snippetOf } from "./source-links";

/** The part of BedrockAgentRuntimeClient the adapter uses. */
export interface KnowledgeBaseClient {
  send(
    command: RetrieveAndGenerateStreamCommand,
    options?: { abortSignal?: AbortSignal },
  ): Promise<RetrieveAndGenerateStreamCommandOutput>;
  send(command: RetrieveAndGenerateCommand, options?: { abortSignal?: AbortSignal }): Promise<RetrieveAndGenerateCommandOutput>;
}

export interface KnowledgeBaseSettings {
  knowledgeBaseId: string;
  /** Model ARN RetrieveAndGenerate generates with. */
  modelArn: string;
  inference: InferenceSettings;
  /** Applies this Bedrock guardrail to generation (RetrieveAndGenerate has no stream processing mode). @default none */
  guardrail?: GuardrailSettings;
  /** `generationConfiguration.performanceConfig.latency`; RetrieveAndGenerate takes no service tier or cache checkpoints. @default none sent */
  latency?: BedrockLatency;
}

/** Where the knowledge base's metadata names a chunk's source when the location type is one we do not map. */
const SOURCE_URI_METADATA = "x-amz-bedrock-kb-source-uri";

export function retrieveAndGenerateInput(
  settings: KnowledgeBaseSettings,
  question: string,
  kbSessionId?: string,
): RetrieveAndGenerateCommandInput {
  const input: RetrieveAndGenerateCommandInput = {
    input: { text: question },
    retrieveAndGenerateConfiguration: {
      type: "KNOWLEDGE_BASE",
      knowledgeBaseConfiguration: {
        knowledgeBaseId: settings.knowledgeBaseId,
        modelArn: settings.modelArn,
      },
    },
  };
  const generation: NonNullable<
    NonNullable<NonNullable<RetrieveAndGenerateCommandInput["retrieveAndGenerateConfiguration"]>["knowledgeBaseConfiguration"]>["generationConfiguration"]
  > = {};
  if (Object.keys(settings.inference).length > 0) {
    generation.inferenceConfig = { textInferenceConfig: { ...settings.inference } };
  }
  if (settings.guardrail) {
    generation.guardrailConfiguration = {
      guardrailId: guardrailIdOf(settings.guardrail.id),
      guardrailVersion: settings.guardrail.version,
    };
  }
  if (settings.latency) generation.performanceConfig = { latency: settings.latency };
  if (Object.keys(generation).length > 0) {
    input.retrieveAndGenerateConfiguration!.knowledgeBaseConfiguration!.generationConfiguration = generation;
  }
  if (kbSessionId) input.sessionId = kbSessionId;
  return input;
}

/** A reference's source as a link target: the location's URI/URL, else the source-uri metadata. */
export function referenceUri(location: RetrievalResultLocation | undefined, metadata?: Record<string, unknown>): string | undefined {
  const fromLocation =
    location?.s3Location?.uri ??
    location?.webLocation?.url ??
    location?.confluenceLocation?.url ??
    location?.salesforceLocation?.url ??
    location?.sharePointLocation?.url ??
    location?.kendraDocumentLocation?.uri ??
    location?.oneDriveLocation?.url ??
    location?.googleDriveLocation?.url;
  if (fromLocation) return fromLocation;
  const fromMetadata = metadata?.[SOURCE_URI_METADATA];
  return typeof fromMetadata === "string" && fromMetadata !== "" ? fromMetadata : undefined;
}

function referenceTitle(metadata: Record<string, unknown> | undefined): string | undefined {
  const title = metadata?.title ?? metadata?.Title;
  return typeof title === "string" && title.trim() !== "" ? title.trim() : undefined;
}

/**
 * Maps a Bedrock citation (streamed CitationEvent or one-shot Citation) to the protocol's:
 * the generated text it supports and its distinct sources. Undefined when it names no source.
 */
export function toCitation(citation: CitationEvent | BedrockCitation): Citation | undefined {
  const event = citation as CitationEvent;
  const part = event.generatedResponsePart ?? event.citation?.generatedResponsePart;
  const references: RetrievedReference[] = event.retrievedReferences ?? event.citation?.retrievedReferences ?? [];
  const sources: Citation["sources"] = [];
  for (const reference of references) {
    const metadata = reference.metadata as Record<string, unknown> | undefined;
    const uri = referenceUri(reference.location, metadata);
    if (!uri || sources.some((source) => source.uri === uri)) continue;
    const title = referenceTitle(metadata);
    const snippet = snippetOf(reference.content?.text);
    sources.push({ uri, ...(title ? { title } : {}), ...(snippet ? { snippet } : {}) });
  }
  if (sources.length === 0) return undefined;
  return { text: part?.textResponsePart?.text ?? "", sources };
}

/** Streams one answer; a time budget running out mid-answer keeps the text so far. */
export async function retrieveAndGenerateStream(
  client: KnowledgeBaseClient,
  input: RetrieveAndGenerateCommandInput,
  sink: GenerateSink,
  guard: StreamGuard,
): Promise<GenerateResult> {
  let text = "";
  const citations: Citation[] = [];
  let guardrailAction: string | undefined;
  let kbSessionId: string | undefined;
  const result = (stopReason: string): GenerateResult => ({
    text,
    stopReason,
    citations,
    kbSessionId,
    guardrailAction,
  });
  try {
    // The knowledge base searches before its stream opens; the stages tell a client what the wait is.
    // The SDK resolves with the stream's first event, so `generating` comes just before the first text.
    // As for ConverseStream: silence is counted from the response; the time budget bounds the wait for it.
    sink.progress?.("retrieving");
    const response = await guard.step(
      client.send(new RetrieveAndGenerateStreamCommand(input), { abortSignal: guard.signal }),
      { stall: false },
    );
    sink.progress?.("generating");
    kbSessionId = response.sessionId;
    if (!response.stream) throw new GenerationError("model_error", MESSAGES.unavailable, true, "no event stream");
    for await (const event of guard.events(response.stream)) {
      if (event.output?.text) {
        text += event.output.text;
        sink.delta(event.output.text);
      } else if (event.citation) {
        const citation = toCitation(event.citation);
        if (citation) {
          citations.push(citation);
          sink.citation([citation]);
        }
      } else if (event.guardrail?.action) {
        guardrailAction = event.guardrail.action;
        sink.guardrail(guardrailAction);
      }
    }
  } catch (error) {
    if (error instanceof BudgetExhausted && text !== "") return result(TIME_BUDGET_STOP_REASON);
    throw error;
  }
  if (guardrailAction === GUARDRAIL_INTERVENED && text === "") {
    text = GUARDRAIL_FALLBACK_ANSWER;
    sink.delta(text);
  }
  return result(stopReasonFor(guardrailAction));
}

/** One answer in one response, for when streaming is off. */
export async function retrieveAndGenerate(
  client: KnowledgeBaseClient,
  input: RetrieveAndGenerateCommandInput,
  guard: StreamGuard,
): Promise<GenerateResult> {
  const response = await guard.step(client.send(new RetrieveAndGenerateCommand(input), { abortSignal: guard.signal }), {
    stall: false,
  });
  const citations = (response.citations ?? []).map(toCitation).filter((c): c is Citation => c !== undefined);
  const text = response.output?.text ?? "";
  return {
    text: text === "" && response.guardrailAction === GUARDRAIL_INTERVENED ? GUARDRAIL_FALLBACK_ANSWER : text,
    stopReason: stopReasonFor(response.guardrailAction),
    citations,
    kbSessionId: response.sessionId,
    guardrailAction: response.guardrailAction,
  };
}

/** RetrieveAndGenerate reports no stop reason; name the two outcomes as Converse does. */
function stopReasonFor(guardrailAction: string | undefined): string {
  return guardrailAction === GUARDRAIL_INTERVENED ? GUARDRAIL_STOP_REASON : "end_turn";
}

function isValidationError(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { name?: unknown }).name === "ValidationException";
}

export function knowledgeBaseGenerator(client: KnowledgeBaseClient, settings: KnowledgeBaseSettings): Generator {
  const run = (request: GenerateRequest, sink: GenerateSink, guard: StreamGuard, kbSessionId?: string) => {
    const input = retrieveAndGenerateInput(settings, request.question, kbSessionId);
    return request.streaming
      ? retrieveAndGenerateStream(client, input, sink, guard)
      : retrieveAndGenerate(client, input, guard);
  };
  return {
    streamsItself: false,
    async generate(request, sink, guard) {
      let emitted = false;
      const watched: GenerateSink = {
        delta: (text) => ((emitted = true), sink.delta(text)),
        citation: (citations) => ((emitted = true), sink.citation(citations)),
        guardrail: (action) => ((emitted = true), sink.guardrail(action)),
        progress: (stage) => sink.progress?.(stage),
      };
      try {
        return await run(request, watched, guard, request.kbSessionId);
      } catch (error) {
        // A remembered knowledge-base session may have expired on Bedrock's side. When Bedrock
        // refused it before anything was generated, asking afresh loses and repeats nothing.
        if (request.kbSessionId && isValidationError(error) && !emitted && !guard.signal.aborted) {
          return run(request, sink, guard);
        }
        throw error;
      }
    },
  };
}
