/**
 * The local API Gateway V2 WebSocket emulator: start one with `startWebSocketGateway`,
 * configure who may sign with the credential helpers.
 */
export {
  AWS_WEBSOCKET_LIMITS,
  startWebSocketGateway,
  type GatewayLimits,
  type GatewayLogger,
  type GatewayStats,
  type RouteHandler,
  type RouteIntegration,
  type WebSocketGateway,
  type WebSocketGatewayOptions,
} from "./gateway";
export type { CloseStatus, GatewayConnectionInfo } from "./connection";
export type { ConnectIdentity } from "./events";
export type { ConnectionsApiBehaviour, ConnectionsApiFault, ConnectionsApiMethod, ConnectionsApiRequest, ConnectionsApiStats } from "./connections-api";
export {
  CredentialStore,
  LOCAL_ACCOUNT_ID,
  localCognitoIdentity,
  localIamUser,
  localRoleSession,
  type CredentialLookup,
  type LocalCallerIdentity,
  type LocalCognitoIdentityOptions,
  type LocalCredential,
  type LocalIamUserOptions,
  type LocalRoleOptions,
} from "./credentials";
export { MOCK_ROUTE_KEYS } from "./routing";
export { DEFAULT_ROUTE_THROTTLES, DEFAULT_STAGE_THROTTLE, TokenBucket, checkStageThrottle, type RouteThrottles, type StageThrottle } from "./throttle";
export { hostWithoutPort } from "./sigv4";
