/**
 * What the emulator does with a request: pace, scripted answers and injected faults. A
 * default behaviour applies to every request; queued scripts override it for one request.
 */

export type BedrockOperation = "ConverseStream" | "Converse" | "RetrieveAndGenerateStream" | "RetrieveAndGenerate" | "Retrieve";

export interface InjectedHttpError {
  /** Error type sent as `x-amzn-errortype`, e.g. `ThrottlingException`; the SDK error's `name`. */
  readonly type: string;
  /** HTTP status. @default the status Bedrock uses for `type` (see ERROR_STATUS), else 500 */
  readonly status?: number;
  /** @default a message naming the injected fault */
  readonly message?: string;
}

export interface InjectedStreamError {
  /** Deltas emitted before the exception (capped at the answer's length). */
  readonly afterDeltas: number;
  /**
   * Exception type, e.g. `modelStreamErrorException` or `ThrottlingException` (either case:
   * the event header uses the camel-case union member, the SDK error's `name` the Pascal case).
   */
  readonly type: string;
  /** @default a message naming the injected fault */
  readonly message?: string;
}

export interface InjectedStall {
  /** Deltas emitted before the stall (capped at the answer's length). */
  readonly afterDeltas: number;
  /** How long the stream stays silent before it resumes. @default until the client or the emulator closes it */
  readonly forMs?: number;
}

export interface InjectedReset {
  /** Deltas emitted before the stream is reset (RST_STREAM INTERNAL_ERROR, or a dropped HTTP/1.1 connection). */
  readonly afterDeltas: number;
}

export interface ScriptedCitation {
  /** Index of the delta after which the citation event is sent. @default the last delta */
  readonly afterDelta?: number;
  /** The cited part of the answer. @default the whole answer */
  readonly text?: string;
  /** Retrieved passages the part is drawn from. */
  readonly references: ReadonlyArray<{ readonly uri: string; readonly text: string }>;
}

/**
 * The request's guardrail intervenes, as Bedrock Guardrails do: the answer is cut after some
 * deltas (0: the question itself was blocked) and the guardrail's blocked message is sent in
 * its place. ConverseStream then stops with `guardrail_intervened` (and reports the
 * assessment in `metadata.trace.guardrail` when the request enabled the trace);
 * RetrieveAndGenerateStream sends a `guardrail` event with action INTERVENED. Only a request
 * that names a guardrail can be intervened on; others are answered normally.
 */
export interface InjectedGuardrailIntervention {
  /** Deltas of the answer sent before the intervention. @default 0 (the input is blocked) */
  readonly afterDeltas?: number;
  /** The guardrail's blocked message. @default DEFAULT_BLOCKED_MESSAGE */
  readonly message?: string;
  /** Name of the denied topic the assessment reports. @default "Denied topic" */
  readonly topic?: string;
}

/** The blocked-input message a new guardrail has in the Bedrock console. */
export const DEFAULT_BLOCKED_MESSAGE = "Sorry, the model cannot answer this question.";

