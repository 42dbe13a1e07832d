/**
 * WebSocket events shaped like the ones API Gateway sends a Lambda proxy integration
 * (field for field after captured `$connect`/`$disconnect`/message events; on an AWS_IAM
 * `$connect`, `requestContext.identity` carries the signer). Shared by the tests of every
 * function behind the WebSocket API.
 */
import { randomBytes } from "node:crypto";
import type { WebSocketEvent, WebSocketIdentity } from "../../functions/shared/events";
import { ROUTES } from "../../functions/shared/routes";

export const TEST_ACCOUNT_ID = "123456789012";
export const TEST_API_ID = "a1b2c3d4e5";
export const TEST_STAGE = "Prod";
export const TEST_DOMAIN = `${TEST_API_ID}.execute-api.us-east-1.amazonaws.com`;

/** A fresh id in API Gateway's connection-id shape (`BFaT_fALIAMCKug=`). */
export function newConnectionId(): string {
  return `${randomBytes(11).toString("base64url")}=`;
}

/** A fresh Cognito identity id (what Lex Web UI sends as sessionId). */
export function newCognitoIdentityId(region = "us-east-1"): string {
  const hex = randomBytes(16).toString("hex");
  return `${region}:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const NO_IDENTITY_FIELDS: WebSocketIdentity = {
  accountId: null,
  accessKey: null,
  caller: null,
  cognitoAuthenticationProvider: null,
  cognitoAuthenticationType: null,
  cognitoIdentityId: null,
  cognitoIdentityPoolId: null,
  principalOrgId: null,
  user: null,
  userArn: null,
  sourceIp: "203.0.113.10",
  userAgent: "test-client/1.0",
};

/** The identity of a request signed with an IAM user's or role's credentials. */
export function iamIdentity(userArn = `arn:aws:iam::${TEST_ACCOUNT_ID}:user/alice`): WebSocketIdentity {
  return {
    ...NO_IDENTITY_FIELDS,
    accountId: TEST_ACCOUNT_ID,
    accessKey: "AKIAIOSFODNN7EXAMPLE",
    caller: "AIDAJQABLZS4A3QDU576Q",
    user: "AIDAJQABLZS4A3QDU576Q",
    userArn,
  };
}

/** The identity of a request signed with Cognito identity-pool credentials (Lex Web UI). */
export function cognitoIdentity(identityId: string, authenticated = true): WebSocketIdentity {
  const roleName = authenticated ? "Cognito_QnABotAuth_Role" : "Cognito_QnABotUnauth_Role";
  return {
    ...NO_IDENTITY_FIELDS,
    accountId: TEST_ACCOUNT_ID,
    accessKey: "ASIAIOSFODNN7EXAMPLE",
    caller: `AROAEXAMPLEROLEID:CognitoIdentityCredentials`,
    user: `AROAEXAMPLEROLEID:CognitoIdentityCredentials`,
    userArn: `arn:aws:sts::${TEST_ACCOUNT_ID}:assumed-role/${roleName}/CognitoIdentityCredentials`,
    cognitoIdentityId: identityId,
    cognitoIdentityPoolId: "us-east-1:00000000-1111-2222-3333-444444444444",
    cognitoAuthenticationType: authenticated ? "authenticated" : "unauthenticated",
    cognitoAuthenticationProvider: authenticated
      ? `cognito-idp.us-east-1.amazonaws.com/us-east-1_Example,cognito-idp.us-east-1.amazonaws.com/us-east-1_Example:CognitoSignIn:${identityId}`
      : null,
  };
}

/** The query-string parameters a SigV4-presigned URL adds; API Gateway passes them on. */
const SIGNATURE_PARAMETERS = {
  "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
  "X-Amz-Credential": "AKIAIOSFODNN7EXAMPLE/20250101/us-east-1/execute-api/aws4_request",
  "X-Amz-Date": "20250101T000000Z",
  "X-Amz-Expires": "300",
  "X-Amz-SignedHeaders": "host",
  "X-Amz-Signature": "0".repeat(64),
};

interface CommonOptions {
  connectionId?: string;
  /** Epoch milliseconds of the request. @default Date.now() */
  requestTimeEpoch?: number;
  /** Epoch milliseconds the connection was opened. @default requestTimeEpoch */
  connectedAt?: number;
}

function requestContext(routeKey: string, eventType: "CONNECT" | "MESSAGE" | "DISCONNECT", options: CommonOptions) {
  const requestTimeEpoch = options.requestTimeEpoch ?? Date.now();
  const requestId = `${randomBytes(11).toString("base64url")}=`;
  return {
    routeKey,
    eventType,
    messageId: null as string | null,
    extendedRequestId: requestId,
    requestTime: new Date(requestTimeEpoch).toUTCString(),
    messageDirection: "IN" as const,
    stage: TEST_STAGE,
    connectedAt: options.connectedAt ?? requestTimeEpoch,
    requestTimeEpoch,
    requestId,
    domainName: TEST_DOMAIN,
    connectionId: options.connectionId ?? newConnectionId(),
    apiId: TEST_API_ID,
  };
}

function multiValue(record: Record<string, string>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name, [value]]));
}

export interface ConnectEventOptions extends CommonOptions {
  /** Query parameters the client put in the URL (sessionId, format); the signature's are added. */
  query?: Record<string, string>;
  /** `requestContext.identity`; `null` leaves it out (a route without AWS_IAM). @default iamIdentity() */
  identity?: WebSocketIdentity | null;
}

export function connectEvent(options: ConnectEventOptions = {}): WebSocketEvent {
  const query = { ...(options.query ?? {}), ...SIGNATURE_PARAMETERS };
  const headers = {
    Host: TEST_DOMAIN,
    "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
    "Sec-WebSocket-Version": "13",
    "X-Amzn-Trace-Id": `Root=1-${randomBytes(4).toString("hex")}-${randomBytes(12).toString("hex")}`,
    "X-Forwarded-For": "203.0.113.10",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
  };
  const context = requestContext(ROUTES.connect, "CONNECT", options);
  const identity = options.identity === undefined ? iamIdentity() : options.identity;
  const event = {
    headers,
    multiValueHeaders: multiValue(headers),
    queryStringParameters: query,
    multiValueQueryStringParameters: multiValue(query),
    requestContext: identity === null ? context : { ...context, identity },
    isBase64Encoded: false,
  };
  return event as unknown as WebSocketEvent;
}

export interface DisconnectEventOptions extends CommonOptions {
  /** WebSocket close code. @default 1000 */
  statusCode?: number;
  reason?: string;
}

export function disconnectEvent(options: DisconnectEventOptions = {}): WebSocketEvent {
  const headers = { Host: TEST_DOMAIN, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": "" };
  const event = {
    headers,
    multiValueHeaders: multiValue(headers),
    requestContext: {
      ...requestContext(ROUTES.disconnect, "DISCONNECT", options),
      disconnectStatusCode: options.statusCode ?? 1000,
      disconnectReason: options.reason ?? "",
      identity: { sourceIp: NO_IDENTITY_FIELDS.sourceIp, userAgent: NO_IDENTITY_FIELDS.userAgent },
    },
    isBase64Encoded: false,
  };
  return event as unknown as WebSocketEvent;
}

export interface MessageEventOptions extends CommonOptions {
  /** The route API Gateway selected. @default "$default" */
  routeKey?: string;
  /** The frame as the client sent it; binary frames arrive base64-encoded. */
  body?: string;
  isBase64Encoded?: boolean;
}

export function messageEvent(options: MessageEventOptions = {}): WebSocketEvent {
  const context = requestContext(options.routeKey ?? ROUTES.default, "MESSAGE", options);
  const event = {
    requestContext: {
      ...context,
      messageId: `${randomBytes(11).toString("base64url")}=`,
      identity: { sourceIp: NO_IDENTITY_FIELDS.sourceIp, userAgent: NO_IDENTITY_FIELDS.userAgent },
    },
    body: options.body,
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
  return event as unknown as WebSocketEvent;
}
