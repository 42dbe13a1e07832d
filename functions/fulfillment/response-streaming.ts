/// <reference types="aws-lambda" />
/**
 * The Lambda Node.js runtime's response streaming API, the `awslambda` global (typed by
 * @types/aws-lambda): the runtime defines it before loading a handler, and the local stack
 * defines a stand-in (local/response-streaming.ts) so the same handler runs offline.
 * https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html
 */

export type ResponseStreamingRuntime = typeof awslambda;

/** The runtime's API; a clear error where there is none (a plain Node.js process). */
export function responseStreaming(): ResponseStreamingRuntime {
  const runtime = (globalThis as { awslambda?: Partial<ResponseStreamingRuntime> }).awslambda;
  // Other packages create the object too (@aws/lambda-invoke-store): the API itself must be there.
  if (typeof runtime?.streamifyResponse !== "function" || !runtime.HttpResponseStream) {
    throw new Error("response streaming needs the Lambda Node.js runtime's awslambda global (or the local stack's stand-in)");
  }
  return runtime as ResponseStreamingRuntime;
}
