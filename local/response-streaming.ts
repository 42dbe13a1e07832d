/**
 * A stand-in for the Lambda Node.js runtime's `awslambda` global, so a response-streaming
 * handler (functions/fulfillment/url-handler.ts) runs unchanged on the local stack.
 * Faithful to the runtime's contract: `streamifyResponse` marks the handler, which is then
 * called with `(event, responseStream, context)`; `HttpResponseStream.from` writes the HTTP
 * "prelude" (status and headers as JSON) followed by 8 NUL bytes, then the body, the framing
 * the function URL service reads (content type
 * `application/vnd.awslambda.http-integration-response`).
 * https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html
 */
import type { Writable } from "node:stream";
import type { Context } from "aws-lambda";

const STREAMING = Symbol.for("qnabot-streaming.local.streamifyResponse");
const INTEGRATION = Symbol.for("qnabot-streaming.local.httpIntegrationResponse");

/** The 8 NUL bytes between the prelude and the body. */
export const PRELUDE_DELIMITER = Buffer.alloc(8);

export type StreamingHandler = (event: unknown, responseStream: Writable, context: Context) => Promise<unknown>;

/** Whether `handler` was wrapped by streamifyResponse (it takes a response stream). */
export function isStreamingHandler(handler: unknown): handler is StreamingHandler {
  return typeof handler === "function" && (handler as unknown as Record<symbol, unknown>)[STREAMING] === true;
}

/** Whether the handler framed its response with HttpResponseStream.from (a prelude comes first). */
export function hasPrelude(responseStream: Writable): boolean {
  return (responseStream as unknown as Record<symbol, unknown>)[INTEGRATION] === true;
}

const standIn = {
  streamifyResponse(handler: StreamingHandler): StreamingHandler {
    const wrapped: StreamingHandler = (event, responseStream, context) => handler(event, responseStream, context);
    (wrapped as unknown as Record<symbol, unknown>)[STREAMING] = true;
    return wrapped;
  },
  HttpResponseStream: {
    from(responseStream: Writable, prelude: Record<string, unknown>): Writable {
      (responseStream as unknown as Record<symbol, unknown>)[INTEGRATION] = true;
      responseStream.write(Buffer.concat([Buffer.from(JSON.stringify(prelude), "utf8"), PRELUDE_DELIMITER]));
      return responseStream;
    },
  },
};

/**
 * Gives `globalThis.awslambda` the streaming API unless a runtime already did; call before
 * loading a streaming handler. Other packages may have created the object already
 * (@aws/lambda-invoke-store keeps its InvokeStore there), so it is extended, not replaced.
 */
export function installResponseStreaming(): void {
  const global = globalThis as { awslambda?: Record<string, unknown> };
  const runtime = (global.awslambda ??= {});
  runtime.streamifyResponse ??= standIn.streamifyResponse;
  runtime.HttpResponseStream ??= standIn.HttpResponseStream;
}
