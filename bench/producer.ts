/**
 * A "Lambda" process for the streaming and fan-out benchmarks: it produces answers with one
 * algorithm (naive or ours), as the fulfillment function would, against the AWS side's
 * endpoints, and reports each answer's timings and PostToConnection calls. The floor runs in
 * a process of the same kind that only reads the Bedrock stream: an idle process of its own,
 * so no client's work in another process can make the floor look slower than it is.
 */
import type { AwsCredentialIdentity } from "@smithy/types";
import { BENCH_QUESTION, bedrockClient, consumeAnswer, type ConsumedAnswer } from "./converse";
import { epochNow, processUsage, serveWorker } from "./ipc";
import { naiveAnswer, naiveApiClient, type NaiveDeps } from "./naive";
import { benchStreamOpener, documentClient, oursAnswer, type FrameBudget, type OursDeps } from "./ours";

export type Algorithm = "naive" | "ours";
export type Producer = "floor" | Algorithm;

export interface ProducedAnswer extends ConsumedAnswer {
  /** epochNow() when the invocation began (before the connection lookup). */
  startedAt: number;
  /** epochNow() when the last post settled. */
  settledAt: number;
  /** PostToConnection calls made. */
  posts: number;
  connections: number;
}

export interface ProducerOptions {
  readonly producer: Producer;
  readonly region: string;
  readonly managementEndpoint: string;
  readonly dynamoEndpoint: string;
  /** What the local DynamoDB accepts (the AWS side's functions' role). */
  readonly dynamoCredentials: AwsCredentialIdentity;
  readonly connectionsTable: string;
  readonly bedrockEndpoint: string;
  readonly credentials: AwsCredentialIdentity;
}

let produce: ((sessionId: string, requestId: string, flushIntervalMs?: FrameBudget) => Promise<ProducedAnswer>) | undefined;
const closers: (() => void)[] = [];

export const methods = {
  init(options: ProducerOptions): void {
    const { region, credentials } = options;
    const bedrock = bedrockClient(options.bedrockEndpoint, region, credentials);
    closers.push(() => bedrock.destroy());
    if (options.producer === "floor") {
      produce = async () => {
        const startedAt = epochNow();
        const answer = await consumeAnswer(bedrock, BENCH_QUESTION, () => undefined);
        return { ...answer, startedAt, settledAt: answer.lastDeltaAt, posts: 0, connections: 0 };
      };
      return;
    }
    const dynamo = documentClient(options.dynamoEndpoint, region, options.dynamoCredentials);
    closers.push(() => dynamo.destroy());
    if (options.producer === "naive") {
      const deps: NaiveDeps = { bedrock, dynamo, tableName: options.connectionsTable, api: naiveApiClient(options.managementEndpoint, region, credentials) };
      closers.push(() => deps.api.destroy());
      produce = (sessionId) => naiveAnswer(deps, sessionId, BENCH_QUESTION);
    } else {
      const { openWith, transport } = benchStreamOpener({ ...options, dynamo, tableName: options.connectionsTable });
      closers.push(() => transport.destroy());
      const deps: OursDeps = { bedrock, openWith };
      produce = (sessionId, requestId, flushIntervalMs) => oursAnswer(deps, sessionId, requestId, BENCH_QUESTION, flushIntervalMs);
    }
  },
  /** `flushIntervalMs` (ours only): a frame budget other than the writer's defaults. */
  answer({ sessionId, requestId, flushIntervalMs }: { sessionId: string; requestId: string; flushIntervalMs?: FrameBudget }): Promise<ProducedAnswer> {
    if (!produce) throw new Error("producer not initialised");
    return produce(sessionId, requestId, flushIntervalMs);
  },
  usage: processUsage,
  close(): void {
    for (const close of closers.splice(0)) close();
  },
};

serveWorker(methods);
