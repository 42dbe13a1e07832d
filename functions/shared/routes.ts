/**
 * WebSocket route keys: the one table both the deployed API (components/streaming.ts)
 * and the local gateway emulator (local/) read, so the two can never disagree.
 */
export const ROUTE_SELECTION_EXPRESSION = "$request.body.action";

export const ROUTES = {
  connect: "$connect",
  disconnect: "$disconnect",
  default: "$default",
  /** One-way keep-alive: a MOCK integration, never a Lambda. */
  ping: "ping",
  /** Ask a question over the socket; served by the fulfillment function. */
  ask: "ask",
  /** The rest of an answer after a reconnect (`format=json`); served by the fulfillment function. */
  resume: "resume",
  /** Stop generating an answer (the Stop button); served by the fulfillment function. */
  cancel: "cancel",
  /** Rate one of the caller's ended answers; served by the fulfillment function. */
  feedback: "feedback",
} as const;

/** Routes the fulfillment function serves over the WebSocket. */
export const FULFILLMENT_ROUTE_KEYS = [ROUTES.ask, ROUTES.resume, ROUTES.cancel, ROUTES.feedback] as const;

/** Routes the connection function serves. */
export const CONNECTION_ROUTE_KEYS = [ROUTES.connect, ROUTES.disconnect, ROUTES.default] as const;

/** Client actions a `$default` error names as accepted. */
export const CLIENT_ACTIONS = [ROUTES.ping, ROUTES.ask, ROUTES.resume, ROUTES.cancel, ROUTES.feedback] as const;

/**
 * Routes whose integration response goes back to the client (a RouteResponse `$default`),
 * so `$default` can answer a bad frame without @connections rights.
 */
export const TWO_WAY_ROUTE_KEYS = [ROUTES.default] as const;

/** A route's own token bucket (API Gateway route-level throttling). */
export interface RouteThrottle {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Requests that may arrive at once (the bucket's size). */
  readonly burstLimit: number;
}

/** Routes that run no answer and get a throttle of their own. */
export type ThrottledRouteKey = typeof ROUTES.ping | typeof ROUTES.default;

/**
 * `ping` and `$default` run no answer, so each gets a small bucket of its own and cannot spend
 * the stage budget `$connect` and `ask` draw on (issue 21: 400 pings/s from one socket made
 * another principal's `$connect`s fail with 429). Clients ping once per 9 minutes, so 10/s
 * serves thousands of sockets; `$default` only answers mistakes.
 */
export const DEFAULT_ROUTE_THROTTLES: Readonly<Record<ThrottledRouteKey, RouteThrottle>> = {
  [ROUTES.ping]: { rateLimit: 10, burstLimit: 20 },
  [ROUTES.default]: { rateLimit: 5, burstLimit: 10 },
};
