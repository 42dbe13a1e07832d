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
} as const;

/** Routes the fulfillment function serves over the WebSocket. */
export const FULFILLMENT_ROUTE_KEYS = [ROUTES.ask, ROUTES.resume, ROUTES.cancel] as const;

/** Routes the connection function serves. */
export const CONNECTION_ROUTE_KEYS = [ROUTES.connect, ROUTES.disconnect, ROUTES.default] as const;

/** Client actions a `$default` error names as accepted. */
export const CLIENT_ACTIONS = [ROUTES.ping, ROUTES.ask, ROUTES.resume, ROUTES.cancel] as const;

/**
 * Routes whose integration response goes back to the client (a RouteResponse `$default`),
 * so `$default` can answer a bad frame without @connections rights.
 */
export const TWO_WAY_ROUTE_KEYS = [ROUTES.default] as const;
