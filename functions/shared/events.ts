/**
 * Event shapes API Gateway sends that @types/aws-lambda leaves out: the WebSocket proxy
 * event carries query parameters, headers and (on `$connect` with AWS_IAM) the caller's
 * identity.
 */
import type { APIGatewayProxyWebsocketEventV2 } from "aws-lambda";

/**
 * The shape of a connection id: API Gateway's (`L0SM9cOFvHcCIhw=`) are base64, a little
 * leeway (`:` `.`) keeps test and emulator ids. An id of any other shape (huge, control
 * characters, `#owner`) did not come from API Gateway and must not reach a table key or a URL.
 */
export const CONNECTION_ID_PATTERN = /^[A-Za-z0-9+/=_:.-]{1,128}$/;

/** The event's connection id when it has API Gateway's shape, else undefined. */
export function connectionIdOf(requestContext: unknown): string | undefined {
  const id = typeof requestContext === "object" && requestContext !== null ? (requestContext as { connectionId?: unknown }).connectionId : undefined;
  return typeof id === "string" && CONNECTION_ID_PATTERN.test(id) ? id : undefined;
}

export interface WebSocketIdentity {
  sourceIp?: string;
  userAgent?: string;
  accountId?: string | null;
  caller?: string | null;
  user?: string | null;
  userArn?: string | null;
  accessKey?: string | null;
  cognitoIdentityId?: string | null;
  cognitoIdentityPoolId?: string | null;
  cognitoAuthenticationType?: string | null;
  cognitoAuthenticationProvider?: string | null;
  principalOrgId?: string | null;
}

export type WebSocketEvent = Omit<APIGatewayProxyWebsocketEventV2, "requestContext"> & {
  requestContext: APIGatewayProxyWebsocketEventV2["requestContext"] & {
    identity?: WebSocketIdentity;
  };
  queryStringParameters?: Record<string, string | undefined> | null;
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null;
  headers?: Record<string, string | undefined> | null;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
};
