/**
 * The connection function: `$connect`, `$disconnect` and `$default` of the WebSocket API.
 * Table and TTL come from the stack's environment, never from the client.
 */
import type { APIGatewayProxyResultV2 } from "aws-lambda";
import { optionalBooleanEnv, optionalIntEnv, requiredEnv } from "../shared/aws";
import type { ConnectionsStore } from "../shared/connections";
import { ENV } from "../shared/env";
import { connectionIdOf, type WebSocketEvent } from "../shared/events";
import { logger } from "../shared/observability";
import { ROUTES } from "../shared/routes";
import { connect } from "./connect";
import { answerDefault } from "./default";
import { disconnect } from "./disconnect";
import { respond, type RouteResult } from "./response";

/** API Gateway's maximum connection duration: a row never needs to outlive its socket. */
const DEFAULT_CONNECTION_TTL_SECONDS = 7200;

let cached: { key: string; store: ConnectionsStore } | undefined;

/**
 * Built on first use and kept for the container; rebuilt only if the environment changes (a
 * process hosting it locally). Required on first use rather than imported: `$default` never
 * touches DynamoDB, so neither it nor the init phase pays for the DynamoDB SDK (the bundler
 * keeps a `require` lazy).
 */
function storeFromEnv(): ConnectionsStore {
  const tableName = requiredEnv(ENV.connectionsTable);
  const ttlSeconds = optionalIntEnv(ENV.connectionTtlSeconds, DEFAULT_CONNECTION_TTL_SECONDS, { min: 1 });
  const unboundSessionStreaming = optionalBooleanEnv(ENV.unboundSessionStreaming, false);
  const key = `${tableName}\n${ttlSeconds}\n${unboundSessionStreaming}`;
  if (cached?.key !== key) {
    const { DynamoConnectionsStore } = require("../shared/dynamo-connections") as typeof import("../shared/dynamo-connections");
    cached = { key, store: new DynamoConnectionsStore({ tableName, ttlSeconds, unboundSessionStreaming }) };
  }
  return cached.store;
}

async function route(event: WebSocketEvent, routeKey: string): Promise<RouteResult> {
  switch (routeKey) {
    case ROUTES.connect:
    case ROUTES.disconnect:
      // The id becomes a table key: one API Gateway never sends is refused before it gets there.
      if (connectionIdOf(event.requestContext) === undefined) return respond(400, "requestContext.connectionId is missing or malformed");
      return routeKey === ROUTES.connect ? connect(event, storeFromEnv()) : disconnect(event, storeFromEnv());
    case ROUTES.default:
      return answerDefault(event.body, event.isBase64Encoded);
    default:
      return respond(400, `route ${JSON.stringify(routeKey)} is not served by this function`);
  }
}

/** The event's route key; undefined when the event is not shaped like API Gateway's. */
function routeKeyOf(event: unknown): string | undefined {
  const context = typeof event === "object" && event !== null ? (event as { requestContext?: unknown }).requestContext : undefined;
  const routeKey = typeof context === "object" && context !== null ? (context as { routeKey?: unknown }).routeKey : undefined;
  return typeof routeKey === "string" ? routeKey : undefined;
}

export const handler = async (event: WebSocketEvent): Promise<APIGatewayProxyResultV2> => {
  const routeKey = routeKeyOf(event);
  const connectionId = routeKey === undefined ? undefined : connectionIdOf(event.requestContext);
  let result: RouteResult;
  try {
    result =
      routeKey === undefined
        ? respond(400, "not an API Gateway WebSocket event: requestContext.routeKey is missing")
        : await route(event, routeKey);
  } catch (error) {
    logger.error("connection function failed", { route: routeKey, connectionId, error: error as Error });
    result = respond(500, "internal error; try again");
  }
  logger.info("route handled", { route: routeKey, connectionId, status: result.statusCode });
  return result;
};
