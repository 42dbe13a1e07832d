/**
 * DynamoDB call bounds, in a module without the SDK so the handlers' environment readers and
 * the hang tests can name them without loading it.
 */

/**
 * Milliseconds one DynamoDB request may take before it fails. Without one, a call that never
 * answers holds the answer (and its client) until the Lambda's own timeout; the SDK's default
 * has none (issue 21, finding 2). DynamoDB answers in milliseconds, so 10 s of a silent socket
 * is a fault, with room for an emulator that a loaded machine slows (DYNAMODB_REQUEST_TIMEOUT_MS
 * overrides it). It runs once the request has a socket: no connection timeout, because smithy's
 * counts the wait for a free socket of the pool too, and a process with hundreds of calls in
 * flight (the local stack under load) would fail calls that were merely queued.
 */
export const DYNAMO_REQUEST_TIMEOUT_MS = 10_000;
/** Attempts per call: the SDK's standard retry strategy default, stated so the hang bounds can use it. */
export const DYNAMO_MAX_ATTEMPTS = 3;
