/**
 * The WebSocket `ask` route's hand-off: an asynchronous invocation of this same function
 * (InvocationType "Event") carrying the ask job, accepted by Lambda in milliseconds, so the
 * route returns long before API Gateway's 29 s integration timeout however long the answer.
 */
import { InvokeCommand } from "@aws-sdk/client-lambda";
import type { AskJob } from "./events";
import type { LambdaInvoker } from "./hook";

export async function invokeAskJob(client: LambdaInvoker, functionName: string, job: AskJob): Promise<void> {
  const output = await client.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: "Event",
      Payload: Buffer.from(JSON.stringify(job)),
    }),
  );
  // Lambda answers 202 when it queued the event; anything else means the job will not run.
  if (output.StatusCode !== undefined && output.StatusCode !== 202) {
    throw new Error(`asynchronous invoke answered ${output.StatusCode}`);
  }
}
