/**
 * Why an answer could not be generated, as the protocol's error codes, with a message fit to
 * show the person who asked. What the SDK said stays in `detail`, for the logs only: service
 * messages can name ARNs and model internals.
 */
import type { ErrorCode } from "../shared/protocol";

export class GenerationError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryable: boolean,
    /** Error name and message from the failing call, for logs. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = "GenerationError";
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** The deadline the Lambda time budget set passed before any text was generated. */
export class BudgetExhausted extends Error {
  constructor() {
    super("the function's time budget ran out");
    this.name = "BudgetExhausted";
  }
}

/** The asker stopped the answer (`cancel`), or the client that would read it went away. */
export class AnswerCancelled extends Error {
  constructor() {
    super("the answer was cancelled");
    this.name = "AnswerCancelled";
  }
}

export const MESSAGES = {
  throttled: "The model is receiving too many requests right now. Please try again in a moment.",
  unavailable: "The model is temporarily unavailable and could not finish the answer. Please try again.",
  rejected: "The model could not answer this request.",
  stalled: "The model stopped responding before the answer was complete. Please try again.",
  timeout: "The answer could not be finished in time. Please try again, or ask a shorter question.",
  internal: "Something went wrong while answering. Please try again.",
  // A model that cannot be used as configured: one line each, naming the cause and the fix
  // (for whoever runs the bot; no ARN or account detail, which stays in the logs).
  unreachable: "The model service could not be reached: its address did not resolve (DNS). Check the network connection and the Region.",
  modelNotFound: "The configured model does not exist in this Region: check the model id (or inference profile id) and the Region.",
  needsInferenceProfile: "The configured model cannot be invoked on demand in this Region: use the id of an inference profile that contains it (for example us.… or eu.…).",
  noModelAccess: "This account has no access to the configured model: request access in the Amazon Bedrock console (Model access) and allow the function to invoke it.",
} as const;

/** Throttling and quota errors from Bedrock and Lambda: worth retrying later. */
const THROTTLED = new Set(["ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"]);
/** Transient service-side failures, before or inside a stream. */
const TRANSIENT = new Set([
  "ModelStreamErrorException",
  "InternalServerException",
  "ServiceUnavailableException",
  "ModelTimeoutException",
  "ModelNotReadyException",
  "BadGatewayException",
  "DependencyFailedException",
  "ServiceException",
  "EC2ThrottledException",
]);
/** The request itself was refused: retrying the same request will not help. */
const REJECTED = new Set([
  "ValidationException",
  "AccessDeniedException",
  "ResourceNotFoundException",
  "ModelErrorException",
  "ConflictException",
]);

/** Connection-level failures (an HTTP/2 stream reset, a dropped socket): transient. */
const NETWORK_CODE = /^(ERR_HTTP2_|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT)/;
/** The endpoint's name did not resolve (getaddrinfo): a wrong Region, or no network. */
const DNS_CODE = /^(ENOTFOUND|EAI_AGAIN)$/;

/**
 * Bedrock's refusals of a model as configured, by error name and message as the service sends
 * them for ConverseStream (observed: "The provided model identifier is invalid.", "Invocation of
 * model ID … with on-demand throughput isn’t supported. Retry your request with the ID or ARN of
 * an inference profile that contains this model.", "You don't have access to the model with the
 * specified model ID.", "Model use case details have not been submitted for this account.").
 */
function modelProblem(name: string, message: string): keyof typeof MESSAGES | undefined {
  if (name === "ValidationException" && /on-demand throughput/i.test(message)) return "needsInferenceProfile";
  if (name === "ValidationException" && /model identifier is invalid/i.test(message)) return "modelNotFound";
  if (name === "AccessDeniedException") return "noModelAccess";
  if (name === "ResourceNotFoundException") return /use case details/i.test(message) ? "noModelAccess" : "modelNotFound";
  return undefined;
}

interface SdkErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** The error and its causes (the SDK's HTTP/2 handler wraps a failed lookup in ERR_HTTP2_STREAM_CANCEL). */
function causes(error: unknown): SdkErrorLike[] {
  const chain: SdkErrorLike[] = [];
  for (let e = error; typeof e === "object" && e !== null && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e as SdkErrorLike);
  return chain;
}

/** Maps anything a generator throws to a GenerationError. */
export function toGenerationError(error: unknown): GenerationError {
  if (error instanceof GenerationError) return error;
  if (error instanceof BudgetExhausted) return new GenerationError("timeout", MESSAGES.timeout, true, error.message);
  const sdk = (typeof error === "object" && error !== null ? error : {}) as SdkErrorLike;
  const name = typeof sdk.name === "string" ? sdk.name : "Error";
  const detail = `${name}: ${typeof sdk.message === "string" ? sdk.message : String(error)}`;
  const status = sdk.$metadata?.httpStatusCode;
  if (causes(error).some((e) => typeof e.code === "string" && DNS_CODE.test(e.code))) return new GenerationError("model_error", MESSAGES.unreachable, true, detail);
  const problem = modelProblem(name, typeof sdk.message === "string" ? sdk.message : "");
  if (problem) return new GenerationError("model_error", MESSAGES[problem], false, detail);
  if (THROTTLED.has(name) || status === 429) return new GenerationError("throttled", MESSAGES.throttled, true, detail);
  const network = typeof sdk.code === "string" && NETWORK_CODE.test(sdk.code);
  if (TRANSIENT.has(name) || network || (status !== undefined && status >= 500)) {
    return new GenerationError("model_error", MESSAGES.unavailable, true, detail);
  }
  if (REJECTED.has(name) || (status !== undefined && status >= 400)) {
    return new GenerationError("model_error", MESSAGES.rejected, false, detail);
  }
  return new GenerationError("internal", MESSAGES.internal, false, detail);
}
