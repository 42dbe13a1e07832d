/**
 * Component args over their defaults. An arg explicitly set to `undefined` keeps the
 * default, which a plain object spread would not.
 */
export function withDefaults<A extends object, D extends Partial<A>>(defaults: D, args: A): A & D {
  const given = Object.fromEntries(Object.entries(args).filter(([, value]) => value !== undefined));
  return { ...defaults, ...given } as A & D;
}
