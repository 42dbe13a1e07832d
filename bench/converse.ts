/**
 * Consumes one ConverseStream answer with the real SDK client, timing it: what the floor
 * client does, and what both producers (naive and ours) do before they deliver each delta.
 */
import { BedrockRuntimeClient, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import type { AwsCredentialIdentity } from "@smithy/types";
import { epochNow } from "./ipc";

/** What every bench answer is asked (the emulator answers with the scripted deltas whatever the question). */
export const BENCH_QUESTION = "Explain how the answer reaches the client.";

export const BENCH_MODEL_ID = "us.anthropic.claude-3-5-haiku-20241022-v1:0";

export function bedrockClient(endpoint: string, region: string, credentials: AwsCredentialIdentity): BedrockRuntimeClient {
  return new BedrockRuntimeClient({ endpoint, region, credentials });
}

export interface ConsumedAnswer {
  text: string;
  deltas: number;
  /** epochNow() of the first stream event (the first Bedrock byte of the answer). */
  firstEventAt: number;
  firstDeltaAt: number;
  lastDeltaAt: number;
  /** epochNow() of each delta as it was read: the model's schedule, where nothing held the reader up. */
  deltaAt: number[];
}

/**
 * Streams an answer to `question`, handing each delta to `onDelta` in order; a promise it
 * returns is awaited before the next event is read (QnABot's serial loop), a void return is not.
 */
export async function consumeAnswer(
  client: BedrockRuntimeClient,
  question: string,
  onDelta: (text: string) => void | Promise<void>,
): Promise<ConsumedAnswer> {
  const response = await client.send(
    new ConverseStreamCommand({ modelId: BENCH_MODEL_ID, messages: [{ role: "user", content: [{ text: question }] }] }),
  );
  if (!response.stream) throw new Error("ConverseStream returned no stream");
  let text = "";
  let deltas = 0;
  let firstEventAt: number | undefined;
  let firstDeltaAt: number | undefined;
  let lastDeltaAt = Number.NaN;
  const deltaAt: number[] = [];
  let stopped = false;
  for await (const event of response.stream) {
    firstEventAt ??= epochNow();
    const chunk = event.contentBlockDelta?.delta?.text;
    if (chunk) {
      lastDeltaAt = epochNow();
      firstDeltaAt ??= lastDeltaAt;
      deltaAt.push(lastDeltaAt);
      text += chunk;
      deltas++;
      const pending = onDelta(chunk);
      if (pending) await pending;
    } else if (event.messageStop) {
      stopped = true;
    }
  }
  if (!stopped || firstEventAt === undefined || firstDeltaAt === undefined) throw new Error("the answer stream ended early");
  return { text, deltas, firstEventAt, firstDeltaAt, lastDeltaAt, deltaAt };
}
