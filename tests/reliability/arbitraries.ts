/**
 * What the fuzzers throw at every entry point: strings a parser trips over (control
 * characters, lone surrogates, right-to-left and zero-width marks, injection attempts, huge
 * ones), values of the wrong type, and near-misses of valid ids.
 */
import fc from "fast-check";

/** Characters that break naive parsers, loggers and terminals. */
const SPECIAL_CHARACTERS = [
  "\u0000", "\u0007", "\b", "\t", "\n", "\r", "\u001b", "\u007f", "\u0085",
  // Lone surrogates: invalid UTF-16, unencodable as UTF-8.
  "\ud800", "\udbff", "\udc00", "\udfff",
  // Right-to-left and bidirectional overrides.
  "\u200f", "\u202e", "\u2066", "\u2069",
  // Zero-width and byte-order marks.
  "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
  "\ufffd", "\uffff", "😀", "👩‍👩‍👧", "é", "ß", "İ", "שלום", "مرحبا", "日本語",
];

/** Strings aimed at the stores, the logs and the pages that show them. */
export const INJECTIONS = [
  "' OR '1'='1",
  '"; DROP TABLE connections; --',
  "#owner",
  "attribute_not_exists(principal)",
  ":sessionId",
  "${jndi:ldap://127.0.0.1/a}",
  "{{7*7}}",
  "<script>alert(1)</script>",
  "javascript:alert(1)",
  "../../../etc/passwd",
  "%00",
  "%2e%2e%2f",
  "\\u0000",
  '","principal":"iam:arn:aws:iam::000000000000:user/attacker',
  "__proto__",
  "constructor",
  "prototype",
  "NaN",
  "null",
  "undefined",
  "[]",
  "{}",
  "$connect",
  "$default",
  "ask",
  "ping",
  "@connections",
  "X-Amz-Signature",
] as const;

/** A string of up to `max` characters, each possibly special. */
function specialString(max: number): fc.Arbitrary<string> {
  return fc.string({ unit: fc.oneof(fc.constantFrom(...SPECIAL_CHARACTERS), fc.string({ minLength: 1, maxLength: 1 })), maxLength: max });
}

/** Strings of every kind, `sizes` bounding the huge ones. */
export function nastyString(options: { hugeChars?: number; near?: readonly string[] } = {}): fc.Arbitrary<string> {
  const huge = options.hugeChars ?? 200_000;
  const near = options.near ?? [];
  const arbitraries: fc.Arbitrary<string>[] = [
    fc.string(),
    fc.string({ unit: "binary" }),
    fc.string({ unit: "binary-ascii" }),
    fc.string({ unit: "grapheme" }),
    specialString(40),
    fc.constantFrom(...INJECTIONS),
    fc.constantFrom("", " ", "\t\n", "a", "-", ".", ":", "_", "a".repeat(128), "a".repeat(129), "r".repeat(64), "r".repeat(65)),
    fc.integer({ min: 1, max: huge }).chain((length) => fc.constantFrom("x", "é", "😀", "\u0000").map((c) => c.repeat(Math.ceil(length / c.length)))),
  ];
  if (near.length > 0) {
    // A valid id with something before or after it: the near-miss a validator must not let through.
    arbitraries.push(
      fc.tuple(fc.constantFrom(...near), specialString(3), fc.boolean()).map(([id, extra, before]) => (before ? extra + id : id + extra)),
      fc.constantFrom(...near).map((id) => id.toUpperCase()),
    );
  }
  return fc.oneof(...arbitraries);
}

/** A value of any JSON-ish type, strings included, to put where a string belongs. */
export function anyValue(strings: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: strings },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined)) },
    { weight: 1, arbitrary: fc.oneof(fc.array(strings, { maxLength: 3 }), fc.dictionary(strings, strings, { maxKeys: 3 }), fc.object({ maxDepth: 2 })) },
  );
}

/** Usually a valid value, sometimes a bad one: most cases then break one or two fields, not all. */
export function mostly<T, U>(valid: fc.Arbitrary<T>, bad: fc.Arbitrary<U>, validWeight = 4): fc.Arbitrary<T | U> {
  return fc.oneof({ weight: validWeight, arbitrary: valid }, { weight: 1, arbitrary: bad });
}

/** A field that may be left out: undefined stands for "absent". */
export function maybe<T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.option(arbitrary, { nil: undefined, freq: 4 });
}

/** Deletes the properties whose value is undefined, so "absent" really is absent. */
export function withoutUndefined<T extends Record<string, unknown>>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as T;
}

/** Removes a random subset of an object's keys (missing requestContext fields). */
export function dropKeys<T extends Record<string, unknown>>(record: T, keys: readonly string[]): T {
  const copy: Record<string, unknown> = { ...record };
  for (const key of keys) delete copy[key];
  return copy as T;
}

export function subsetOf(keys: readonly string[]): fc.Arbitrary<string[]> {
  return fc.subarray([...keys], { maxLength: keys.length });
}
