/**
 * `$disconnect`: deletes the connection's row. API Gateway ignores the answer and never
 * retries, so an unknown connection is fine; a row a failure leaves behind expires by TTL
 * and stream writers drop it at the first 410 Gone.
 */
import type { ConnectionsStore } from "../shared/connections";
import type { WebSocketEvent } from "../shared/events";
import { logger } from "../shared/observability";
import { respond, type RouteResult } from "./response";

export async function disconnect(event: WebSocketEvent, store: ConnectionsStore): Promise<RouteResult> {
  try {
    const row = await store.find(event.requestContext.connectionId);
    if (!row) return respond(200, "unknown connection");
    await store.remove({ sessionId: row.sessionId, connectionId: row.connectionId });
    return respond(200, "disconnected");
  } catch (error) {
    logger.error("could not remove the connection", { error: error as Error });
    return respond(500, "could not remove the connection; it expires by TTL");
  }
}
