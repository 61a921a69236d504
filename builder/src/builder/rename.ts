// Renaming a component or a query carries every reference along: `{{ components.old.value }}`
// in any property, query template or handler becomes `{{ components.new.value }}`, a bare
// `runIf` expression is rewritten the same way, and the handlers that name it outright
// (`runQuery` → query, `openModal` → modal, …) follow. Text
// outside `{{ }}`, string literals and properties of other objects (`row.old`) are left alone.
import type { Component, EventHandler, Query } from "../api/app-definition.gen";
import { expressionReferences } from "../expressions/references";
import { hasBindings, parseTemplate } from "../expressions/template";
import { allIds, findComponent, updateComponent, type Definition } from "./edit";

export type Namespace = "components" | "queries";

/** Component ids and query names: what the server's definition schema accepts. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Why `name` can't be the new name of something in `taken`, or null when it can. */
export function nameProblem(name: string, taken: ReadonlySet<string>, what: string): string | null {
  if (!IDENTIFIER.test(name)) return "letters, digits and _, at most 64, not starting with a digit";
  if (taken.has(name)) return `another ${what} has this name`;
  return null;
}

/** Gives the component `from` the id `to` and rewrites what refers to it. */
export function renameComponent(definition: Definition, from: string, to: string): Definition {
  if (from === to || !findComponent(definition, from) || allIds(definition).has(to)) return definition;
  const renamed = updateComponent(definition, from, (c) => ({ ...c, id: to }));
  return renameReferences(renamed, "components", from, to);
}

/** Gives the query `from` the name `to` and rewrites what refers to it. */
export function renameQuery(definition: Definition, from: string, to: string): Definition {
  const queries = definition.queries ?? [];
  if (from === to || !queries.some((q) => q.name === from) || queries.some((q) => q.name === to)) return definition;
  const renamed = { ...definition, queries: queries.map((q) => (q.name === from ? { ...q, name: to } : q)) };
  return renameReferences(renamed, "queries", from, to);
}

// The handler fields that hold a bare name rather than an expression, by namespace.
const NAMED_FIELDS: Record<Namespace, Record<string, string>> = {
  components: { openModal: "modal", closeModal: "modal", setComponentValue: "component" },
  queries: { runQuery: "query" },
};

function renameReferences(definition: Definition, root: Namespace, from: string, to: string): Definition {
  const rewritten = rewriteStrings(definition, (text) => rewriteTemplate(text, root, from, to)) as Definition;
  const fields = NAMED_FIELDS[root];
  const handler = (h: EventHandler): EventHandler => {
    const field = fields[h.action];
    let next = field !== undefined && h[field] === from ? { ...h, [field]: to } : h;
    // `runIf` may also be a bare expression (`components.x.value !== ''`), without `{{ }}`.
    if (typeof next.runIf === "string" && !hasBindings(next.runIf)) {
      const runIf = rewriteExpression(next.runIf, root, from, to);
      if (runIf !== next.runIf) next = { ...next, runIf };
    }
    return next;
  };
  const component = (c: Component): Component => ({
    ...c,
    ...(c.events ? { events: c.events.map(handler) } : {}),
    ...(c.children ? { children: c.children.map(component) } : {}),
  });
  const query = (q: Query): Query => (q.events ? { ...q, events: q.events.map(handler) } : q);
  return {
    ...rewritten,
    pages: rewritten.pages.map((p) => ({ ...p, components: p.components.map(component) })) as Definition["pages"],
    ...(rewritten.queries ? { queries: rewritten.queries.map(query) } : {}),
  };
}

// Every string of a JSON value that holds a binding, passed through `change`.
function rewriteStrings(value: unknown, change: (text: string) => string): unknown {
  if (typeof value === "string") return hasBindings(value) ? change(value) : value;
  if (Array.isArray(value)) return value.map((v) => rewriteStrings(v, change));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewriteStrings(v, change)]));
  }
  return value;
}

/** Rewrites the references in each `{{ }}` of a template; a template that doesn't parse stays. */
export function rewriteTemplate(text: string, root: Namespace, from: string, to: string): string {
  const parsed = parseTemplate(text);
  if (!parsed.ok) return text;
  return parsed.parts.map((p) => (p.kind === "text" ? p.text : `{{${rewriteExpression(p.source, root, from, to)}}}`)).join("");
}

type Token = { kind: "name" | "string" | "punct"; start: number; end: number; text: string };

/**
 * Rewrites `root.from`, `root?.from` and `root["from"]` in one expression. Only a `root` that
 * starts a member chain counts (`x.components.from` is another object's property), and
 * nothing changes unless the expression really reads `root.from` (an arrow parameter named
 * like the root shadows it).
 */
export function rewriteExpression(source: string, root: Namespace, from: string, to: string): string {
  if (!expressionReferences(source).some((r) => r.root === root && r.path[0] === from)) return source;

  const tokens = tokenize(source);
  const edits: { start: number; end: number; text: string }[] = [];
  for (const [i, t] of tokens.entries()) {
    if (t.kind !== "name" || t.text !== root) continue;
    const before = tokens[i - 1];
    if (before && (before.text === "." || before.text === "?.")) continue;

    const [a, b, c] = [tokens[i + 1], tokens[i + 2], tokens[i + 3]];
    if ((a?.text === "." || a?.text === "?.") && b?.kind === "name" && b.text === from) {
      edits.push({ start: b.start, end: b.end, text: to });
    } else if ((a?.text === "[" || a?.text === "?.[") && b?.kind === "string" && stringValue(b.text) === from && c?.text === "]") {
      const quote = b.text[0];
      edits.push({ start: b.start, end: b.end, text: `${quote}${to}${quote}` });
    }
  }

  let out = source;
  for (const e of edits.reverse()) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

// Enough of a tokenizer to find member chains: names, string literals (skipped over whole, so
// their content never matches) and punctuation, with `?.` and `?.[` as single tokens.
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source.charAt(i);
    if (/\s/.test(ch)) {
      i++;
    } else if (/[A-Za-z_$0-9]/.test(ch)) {
      const start = i;
      while (i < source.length && /[A-Za-z0-9_$]/.test(source.charAt(i))) i++;
      tokens.push({ kind: "name", start, end: i, text: source.slice(start, i) });
    } else if (ch === '"' || ch === "'" || ch === "`") {
      const start = i++;
      while (i < source.length && source.charAt(i) !== ch) i += source.charAt(i) === "\\" ? 2 : 1;
      i = Math.min(i + 1, source.length);
      tokens.push({ kind: "string", start, end: i, text: source.slice(start, i) });
    } else if (source.startsWith("?.[", i)) {
      tokens.push({ kind: "punct", start: i, end: i + 3, text: "?.[" });
      i += 3;
    } else if (source.startsWith("?.", i) && !/[0-9]/.test(source.charAt(i + 2))) {
      tokens.push({ kind: "punct", start: i, end: i + 2, text: "?." });
      i += 2;
    } else {
      tokens.push({ kind: "punct", start: i, end: i + 1, text: ch });
      i++;
    }
  }
  return tokens;
}

// The value of a simple string literal; one with escapes is never a bare identifier, so it
// is left alone.
function stringValue(literal: string): string | null {
  const inner = literal.slice(1, -1);
  return inner.includes("\\") ? null : inner;
}
