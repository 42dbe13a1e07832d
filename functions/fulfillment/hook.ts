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
  /** Model parameters, as QnABot's LLM_QA_MODEL_PARAMS. */
  parameters: InferenceSettings;
  settings: Record<string, string>;
  streamingAttributes: StreamingAttributes | Record<string, never>;
}

export interface HookOptions {
  functionArn: string;
  systemPrompt?: string;
  inference: InferenceSettings;
  /** Set when the stack enabled streaming. */
  streaming?: { endpoint: string; connectionsTable: string };
}

export const HOOK_MESSAGES = {
  failed: "The custom LLM function failed to answer. Please try again.",
  noText: "The custom LLM function returned no generated_text.",
} as const;

/** The prompt as QnABot hands a hook one: history as `Human:`/`AI:` lines, then the question. */
export function hookPrompt(systemPrompt: string | undefined, history: Turn[], question: string): string {
  const parts: string[] = [];
  if (systemPrompt) parts.push(systemPrompt);
  if (history.length > 0) {
    parts.push(["Chat history:", ...history.flatMap((t) => [`Human: ${t.question}`, `AI: ${t.answer}`])].join("\n"));
  }
  parts.push(`Human: ${question}`, "Assistant:");
  return parts.join("\n\n");
}

export function hookPayload(options: HookOptions, request: GenerateRequest): HookPayload {
  const streaming = request.streaming ? options.streaming : undefined;
  return {
    prompt: hookPrompt(options.systemPrompt, request.history, request.question),
    parameters: { ...options.inference },
    settings: { LLM_API: "LAMBDA", LLM_STREAMING_ENABLED: streaming ? "true" : "false" },
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

export function hookGenerator(client: LambdaInvoker, options: HookOptions): Generator {
  return {
    streamsItself: true,
    async generate(request: GenerateRequest, _sink, guard: StreamGuard) {
      const payload = hookPayload(options, request);
      const command = new InvokeCommand({
        FunctionName: options.functionArn,
        InvocationType: "RequestResponse",
        Payload: Buffer.from(JSON.stringify(payload)),
      });
      // The hook answers only when done: no events to stall on, only the time budget.
      const output = await guard.step(client.send(command, { abortSignal: guard.signal }), { stall: false });
      return { text: generatedText(output), stopReason: "end_turn", citations: [] };
    },
  };
}
