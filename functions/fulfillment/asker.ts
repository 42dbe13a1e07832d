/**
 * The last resort of the WebSocket `ask` job: when its answer reached none of the session's
 * connections (the session could not be listed, say, because DynamoDB failed between the
 * `ask` route and the job), the connection that asked is still waiting on its socket, so it
 * gets the whole outcome there in one go, through the same writer (framing, retries, Gone).
 */
import type { ConnectionsStore } from "../shared/connections";
import { logger } from "../shared/observability";
import type { ConnectionRow } from "../shared/table";
import type { StreamTransport } from "../stream/types";
import { createStreamOpener } from "../stream/writer";
import type { AnswerResult } from "./engine";
import type { AskJob } from "./events";

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/** The asker's row; when the table cannot say, a json connection (what the `ask` route assumes then too). */
async function askerRow(job: AskJob, store: ConnectionsStore): Promise<ConnectionRow | undefined> {
  try {
    const row = await store.find(job.connectionId);
    // No row: the asker has disconnected, nobody waits. Another principal's: not the asker's connection.
    return row && row.principal === job.principal ? row : undefined;
  } catch (error) {
    logger.warn("asker's connection could not be looked up; answering it as json", { error: errorName(error) });
    return { sessionId: job.sessionId, connectionId: job.connectionId, principal: job.principal, format: "json", connectedAt: 0, ttl: 0 };
  }
}

export async function deliverToAsker(job: AskJob, result: AnswerResult, store: ConnectionsStore, transport: StreamTransport): Promise<void> {
  const row = await askerRow(job, store);
  if (!row) return;
  const askerOnly: ConnectionsStore = {
    register: (connection) => store.register(connection),
    find: (connectionId) => store.find(connectionId),
    remove: (key) => store.remove(key),
    listSession: async () => ({ owner: row.principal, connections: [row] }),
  };
  try {
    const stream = await createStreamOpener({ store: askerOnly, transport })({
      sessionId: job.sessionId,
      principal: job.principal,
      requestId: job.requestId,
    });
    if (result.text) stream.delta(result.text);
    if (result.citations.length > 0) stream.citation(result.citations);
    if (result.error) await stream.fail(result.error);
    else await stream.end({ final: result.answer, stopReason: result.stopReason, usage: result.usage });
  } catch (error) {
    logger.warn("the answer could not be delivered to the asker", { error: errorName(error) });
  }
}
