// What a query template reads: `{{ inputs.x }}` names (the inputs the query takes) and
// browser-state references (`components.search.value`, from the evaluator's reference
// listing), over every string of the operation's query object.
import type { Expression } from "jsep";
import { templateReferences } from "../expressions";
import { parseExpression } from "../expressions/parse";
import { parseTemplate } from "../expressions/template";

function strings(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 64) return out;
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out, depth + 1);
  else if (value !== null && typeof value === "object") for (const v of Object.values(value)) strings(v, out, depth + 1);
  return out;
}

function inputNames(node: unknown, found: Set<string>): void {
  if (node === null || typeof node !== "object") return;
  const n = node as Expression;
  if (n.type === "MemberExpression") {
    const object = n.object as Expression;
    const property = n.property as Expression;
    if (object.type === "Identifier" && object.name === "inputs") {
      if (!n.computed && property.type === "Identifier") found.add(property.name as string);
      else if (property.type === "Literal" && typeof property.value === "string") found.add(property.value);
    }
  }
  for (const value of Object.values(n)) {
    if (Array.isArray(value)) for (const v of value) inputNames(v, found);
    else if (value && typeof value === "object") inputNames(value, found);
  }
}

/** Input names a template uses, in order of first use. */
export function detectInputs(query: unknown): string[] {
  const found = new Set<string>();
  for (const text of strings(query)) {
    const parsed = parseTemplate(text);
    if (!parsed.ok) continue;
    for (const part of parsed.parts) {
      if (part.kind !== "expression") continue;
      const ast = parseExpression(part.source);
      if (ast.ok) inputNames(ast.ast, found);
    }
  }
  return [...found];
}

/** Browser-state values the template reads directly (sent as inputs by the client). */
export function detectStateReads(query: unknown): string[] {
  return [...new Set(strings(query).flatMap((t) => templateReferences(t).map((r) => r.text)))];
}

type InputsSchema = { type: "object"; properties?: Record<string, unknown>; [k: string]: unknown };

/**
 * The inputs schema with a property for every detected input it lacks (a string, the usual
 * type of a search box); properties the builder declared are kept as they are.
 */
export function withDetectedInputs(schema: unknown, names: readonly string[]): InputsSchema {
  const base: InputsSchema = schema !== null && typeof schema === "object" && !Array.isArray(schema) ? ({ ...schema, type: "object" } as InputsSchema) : { type: "object" };
  const properties = { ...(base.properties ?? {}) };
  let added = false;
  for (const name of names) {
    if (!Object.hasOwn(properties, name)) {
      properties[name] = { type: "string" };
      added = true;
    }
  }
  return added ? { ...base, properties } : base;
}
