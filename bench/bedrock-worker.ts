/**
 * The Bedrock emulator alone in its own process, for the concurrency benchmark: a thousand
 * paced streams keep one core busy, so it gets one, and the local stack's handlers are
 * pointed at it (AWS_ENDPOINT_URL_BEDROCK_RUNTIME). It reports when each request arrived
 * and when it finished, so delivery can be timed against the schedule each delta was
 * emitted on, and the emulator's own lateness checked.
 */
import { startBedrockEmulator, type BedrockEmulator, type BedrockEmulatorOptions } from "../local/bedrock";
import { epochNow, processUsage, serveWorker } from "./ipc";

export interface BedrockRequestTiming {
  /** The last user message (the bench puts the request id in it). */
  question: string;
  /** Epoch ms (Date.now()) when the request arrived. */
  receivedAt: number;
  /** epochNow() when the request was seen finished (polled every POLL_MS), if it finished. */
  finishedAt?: number;
  outcome?: string;
  deltasSent: number;
}

const POLL_MS = 10;

let emulator: BedrockEmulator | undefined;
const finishedAt = new Map<number, number>();
let poller: NodeJS.Timeout | undefined;

function questionOf(body: unknown): string {
  const messages = (body as { messages?: { role?: string; content?: { text?: string }[] }[] } | undefined)?.messages ?? [];
  const last = messages.filter((m) => m.role === "user").pop();
  return (last?.content ?? []).map((c) => c.text ?? "").join("");
}

export const methods = {
  async start(options: BedrockEmulatorOptions): Promise<string> {
    emulator = await startBedrockEmulator(options);
    poller = setInterval(() => {
      emulator?.requests.forEach((request, index) => {
        if (request.outcome !== undefined && !finishedAt.has(index)) finishedAt.set(index, epochNow());
      });
    }, POLL_MS);
    return emulator.endpoint;
  },
  requests(): BedrockRequestTiming[] {
    return (emulator?.requests ?? []).map((request, index) => ({
      question: questionOf(request.body),
      receivedAt: request.receivedAt,
      finishedAt: finishedAt.get(index),
      outcome: request.outcome,
      deltasSent: request.deltasSent,
    }));
  },
  usage: processUsage,
  async close(): Promise<void> {
    clearInterval(poller);
    await emulator?.close();
  },
};

serveWorker(methods);
