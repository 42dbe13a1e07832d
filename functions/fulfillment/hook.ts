/**
 * A custom LLM Lambda in place of Bedrock (QnABot's LLM_API=LAMBDA): invoked synchronously
 * with QnABot's payload `{prompt, parameters, settings, streamingAttributes}`, answering
 * `{generated_text}`. When streaming is on, `streamingAttributes` tells the hook where to
 * stream (it uses the stream writer library, functions/stream/index.ts); the values come from
 * the stack's environment, never from the client. `{}` when streaming is off.
 */
import { InvokeCommand, type InvokeCommandOutput } from "@aws-sdk/client-lambda";
import type { InferenceSettings } from "./config";
import { GenerationError } from "./errors";
import type { GenerateRequest, Generator, Turn } from "./generate";
import type { StreamGuard } from "./guard";
import type { Retriever } from "./kb-retrieve";

/** The part of LambdaClient the hook uses. */
export interface LambdaInvoker {
  send(command: InvokeCommand, options?: { abortSignal?: AbortSignal }): Promise<InvokeCommandOutput>;
}

export interface StreamingAttributes {
  /** The session to stream to. */
  sessionId: string;
  /** `https://…/{stage}`: the @connections endpoint (STREAMING_ENDPOINT). */
  streamingEndpoint: string;
  /** The connections table (CONNECTIONS_TABLE). */
  streamingDynamoDbTable: string;
  /** Extension to QnABot's contract: the id `format=json` envelopes must carry. */
  requestId: string;
  /** Extension to QnABot's contract: the asker's principal, so the hook streams only to a session it owns. Absent for Lex. */
  principal?: string;
}

export interface HookPayload {
  prompt: string;
  /** Model parameters: QnABot's LLM_QA_MODEL_PARAMS when set, else the stack's inference settings. */
  parameters: Record<string, unknown>;
  /** The settings a QnABot hook reads, by QnABot's names. */
  settings: Record<string, string>;
  streamingAttributes: StreamingAttributes | Record<string, never>;
}

export interface HookOptions {
  functionArn: string;
  systemPrompt?: string;
  inference: InferenceSettings;
  /** QnABot's LLM_QA_PROMPT_TEMPLATE; undefined: hookPrompt's system prompt, history and question. */
  promptTemplate?: string;
  /** QnABot's LLM_QA_MODEL_PARAMS, parsed; undefined: the inference settings. */
  modelParameters?: Record<string, unknown>;
  /** Set when the stack enabled streaming. */
  streaming?: { endpoint: string; connectionsTable: string };
}

export const HOOK_MESSAGES = {
  failed: "The custom LLM function failed to answer. Please try again.",
  noText: "The custom LLM function returned no generated_text.",
} as const;

/** The prompt as QnABot hands a hook one: retrieved context, history as `Human:`/`AI:` lines, then the question. */
export function hookPrompt(systemPrompt: string | undefined, history: Turn[], question: string, context?: string): string {
  const parts: string[] = [];
  if (systemPrompt) parts.push(systemPrompt);
  if (context) parts.push(`Context:\n${context}`);
  if (history.length > 0) {
    parts.push(["Chat history:", ...history.flatMap((t) => [`Human: ${t.question}`, `AI: ${t.answer}`])].join("\n"));
  }
  parts.push(`Human: ${question}`, "Assistant:");
  return parts.join("\n\n");
}

/** History as QnABot serialises it for `{history}`: `Human:`/`AI:` lines, oldest first. */
function historyLines(history: Turn[]): string {
  return history.flatMap((t) => [`Human: ${t.question}`, `AI: ${t.answer}`]).join("\n");
}

/**
 * Fills a QnABot QA prompt template: `<br>` becomes a line break, `{history}`, `{input}`,
 * `{query}` (the question: no query rewriting here) and `{context}` (retrieved passages;
 * none in LLM mode) are replaced. Each placeholder is replaced in one pass, so text that
 * contains a placeholder is never expanded again.
 */
