/**
 * The streaming function URL's handler (RESPONSE_STREAM): the runtime's streamifyResponse
 * around the URL door. A function of its own, so the fulfillment function's Lex, API Gateway
 * and asynchronous invocations keep their plain request/response handler.
 */
import { randomUUID } from "node:crypto";
import { depsFromEnv } from "./handler";
import { responseStreaming } from "./response-streaming";
import { urlDoor } from "./url-door";

const runtime = responseStreaming();

export const handler = runtime.streamifyResponse(async (event, responseStream, context) => {
  const remaining = context?.getRemainingTimeInMillis;
  await urlDoor(
    event,
    { open: (statusCode, headers) => runtime.HttpResponseStream.from(responseStream, { statusCode, headers }) },
    {
      remainingMs: typeof remaining === "function" ? () => remaining.call(context) : undefined,
      awsRequestId: context?.awsRequestId ?? randomUUID(),
    },
    depsFromEnv(),
  );
});