export interface BedrockBehavior {
  /** Deltas emitted per second, evenly spaced; 0 emits as fast as the stream accepts them. @default 40 */
  readonly deltasPerSecond?: number;
  /** Milliseconds between the request and the first event (the model's time to first token). @default 300 */
  readonly firstTokenDelayMs?: number;
  /** Exact deltas to emit instead of the stand-in model's retrieval answer. */
  readonly deltas?: readonly string[];
  /**
   * Reasoning deltas streamed before the answer to a Converse* request that asks for thinking
   * (thinking.ts); they count first for the faults' `afterDeltas`. @default the stand-in's reasoning
   */
  readonly reasoning?: readonly string[];
  /** Citations for scripted deltas (RetrieveAndGenerate operations). @default none */
  readonly citations?: readonly ScriptedCitation[];
  /** ConverseStream / Converse stop reason. @default "end_turn" */
  readonly stopReason?: string;
  /** RetrieveAndGenerate operations: sends a guardrail event (or field) with this action. @default none */
  readonly guardrailAction?: string;
  /** The request's guardrail (if it names one) intervenes. @default no intervention */
  readonly guardrailIntervention?: InjectedGuardrailIntervention;
  /**
   * Milliseconds between a request's arrival and its response's status and headers: a Bedrock
   * that has the request and has not answered yet (or, as the local emulator under load, a
   * connection not yet accepted). @default 0
   */
  readonly responseDelayMs?: number;
  /** Answers with this HTTP error instead of a response. */
  readonly httpError?: InjectedHttpError;
  /** Ends the stream with an exception event after some deltas (non-streaming operations: the HTTP error of that type). */
  readonly streamError?: InjectedStreamError;
  /** Stops emitting after some deltas, keeping the stream open. */
  readonly stall?: InjectedStall;
  /**
   * Breaks the stream off after some deltas, as a failing server or network does. The SDK
   * ends the iteration without an error: only the missing closing events tell.
   */
  readonly reset?: InjectedReset;
}

/** A behaviour for the next matching request only, merged over the default behaviour. */
export interface RequestScript extends BedrockBehavior {
  /** Only a request of this operation takes the script. @default any operation */
  readonly operation?: BedrockOperation;
}

export const DEFAULT_DELTAS_PER_SECOND = 40;
export const DEFAULT_FIRST_TOKEN_DELAY_MS = 300;

/** HTTP statuses the Bedrock services use for their error types. */
export const ERROR_STATUS: Readonly<Record<string, number>> = {
  AccessDeniedException: 403,
  BadGatewayException: 502,
  ConflictException: 409,
  DependencyFailedException: 424,
  InternalServerException: 500,
  ModelErrorException: 424,
  ModelNotReadyException: 429,
  ModelStreamErrorException: 424,
  ModelTimeoutException: 408,
  ResourceNotFoundException: 404,
  SerializationException: 400,
  ServiceQuotaExceededException: 400,
  ServiceUnavailableException: 503,
  ThrottlingException: 429,
  UnknownOperationException: 404,
  ValidationException: 400,
};

export function pascalCase(type: string): string {
  return type.charAt(0).toUpperCase() + type.slice(1);
}

export function camelCase(type: string): string {
  return type.charAt(0).toLowerCase() + type.slice(1);
}

/** Validates a behaviour up front, so a typo fails the caller instead of a request later. */
export function checkBehavior(b: BedrockBehavior): void {
  const nonNegative = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`${name} must be a finite number >= 0, got ${v}`);
  };
  nonNegative("deltasPerSecond", b.deltasPerSecond);
  nonNegative("firstTokenDelayMs", b.firstTokenDelayMs);
  nonNegative("responseDelayMs", b.responseDelayMs);
  nonNegative("streamError.afterDeltas", b.streamError?.afterDeltas);
  nonNegative("stall.afterDeltas", b.stall?.afterDeltas);
  nonNegative("stall.forMs", b.stall?.forMs);
  nonNegative("reset.afterDeltas", b.reset?.afterDeltas);
  nonNegative("guardrailIntervention.afterDeltas", b.guardrailIntervention?.afterDeltas);
  if (b.deltas && b.deltas.some((d) => typeof d !== "string")) throw new TypeError("deltas must be strings");
  if (b.reasoning && b.reasoning.some((d) => typeof d !== "string")) throw new TypeError("reasoning must be strings");
  if (b.httpError && !b.httpError.type) throw new TypeError("httpError.type is required");
  const status = b.httpError?.status;
  if (status !== undefined && !(Number.isInteger(status) && status >= 400 && status <= 599)) {
    throw new RangeError(`httpError.status must be an HTTP error status, got ${status}`);
  }
  if (b.streamError && !b.streamError.type) throw new TypeError("streamError.type is required");
}
