// Parsing `{{ }}` expressions into an AST with jsep, a small, dependency-free parser of the
// JavaScript expression grammar. Parsing is all jsep does here: the AST is interpreted by
// evaluate.ts over an explicit scope, so nothing the user writes is ever handed to the
// browser's own JavaScript engine.
import jsep from "jsep";
import type { Expression } from "jsep";
import jsepObject from "@jsep-plugin/object";
import jsepArrow from "@jsep-plugin/arrow";

// Object literals (`{ label: x }`) and arrow functions (`rows.map(r => r.name)`) are what
// builders write most after member access; both are interpreted, never compiled.
jsep.plugins.register(jsepObject, jsepArrow);
// `typeof x === "string"` is the usual guard in bindings over loosely typed query results.
jsep.addUnaryOp("typeof");

/** Longest expression accepted: a binding is a line of logic, not a program. */
export const MAX_EXPRESSION_LENGTH = 10_000;

export type ParseResult = { ok: true; ast: Expression } | { ok: false; error: string };

// Props are re-evaluated on every render, so each distinct source is parsed once. The cache is
// emptied when full rather than kept in LRU order: bindings of one app number in the hundreds.
const cache = new Map<string, ParseResult>();
const CACHE_LIMIT = 2_000;

export function parseExpression(source: string): ParseResult {
  const cached = cache.get(source);
  if (cached) return cached;

  const result = parseUncached(source);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(source, result);
  return result;
}

function parseUncached(source: string): ParseResult {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    return { ok: false, error: `expression is longer than ${MAX_EXPRESSION_LENGTH} characters` };
  }
  if (source.trim() === "") return { ok: false, error: "empty expression" };

  try {
    const ast = jsep(source);
    // `a, b` parses as a Compound, and jsep also reads unknown keywords (`new Foo()`) as one:
    // a binding is a single expression, so both are refused here with one message.
    if (ast.type === "Compound") {
      return { ok: false, error: "expected a single expression (no commas or keywords)" };
    }
    return { ok: true, ast };
  } catch (err) {
    // jsep reports syntax errors as exceptions; a pathologically nested input may also exhaust
    // the stack (RangeError). Both become a message shown beside the property.
    return { ok: false, error: err instanceof Error ? err.message : "unparsable expression" };
  }
}
