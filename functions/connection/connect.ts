/**
 * `$connect`: checks the query (`sessionId`, `format`), checks that the caller may claim the
 * session, records its claim and the connection (design.md, "Security model").
 */
import type { ConnectionsStore } from "../shared/connections";
import type { WebSocketEvent } from "../shared/events";
import { logger } from "../shared/observability";
import { assertMayClaimSession, principalFromIdentity } from "../shared/principal";
import { ProtocolError, parseFormat, validateSessionId } from "../shared/protocol";
import type { StreamFormat } from "../shared/table";
import { respond, type RouteResult } from "./response";

export async function connect(event: WebSocketEvent, store: ConnectionsStore): Promise<RouteResult> {
  const query = event.queryStringParameters ?? {};
  let sessionId: string;
  let format: StreamFormat;
  try {
    sessionId = validateSessionId(query.sessionId);
    format = parseFormat(query.format);
  } catch (error) {
    if (error instanceof ProtocolError) return respond(error.status, error.message);
    throw error;
  }

  const principal = principalFromIdentity(event.requestContext.identity);
  if (!principal) {
    // API Gateway only lets signed requests through an AWS_IAM route, and those carry an identity.
    logger.error("$connect without a caller identity: the route is not using AWS_IAM authorization");
    return respond(401, "no caller identity: the $connect route must use AWS_IAM authorization");
  }

  try {
    assertMayClaimSession(principal, sessionId);
    await store.register({ sessionId, connectionId: event.requestContext.connectionId, principal: principal.id, format });
  } catch (error) {
    if (error instanceof ProtocolError) {
      logger.warn("session claim refused", { principalKind: principal.kind, reason: error.message });
      return respond(error.status, error.message);
    }
    logger.error("could not register the connection", { error: error as Error });
    return respond(500, "could not register the connection; try connecting again");
  }
  return respond(200, "connected");
}
