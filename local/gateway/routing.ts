/**
 * Route selection as API Gateway does it for a WebSocket API, from the same route table
 * the component deploys (functions/shared/routes.ts). Pure.
 */
import { ROUTES, ROUTE_SELECTION_EXPRESSION, TWO_WAY_ROUTE_KEYS } from "../../functions/shared/routes";

/** Routes the deployed API answers with a MOCK integration: no Lambda runs and nothing is sent back. */
export const MOCK_ROUTE_KEYS: ReadonlySet<string> = new Set([ROUTES.ping]);

const SYSTEM_ROUTE_KEYS: ReadonlySet<string> = new Set([ROUTES.connect, ROUTES.disconnect, ROUTES.default]);
const TWO_WAY: ReadonlySet<string> = new Set(TWO_WAY_ROUTE_KEYS);

export type RouteTarget =
  /** A Lambda integration; `twoWay` routes send the integration's response body back to the client. */
  | { readonly kind: "lambda"; readonly routeKey: string; readonly twoWay: boolean }
  | { readonly kind: "mock"; readonly routeKey: string }
  /** Nothing matched and the API has no `$default` route. */
  | { readonly kind: "unrouted" };

/**
 * The property path a `$request.body.{path}` expression (or `${request.body.{path}}`)
 * selects. API Gateway accepts other expression forms; this API uses only this one.
 */
export function selectionPath(expression: string): readonly string[] {
  const m = /^\$(?:\{)?request\.body\.([A-Za-z0-9_$]+(?:\.[A-Za-z0-9_$]+)*)(?:\})?$/.exec(expression);
  if (!m || expression.startsWith("${") !== expression.endsWith("}")) {
    throw new Error(`unsupported route selection expression ${JSON.stringify(expression)}: only $request.body.<path> is emulated`);
  }
  return m[1].split(".");
}

export class RouteTable {
  private readonly path: readonly string[];
  private readonly targets = new Map<string, RouteTarget>();
  private readonly fallback: RouteTarget;

  /** `handledRouteKeys`: the routes that have an integration (a handler). */
  constructor(handledRouteKeys: Iterable<string>, expression: string = ROUTE_SELECTION_EXPRESSION) {
    this.path = selectionPath(expression);
    const handled = new Set(handledRouteKeys);
    for (const key of handled) {
      if (MOCK_ROUTE_KEYS.has(key)) throw new Error(`route ${key} is a MOCK integration in the deployed API; it takes no handler`);
      if (!SYSTEM_ROUTE_KEYS.has(key)) this.targets.set(key, { kind: "lambda", routeKey: key, twoWay: TWO_WAY.has(key) });
    }
    for (const key of MOCK_ROUTE_KEYS) this.targets.set(key, { kind: "mock", routeKey: key });
    this.fallback = handled.has(ROUTES.default)
      ? { kind: "lambda", routeKey: ROUTES.default, twoWay: TWO_WAY.has(ROUTES.default) }
      : { kind: "unrouted" };
  }

  /** The route for one client message. Binary and non-JSON messages cannot be evaluated: `$default`. */
  select(text: string | undefined): RouteTarget {
    if (text === undefined) return this.fallback;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return this.fallback;
    }
    for (const key of this.path) {
      if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.prototype.hasOwnProperty.call(value, key)) {
        return this.fallback;
      }
      value = (value as Record<string, unknown>)[key];
    }
    if (typeof value !== "string") return this.fallback;
    return this.targets.get(value) ?? this.fallback;
  }
}
