// What an expression may call. Everything here is pure (no clock, no randomness, no I/O) and
// none of it mutates its receiver, so evaluating a binding can never change app state; a
// method that is not listed is refused by name rather than looked up on the value.

/** Methods callable on strings. `repeat`, `padStart` and `padEnd` are size-checked first. */
export const STRING_METHODS: ReadonlySet<string> = new Set([
  "at",
  "charAt",
  "concat",
  "endsWith",
  "includes",
  "indexOf",
  "lastIndexOf",
  "localeCompare",
  "normalize",
  "padEnd",
  "padStart",
  "repeat",
  "replace",
  "replaceAll",
  "slice",
  "split",
  "startsWith",
  "substring",
  "toLowerCase",
  "toString",
  "toUpperCase",
  "trim",
  "trimEnd",
  "trimStart",
]);

/**
 * Methods callable on arrays. The in-place ones (`sort`, `reverse`, `push`, `splice`, …) are
 * left out because the array may be app state shared with other components; `toSorted` and
 * `toReversed` give the same results on a copy.
 */
export const ARRAY_METHODS: ReadonlySet<string> = new Set([
  "at",
  "concat",
  "every",
  "filter",
  "find",
  "findIndex",
  "findLast",
  "findLastIndex",
  "flat",
  "flatMap",
  "includes",
  "indexOf",
  "join",
  "lastIndexOf",
  "map",
  "reduce",
  "reduceRight",
  "slice",
  "some",
  "toReversed",
  "toSorted",
]);

/** Methods callable on numbers. */
export const NUMBER_METHODS: ReadonlySet<string> = new Set([
  "toFixed",
  "toPrecision",
  "toString",
]);

type Helper = (...args: unknown[]) => unknown;

// Helpers take and return plain values. They are this module's own functions (not the
// browser's `Math` or `JSON` objects), so a member of a namespace can't lead anywhere else.
const round = (fn: (n: number) => number): Helper => (n) => fn(Number(n));

function keysOf(value: unknown): string[] {
  return value !== null && typeof value === "object" ? Object.keys(value) : [];
}

/** Namespaced helpers, called as `Math.round(x)`, `JSON.stringify(x)`, …. */
export const NAMESPACES: Readonly<Record<string, Readonly<Record<string, Helper>>>> = {
  Math: {
    abs: round(Math.abs),
    ceil: round(Math.ceil),
    floor: round(Math.floor),
    round: round(Math.round),
    trunc: round(Math.trunc),
    sign: round(Math.sign),
    sqrt: round(Math.sqrt),
    log: round(Math.log),
    log10: round(Math.log10),
    exp: round(Math.exp),
    pow: (a, b) => Math.pow(Number(a), Number(b)),
    min: (...xs) => Math.min(...xs.map(Number)),
    max: (...xs) => Math.max(...xs.map(Number)),
  },
  // No replacer or reviver: they would be callbacks, and an indent is all a binding needs.
  JSON: {
    stringify: (value, indent) =>
      JSON.stringify(value, null, typeof indent === "number" ? Math.min(indent, 10) : undefined),
    parse: (text) => JSON.parse(String(text)) as unknown,
  },
  Object: {
    keys: (value) => keysOf(value),
    values: (value) => keysOf(value).map((k) => (value as Record<string, unknown>)[k]),
    entries: (value) => keysOf(value).map((k) => [k, (value as Record<string, unknown>)[k]]),
    fromEntries: (entries) =>
      Array.isArray(entries) ? Object.fromEntries(entries as [string, unknown][]) : {},
  },
  Array: {
    isArray: (value) => Array.isArray(value),
  },
  Number: {
    isFinite: (value) => Number.isFinite(value),
    isInteger: (value) => Number.isInteger(value),
    isNaN: (value) => Number.isNaN(value),
    parseFloat: (value) => Number.parseFloat(String(value)),
    parseInt: (value, radix) =>
      Number.parseInt(String(value), typeof radix === "number" ? radix : 10),
  },
};

/** Constants read as `Math.PI`. */
export const NAMESPACE_CONSTANTS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  Math: { PI: Math.PI, E: Math.E },
  Number: { MAX_SAFE_INTEGER: Number.MAX_SAFE_INTEGER, MIN_SAFE_INTEGER: Number.MIN_SAFE_INTEGER },
};

/** Helpers called by bare name, as conversions: `String(x)`, `Number(x)`, `Boolean(x)`. */
export const FUNCTIONS: Readonly<Record<string, Helper>> = {
  String: (value) => String(value),
  Number: (value) => Number(value),
  Boolean: (value) => Boolean(value),
  parseInt: (value, radix) => Number.parseInt(String(value), typeof radix === "number" ? radix : 10),
  parseFloat: (value) => Number.parseFloat(String(value)),
};

/**
 * Property names never read, whatever the value: the routes from a value to its prototype
 * and constructor, and through them to `Function`. Names starting with `__` are refused too.
 */
export const FORBIDDEN_PROPERTIES: ReadonlySet<string> = new Set([
  "__proto__",
  "constructor",
  "prototype",
]);

export function isForbiddenProperty(name: string): boolean {
  return FORBIDDEN_PROPERTIES.has(name) || name.startsWith("__");
}
