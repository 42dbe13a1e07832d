/**
 * Whether an AWS call failed because the service (or this caller) is over its capacity rather
 * than broken: the throttling answers of DynamoDB and Lambda, HTTP 429, or a request that got
 * no answer within the client's timeout. A door refuses such an ask as `busy` (retryable, as
 * the fair-use limits do), not as an `internal` failure (issue 21, finding 6).
 */

/**
 * DynamoDB: ProvisionedThroughputExceededException, ThrottlingException, RequestLimitExceeded
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html);
 * Lambda Invoke: TooManyRequestsException (429,
 * https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html); smithy's request timeout:
 * TimeoutError.
 */
const OVERLOAD_NAMES = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "TimeoutError",
]);

export function isOverload(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, $metadata } = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  return (typeof name === "string" && OVERLOAD_NAMES.has(name)) || $metadata?.httpStatusCode === 429;
}
