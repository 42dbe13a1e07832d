/**
 * The processes of the streaming and fan-out benchmarks: the AWS side (local stack, which also
 * runs the streaming function URL's real handler), one "Lambda" process per algorithm, one
 * floor process that reads Bedrock directly, and, in this process, the users' WebSocket and
 * Server-Sent Events clients. Every process signs with a bench credential the gateway knows,
 * as a deployed handler signs with its role.
 */
import * as path from "node:path";
import type { BedrockBehavior } from "../local/bedrock";
import { localIamUser, localRoleSession, type LocalCredential } from "../local/gateway";
import { presignWebSocketUrl } from "../client/presign";
import type { methods as AwsMethods, AwsSideInfo } from "./aws-worker";
import { openReceiver } from "./receiver";
import { askOverSse, type SseReceived } from "./sse-client";
import { startWorker, type Worker } from "./ipc";
import type { methods as ProducerMethods, Producer } from "./producer";

export interface Rig {
  readonly aws: Worker<typeof AwsMethods>;
  readonly info: AwsSideInfo;
  readonly producers: Record<Producer, Worker<typeof ProducerMethods>>;
  presign(sessionId: string, format?: "text" | "json"): Promise<string>;
  /** Asks through the streaming function URL as the bench user, reading the answer as Server-Sent Events. */
  askSse(body: { sessionId: string; requestId: string; question: string; mode?: string }, expected: string): Promise<SseReceived>;
  close(): Promise<void>;
}

export function benchCredentials(): { user: LocalCredential; role: LocalCredential } {
  return {
    user: localIamUser("bench-user", { allow: { connect: true, manageConnections: false } }),
    role: localRoleSession("bench-handler-role", { sessionName: "bench", allow: { connect: false, manageConnections: true } }),
  };
}

export function presignFor(info: AwsSideInfo, user: LocalCredential) {
  return (sessionId: string, format: "text" | "json" = "text") =>
    presignWebSocketUrl({ endpoint: info.webSocketUrl, region: info.region, credentials: user, query: { sessionId, format } });
}

/**
 * One short answer through every path before anything is measured, so no figure carries a
 * process's first SDK call (credential and endpoint resolution, the HTTP/2 session, keep-alive sockets).
 */
async function warmUp(rig: Pick<Rig, "aws" | "producers" | "presign" | "askSse">, bedrock: BedrockBehavior): Promise<void> {
  const deltas = ["warm ", "up ", "run"];
  await rig.aws.call("setBedrock", { deltas, deltasPerSecond: 0, firstTokenDelayMs: 0 });
  await rig.producers.floor.call("answer", { sessionId: "bench-warm-up-floor", requestId: "warm-up" });
  for (const algorithm of ["naive", "ours"] as const) {
    const sessionId = `bench-warm-up-${algorithm}`;
    const receiver = await openReceiver({ url: await rig.presign(sessionId), expected: deltas.join(""), format: "text" });
    await rig.producers[algorithm].call("answer", { sessionId, requestId: "warm-up" });
    await receiver.done;
    await receiver.close();
  }
  const sse = await rig.askSse({ sessionId: "bench-warm-up-sse", requestId: "warm-up", question: "warm up", mode: "llm" }, deltas.join(""));
  if (!sse.intact) throw new Error(`the SSE warm-up answer did not arrive whole: ${sse.error ?? JSON.stringify(sse.events)}`);
  await rig.aws.call("idle");
  await rig.aws.call("setBedrock", bedrock);
}

export async function startRig(bedrock: BedrockBehavior): Promise<Rig> {
  const { user, role } = benchCredentials();
  const producerFile = path.join(__dirname, "producer.ts");
  const [aws, floor, naive, ours] = await Promise.all([
    startWorker<typeof AwsMethods>(path.join(__dirname, "aws-worker.ts")),
    startWorker<typeof ProducerMethods>(producerFile),
    startWorker<typeof ProducerMethods>(producerFile),
    startWorker<typeof ProducerMethods>(producerFile),
  ]);
  const producers = { floor, naive, ours };
  const info = await aws.call("start", { credentials: [user, role], bedrock });
  const credentials = { accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey, sessionToken: role.sessionToken };
  await Promise.all((["floor", "naive", "ours"] as const).map((producer) => producers[producer].call("init", { ...info, credentials, producer })));
  const presign = presignFor(info, user);
  const askSse: Rig["askSse"] = (body, expected) => askOverSse({ url: info.functionUrl, region: info.region, credentials: user, body, expected });
  await warmUp({ aws, producers, presign, askSse }, bedrock);
  return {
    aws,
    info,
    producers,
    presign,
    askSse,
    async close() {
      await Promise.all([floor.close(), naive.close(), ours.close()]);
      await aws.close();
    },
  };
}
