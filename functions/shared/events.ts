/**
 * Event shapes API Gateway sends that @types/aws-lambda leaves out: the WebSocket proxy
 * event carries query parameters, headers and (on `$connect` with AWS_IAM) the caller's
 * identity.
 */
import type { APIGatewayProxyWebsocketEventV2 } from "aws-lambda";

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
