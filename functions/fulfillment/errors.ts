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
const NETWORK_CODE = /^(ERR_HTTP2_|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN)/;

interface SdkErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** Maps anything a generator throws to a GenerationError. */
export function toGenerationError(error: unknown): GenerationError {
  if (error instanceof GenerationError) return error;
  if (error instanceof BudgetExhausted) return new GenerationError("timeout", MESSAGES.timeout, true, error.message);
  const sdk = (typeof error === "object" && error !== null ? error : {}) as SdkErrorLike;
  const name = typeof sdk.name === "string" ? sdk.name : "Error";
  const detail = `${name}: ${typeof sdk.message === "string" ? sdk.message : String(error)}`;
  const status = sdk.$metadata?.httpStatusCode;
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
