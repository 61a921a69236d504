// Which scope values an expression reads, e.g. `components.search.value` in
// `queries.list.rows.filter(r => r.name.includes(components.search.value))`. The queries
// panel uses this to detect a query's inputs and the runtime to know what a binding depends
// on. Only paths rooted at a scope root count; arrow parameters shadow roots.
import type { Expression } from "jsep";
import { SCOPE_ROOTS, type ScopeRoot } from "./evaluate";
import { parseExpression } from "./parse";
import { parseTemplate } from "./template";

export type Reference = {
  root: ScopeRoot;
  /** The static path below the root: `["search", "value"]`. */
  path: string[];
  /** The dotted form, `components.search.value`. */
  text: string;
};

const ROOTS: ReadonlySet<string> = new Set(SCOPE_ROOTS);

/** References of one expression; an unparsable expression has none. */
export function expressionReferences(source: string): Reference[] {
  const parsed = parseExpression(source);
  if (!parsed.ok) return [];
  const found = new Map<string, Reference>();
  visit(parsed.ast, new Set(), found);
  return [...found.values()];
}

/** References of every binding in a template, in order of first use. */
export function templateReferences(text: string): Reference[] {
  const parsed = parseTemplate(text);
  if (!parsed.ok) return [];
  const found = new Map<string, Reference>();
  for (const part of parsed.parts) {
    if (part.kind !== "expression") continue;
    for (const ref of expressionReferences(part.source)) found.set(ref.text, ref);
  }
  return [...found.values()];
}

function add(found: Map<string, Reference>, root: ScopeRoot, path: string[]): void {
  const text = [root, ...path].join(".");
  if (!found.has(text)) found.set(text, { root, path, text });
}

// The static part of a member chain: `a.b["c"][0]` → ["a", "b", "c", "0"]. It ends at the
// first computed member whose key is not a literal (`a[x].b` → ["a"]): what follows depends
// on a value only known at run time.
function staticChain(node: Expression, locals: ReadonlySet<string>): { path: string[]; open: boolean } | null {
  if (node.type === "Identifier") {
    const name = node.name as string;
    return ROOTS.has(name) && !locals.has(name) ? { path: [name], open: true } : null;
  }
  if (node.type !== "MemberExpression") return null;

  const base = staticChain(node.object as Expression, locals);
  if (base === null || !base.open) return base;
  const property = node.property as Expression;
  if (!node.computed) return { path: [...base.path, property.name as string], open: true };
  if (property.type === "Literal" && (typeof property.value === "string" || typeof property.value === "number")) {
    return { path: [...base.path, String(property.value)], open: true };
  }
  return { path: base.path, open: false };
}

function visit(node: Expression | null | undefined, locals: ReadonlySet<string>, found: Map<string, Reference>): void {
  if (!node || typeof node !== "object") return;

  switch (node.type) {
    case "Identifier": {
      const name = node.name as string;
      if (ROOTS.has(name) && !locals.has(name)) add(found, name as ScopeRoot, []);
      return;
    }
    case "MemberExpression": {
      const chain = staticChain(node, locals);
      if (chain) {
        add(found, chain.path[0] as ScopeRoot, chain.path.slice(1));
        // A computed key that is not a literal is itself an expression that reads values.
        collectComputedKeys(node, locals, found);
        return;
      }
      visit(node.object as Expression, locals, found);
      if (node.computed) visit(node.property as Expression, locals, found);
      return;
    }
    case "CallExpression": {
      const callee = node.callee as Expression;
      // `rows.map(…)` reads `rows`, not a property named `map`.
      if (callee.type === "MemberExpression" && !callee.computed) visit(callee.object as Expression, locals, found);
      else visit(callee, locals, found);
      for (const arg of node.arguments as Expression[]) visit(arg, locals, found);
      return;
    }
    case "ArrowFunctionExpression": {
      const inner = new Set(locals);
      for (const p of (node.params as Expression[] | null) ?? []) {
        if (p.type === "Identifier") inner.add(p.name as string);
      }
      visit(node.body as Expression, inner, found);
      return;
    }
    case "Property":
      if (node.computed) visit(node.key as Expression, locals, found);
      if (node.shorthand) visit(node.key as Expression, locals, found);
      else visit(node.value as Expression, locals, found);
      return;
    default:
      for (const value of Object.values(node)) {
        if (Array.isArray(value)) for (const item of value) visit(item as Expression, locals, found);
        else if (value && typeof value === "object" && "type" in value) visit(value as Expression, locals, found);
      }
  }
}

function collectComputedKeys(node: Expression, locals: ReadonlySet<string>, found: Map<string, Reference>): void {
  if (node.type !== "MemberExpression") return;
  collectComputedKeys(node.object as Expression, locals, found);
  const property = node.property as Expression;
  if (node.computed && property.type !== "Literal") visit(property, locals, found);
}
