// `{{ }}` templates: a property is plain text, exactly one binding (whose raw value is the
// property's value: an array stays an array), or text mixed with bindings (a string).
import { evaluateExpression, type EvalResult, type Scope } from "./evaluate";

export type TemplatePart =
  | { kind: "text"; text: string }
  | { kind: "expression"; source: string };

export type TemplateParse = { ok: true; parts: TemplatePart[] } | { ok: false; error: string };

/** Whether a value holds any binding at all (cheap pre-check before parsing). */
export function hasBindings(text: string): boolean {
  return text.includes("{{");
}

/**
 * Splits a template into text and expressions. An expression ends at the first `}}` outside
 * string literals and outside braces it opened itself, so `{{ {a: {b: 1}} }}` is one
 * expression.
 */
export function parseTemplate(text: string): TemplateParse {
  const parts: TemplatePart[] = [];
  let position = 0;

  while (position < text.length) {
    const open = text.indexOf("{{", position);
    if (open === -1) break;
    if (open > position) parts.push({ kind: "text", text: text.slice(position, open) });

    const close = findClose(text, open + 2);
    if (close === -1) return { ok: false, error: `"{{" at character ${open + 1} is never closed with "}}"` };
    parts.push({ kind: "expression", source: text.slice(open + 2, close) });
    position = close + 2;
  }

  if (position < text.length) parts.push({ kind: "text", text: text.slice(position) });
  return { ok: true, parts };
}

function findClose(text: string, from: number): number {
  let depth = 0;
  let quote: string | null = null;

  for (let i = from; i < text.length; i++) {
    const ch = text[i];
    if (quote !== null) {
      if (ch === "\\") i++;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "{") depth++;
    else if (ch === "}") {
      if (depth === 0 && text[i + 1] === "}") return i;
      if (depth > 0) depth--;
    }
  }
  return -1;
}

/**
 * Resolves one template. Text without bindings is returned as it is; a template that is
 * exactly one binding (whitespace around it allowed) gives the raw value; anything else is
 * text with each value converted by `displayText`. The first failing binding fails the whole
 * template, with the binding named in the message.
 */
export function resolveTemplate(text: string, scope: Scope): EvalResult {
  if (!hasBindings(text)) return { ok: true, value: text };

  const parsed = parseTemplate(text);
  if (!parsed.ok) return parsed;

  const parts = parsed.parts;
  const expressions = parts.filter((p) => p.kind === "expression");
  const onlyWhitespaceText = parts.every((p) => p.kind === "expression" || p.text.trim() === "");
  if (expressions.length === 1 && onlyWhitespaceText) {
    const only = expressions[0] as { source: string };
    return named(evaluateExpression(only.source, scope), only.source);
  }

  let out = "";
  for (const part of parts) {
    if (part.kind === "text") {
      out += part.text;
      continue;
    }
    const result = evaluateExpression(part.source, scope);
    if (!result.ok) return named(result, part.source);
    out += displayText(result.value);
  }
  return { ok: true, value: out };
}

function named(result: EvalResult, source: string): EvalResult {
  if (result.ok) return result;
  return { ok: false, error: `{{${source}}}: ${result.error}` };
}

/**
 * How a value reads inside text: null and undefined as nothing, objects and arrays as JSON.
 * The result is only ever rendered as a text node, never as markup.
 */
export function displayText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "object") {
    try {
      return JSON.stringify(value) ?? "";
    } catch {
      return "[unprintable value]";
    }
  }
  return String(value);
}

export type ResolvedProps = {
  values: Record<string, unknown>;
  /** Per top-level property, the first binding error found in it. */
  errors: Record<string, string>;
};

/**
 * Resolves every binding in a component's props, nested ones included (a table's column
 * titles, say). A property with an error resolves to undefined and its error is reported
 * under its name, so the renderer can show it next to the component.
 */
export function resolveProps(props: Readonly<Record<string, unknown>>, scope: Scope): ResolvedProps {
  const values: Record<string, unknown> = {};
  const errors: Record<string, string> = {};

  for (const [key, raw] of Object.entries(props)) {
    const problems: string[] = [];
    const value = resolveDeep(raw, scope, problems, 0);
    values[key] = problems.length > 0 ? undefined : value;
    if (problems.length > 0) errors[key] = problems[0] as string;
  }
  return { values, errors };
}

// Prop values are JSON from the app definition; their depth is capped by the server (64).
function resolveDeep(value: unknown, scope: Scope, problems: string[], depth: number): unknown {
  if (depth > 64) {
    problems.push("property nested too deeply");
    return undefined;
  }
  if (typeof value === "string") {
    const result = resolveTemplate(value, scope);
    if (!result.ok) problems.push(result.error);
    return result.ok ? result.value : undefined;
  }
  if (Array.isArray(value)) return value.map((v) => resolveDeep(v, scope, problems, depth + 1));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveDeep(v, scope, problems, depth + 1);
    return out;
  }
  return value;
}
