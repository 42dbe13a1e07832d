/**
 * Query strings and headers as API Gateway hands them to a Lambda proxy integration:
 * decoded, last value wins in the single-value map, every value kept in the multi-value one.
 */

export type QueryParameters = Readonly<Record<string, string | string[]>>;

export interface ParsedQuery {
  /** Decoded name/value pairs in wire order. */
  readonly pairs: readonly (readonly [string, string])[];
  /** Decoded values by name: a string, or an array when the name repeats (what SigV4 canonicalises). */
  readonly params: QueryParameters;
}

/** Assigns an own property even for names like `__proto__`, which plain assignment would swallow. */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    // A malformed escape is passed on as sent, like API Gateway does with what it cannot decode.
    return component;
  }
}

export function parseQuery(raw: string): ParsedQuery {
  const pairs: (readonly [string, string])[] = [];
  const params: Record<string, string | string[]> = {};
  if (raw === "") return { pairs, params };
  for (const part of raw.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? "" : decode(part.slice(eq + 1));
    pairs.push([name, value]);
    const existing = Object.prototype.hasOwnProperty.call(params, name) ? params[name] : undefined;
    setOwn(params, name, existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value]);
  }
  return { pairs, params };
}

export interface ProxyMaps {
  single: Record<string, string>;
  multi: Record<string, string[]>;
}

/** `{name: lastValue}` and `{name: [values…]}` from ordered pairs. */
export function proxyMaps(pairs: Iterable<readonly [string, string]>): ProxyMaps {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of pairs) {
    setOwn(single, name, value);
    const values = Object.prototype.hasOwnProperty.call(multi, name) ? multi[name] : undefined;
    if (values) values.push(value);
    else setOwn(multi, name, [value]);
  }
  return { single, multi };
}