export function fillPromptTemplate(template: string, values: { history: Turn[]; question: string; context?: string }): string {
  const replacements: Record<string, string> = {
    context: values.context ?? "",
    history: historyLines(values.history),
    input: values.question,
    query: values.question,
  };
  return template.replace(/<br>/g, "\n").replace(/\{(context|history|input|query)\}/g, (_, name: string) => replacements[name]);
}

/** Reads LLM_QA_MODEL_PARAMS; a value that is not a JSON object is a configuration error. */
export function parseModelParameters(raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error("LLM_QA_MODEL_PARAMS must be a JSON object, e.g. {\"temperature\":0}");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error("LLM_QA_MODEL_PARAMS must be a JSON object, e.g. {\"temperature\":0}");
  }
  return parsed as Record<string, unknown>;
}

/** `context`: the passages retrieved in knowledge-base mode, QnABot's `{context}`. */
export function hookPayload(options: HookOptions, request: GenerateRequest, context?: string): HookPayload {
  const streaming = request.streaming ? options.streaming : undefined;
  const prompt =
    options.promptTemplate !== undefined
      ? fillPromptTemplate(options.promptTemplate, { history: request.history, question: request.question, context })
      : hookPrompt(options.systemPrompt, request.history, request.question, context);
  const parameters = options.modelParameters ?? { ...options.inference };
  const settings: Record<string, string> = {
    LLM_API: "LAMBDA",
    LLM_STREAMING_ENABLED: streaming ? "true" : "false",
    LLM_QA_MODEL_PARAMS: JSON.stringify(parameters),
    ...(options.promptTemplate !== undefined ? { LLM_QA_PROMPT_TEMPLATE: options.promptTemplate } : {}),
    ...(options.systemPrompt ? { LLM_SYSTEM_PROMPT: options.systemPrompt } : {}),
  };
  return {
    prompt,
    parameters,
    settings,
    streamingAttributes: streaming
      ? {
          sessionId: request.sessionId,
          streamingEndpoint: streaming.endpoint,
          streamingDynamoDbTable: streaming.connectionsTable,
          requestId: request.requestId,
          ...(request.principal ? { principal: request.principal } : {}),
        }
      : {},
  };
}

/** The hook's `generated_text`; GenerationError when it failed or returned none. */
export function generatedText(output: { FunctionError?: string; Payload?: Uint8Array }): string {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(output.Payload ?? new Uint8Array()).toString("utf8"));
  } catch {
    payload = undefined;
  }
  const body = (typeof payload === "object" && payload !== null ? payload : {}) as Record<string, unknown>;
  if (output.FunctionError) {
    const detail = typeof body.errorMessage === "string" ? body.errorMessage : output.FunctionError;
    throw new GenerationError("model_error", HOOK_MESSAGES.failed, true, `hook ${output.FunctionError}: ${detail}`);
  }
  if (typeof body.generated_text !== "string" || body.generated_text === "") {
    throw new GenerationError("model_error", HOOK_MESSAGES.noText, false, "hook payload without generated_text");
  }
  return body.generated_text;
}

/**
 * The hook as a generator. With a `retriever` (knowledge-base mode) the question's passages
 * are retrieved first and handed over as the prompt's context; their sources are the answer's
 * citations.
 */
export function hookGenerator(client: LambdaInvoker, options: HookOptions, retriever?: Retriever): Generator {
  return {
    streamsItself: true,
    async generate(request: GenerateRequest, _sink, guard: StreamGuard) {
      const retrieved = retriever ? await guard.step(retriever.retrieve(request.question, guard.signal)) : undefined;
      const payload = hookPayload(options, request, retrieved?.context);
      const command = new InvokeCommand({
        FunctionName: options.functionArn,
        InvocationType: "RequestResponse",
        Payload: Buffer.from(JSON.stringify(payload)),
      });
      // The hook answers only when done: no events to stall on, only the time budget.
      const output = await guard.step(client.send(command, { abortSignal: guard.signal }), { stall: false });
      return { text: generatedText(output), stopReason: "end_turn", citations: retrieved?.citations ?? [] };
    },
  };
}
