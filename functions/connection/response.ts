/**
 * What the connection function answers API Gateway with. On `$connect` only the status
 * matters to the client (a non-2xx refuses the upgrade with it); the JSON body names the
 * reason for whoever reads the logs or the local gateway's output.
 */
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";

export type RouteResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

export function respond(statusCode: number, message: string): RouteResult {
  return { statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify({ message }) };
}
