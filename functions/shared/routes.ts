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

/** Bounds of a route throttle given as text, as the stage's own throttling keys take them. */
export const ROUTE_THROTTLE_LIMITS = { maxRateLimit: 10_000, maxBurstLimit: 5_000 } as const;

/**
 * Route throttles written as text, the syntax of Pulumi config `routeThrottling` and of
 * `npm start -- --route-throttling`: `route=rate:burst` joined by commas, e.g.
 * `ping=10:20,$default=5:10`. A route left out keeps its default; "" changes nothing.
 * Throws an Error naming the part that is wrong.
 */
export function parseRouteThrottling(text: string): Partial<Record<ThrottledRouteKey, RouteThrottle>> {
  const routes = Object.keys(DEFAULT_ROUTE_THROTTLES) as ThrottledRouteKey[];
  const parsed: Partial<Record<ThrottledRouteKey, RouteThrottle>> = {};
  if (text.trim() === "") return parsed;
  const syntax = `route=rate:burst joined by commas, e.g. "ping=10:20,$default=5:10"`;
  for (const part of text.split(",")) {
    const match = /^\s*([^=\s]*)\s*=\s*([^:\s]*)\s*:\s*([^\s]*)\s*$/.exec(part);
    if (!match) throw new Error(`"${part}" is not ${syntax}`);
    const [, route, rate, burst] = match;
    if (!(routes as string[]).includes(route)) {
      // An unquoted $default in a shell expands to nothing and leaves "=5:10".
      const hint = route === "" ? " (in a shell, quote the value: $default expands to nothing)" : "";
      throw new Error(`"${part}" names route "${route}"; only ${routes.join(" and ")} have a throttle of their own${hint}`);
    }
    if (parsed[route as ThrottledRouteKey]) throw new Error(`route ${route} is given twice`);
    const rateLimit = Number(rate);
    if (!/^\d+(\.\d+)?$/.test(rate) || !(rateLimit > 0) || rateLimit > ROUTE_THROTTLE_LIMITS.maxRateLimit) {
      throw new Error(`${route}'s rate must be a positive number of requests per second up to ${ROUTE_THROTTLE_LIMITS.maxRateLimit}, not "${rate}"`);
    }
    const burstLimit = Number(burst);
    if (!/^\d+$/.test(burst) || burstLimit < 1 || burstLimit > ROUTE_THROTTLE_LIMITS.maxBurstLimit) {
      throw new Error(`${route}'s burst must be a whole number of requests from 1 to ${ROUTE_THROTTLE_LIMITS.maxBurstLimit}, not "${burst}"`);
    }
    parsed[route as ThrottledRouteKey] = { rateLimit, burstLimit };
  }
  return parsed;
}
