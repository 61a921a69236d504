// The interpreter of `{{ }}` expressions. It walks jsep's AST over an explicit scope and
// nothing else: identifiers resolve only to the scope's roots, arrow-function parameters and
// a few constants; members are read only from a value's own data properties; calls reach only
// the allow-listed methods and helpers of allowed.ts and arrow functions the expression itself
// defines. Each evaluation has a step budget and size limits, and every failure comes back as
// an error value, so a hostile or broken binding can't reach the page's globals, hang the
// tab or throw into React.
import type { Expression } from "jsep";
import {
  ARRAY_METHODS,
  FUNCTIONS,
  NAMESPACES,
  NAMESPACE_CONSTANTS,
  NUMBER_METHODS,
  STRING_METHODS,
  isForbiddenProperty,
} from "./allowed";
import { parseExpression } from "./parse";

/** The roots an expression can read; see docs/apps.md. */
export const SCOPE_ROOTS = ["components", "queries", "variables", "page", "url", "user"] as const;
export type ScopeRoot = (typeof SCOPE_ROOTS)[number];
export type Scope = Readonly<Record<ScopeRoot, unknown>>;

export type EvalResult = { ok: true; value: unknown } | { ok: false; error: string };

/** AST nodes visited per evaluation, callbacks included, before it is stopped. */
export const MAX_STEPS = 100_000;
/** Longest string an expression may build. */
export const MAX_STRING_LENGTH = 1_000_000;
/** Longest array an expression may build. */
export const MAX_ARRAY_LENGTH = 100_000;
/**
 * Characters and items that built-in methods and helpers may go through per evaluation: a
 * call is charged the size of its receiver, its arguments and its result. Steps alone don't
 * bound the work, since one step can be a `replaceAll` over a million characters.
 */
export const MAX_WORK = 5_000_000;
/** Nested calls of the expression's own arrow functions. */
const MAX_CALL_DEPTH = 64;

/** A failure inside an evaluation; caught at the top and returned as an error value. */
class EvalError extends Error {}

/**
 * An arrow function written in the expression. It is not a JavaScript function, so the engine
 * can never call it on its own (as a getter, `toString` or `valueOf`); it runs only through
 * `callClosure`, inside the step budget.
 */
class Closure {
  // Private fields: Object.keys/values of a closure see nothing, so its AST and captured
  // values stay out of reach of the helpers.
  readonly #params: readonly string[];
  readonly #body: Expression;
  readonly #locals: ReadonlyMap<string, unknown>;

  constructor(params: readonly string[], body: Expression, locals: ReadonlyMap<string, unknown>) {
    this.#params = params;
    this.#body = body;
    this.#locals = locals;
  }

  bind(args: unknown[]): { body: Expression; locals: Map<string, unknown> } {
    const locals = new Map(this.#locals);
    this.#params.forEach((name, i) => locals.set(name, args[i]));
    return { body: this.#body, locals };
  }

  // Serialising a closure (JSON.stringify of an object holding one) yields nothing.
  toJSON(): undefined {
    return undefined;
  }
}

// A member chain cut short by `?.` on null or undefined; becomes undefined at the chain's top.
const SHORT_CIRCUIT = Symbol("short-circuit");

const CONSTANTS: ReadonlyMap<string, unknown> = new Map<string, unknown>([
  ["undefined", undefined],
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
]);

const ROOTS: ReadonlySet<string> = new Set(SCOPE_ROOTS);

/** Evaluates one expression (the text between `{{` and `}}`) over `scope`. */
export function evaluateExpression(source: string, scope: Scope): EvalResult {
  const parsed = parseExpression(source);
  if (!parsed.ok) return { ok: false, error: parsed.error };

  try {
    const value = new Interpreter(scope).run(parsed.ast);
    if (value instanceof Closure) {
      return { ok: false, error: "an expression can't evaluate to a function" };
    }
    return { ok: true, value };
  } catch (err) {
    // Native methods throw TypeError/RangeError on bad arguments, a deep recursion throws
    // RangeError: all of them are the binding's fault and shown with it.
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

class Interpreter {
  private steps = 0;
  private work = 0;
  private depth = 0;

  constructor(private readonly scope: Scope) {}

  run(ast: Expression): unknown {
    return this.visit(ast, new Map());
  }

  private built<T>(value: T): T {
    this.charge(this.sizeOf(value));
    return value;
  }

  private visit(node: Expression, locals: ReadonlyMap<string, unknown>): unknown {
    if (++this.steps > MAX_STEPS) {
      throw new EvalError(`expression stopped after ${MAX_STEPS} steps`);
    }

    switch (node.type) {
      case "Literal":
        return node.value;
      case "Identifier":
        return this.identifier(node.name as string, locals);
      case "MemberExpression":
      case "CallExpression": {
        const value = this.chain(node, locals);
        return value === SHORT_CIRCUIT ? undefined : value;
      }
      case "UnaryExpression":
        return this.unary(node, locals);
      case "BinaryExpression":
        return this.binary(node, locals);
      case "ConditionalExpression":
        return truthy(this.visit(node.test as Expression, locals))
          ? this.visit(node.consequent as Expression, locals)
          : this.visit(node.alternate as Expression, locals);
      // A literal is charged its whole size: nesting one value in itself doubles a structure
      // at each step for a single node, and whatever later displays it walks all of it.
      case "ArrayExpression":
        return this.built(this.array(node, locals));
      case "ObjectExpression":
        return this.built(this.object(node, locals));
      case "ArrowFunctionExpression": {
        const params = ((node.params as Expression[] | null) ?? []).map((p) => {
          if (p.type !== "Identifier") throw new EvalError("arrow parameters must be plain names");
          return p.name as string;
        });
        return new Closure(params, node.body as Expression, locals);
      }
      case "ThisExpression":
        throw new EvalError("`this` is not available in expressions");
      default:
        throw new EvalError(`${node.type} is not supported in expressions`);
    }
  }

  private identifier(name: string, locals: ReadonlyMap<string, unknown>): unknown {
    if (locals.has(name)) return locals.get(name);
    if (ROOTS.has(name)) return this.scope[name as ScopeRoot];
    if (CONSTANTS.has(name)) return CONSTANTS.get(name);
    if (Object.hasOwn(NAMESPACES, name)) throw new EvalError(`${name} can only be called, as in ${name}.…(…)`);
    if (Object.hasOwn(FUNCTIONS, name)) throw new EvalError(`${name} can only be called, as in ${name}(…)`);
    throw new EvalError(`unknown name "${name}" (expressions read ${SCOPE_ROOTS.join(", ")})`);
  }

  // Members and calls, evaluated as one chain so that `a?.b.c()` stops at `a?.` as in JS.
  private chain(node: Expression, locals: ReadonlyMap<string, unknown>): unknown {
    if (node.type === "MemberExpression") {
      const objectNode = node.object as Expression;
      const constant = this.namespaceConstant(objectNode, node, locals);
      if (constant.found) return constant.value;

      const object = this.chainOrEval(objectNode, locals);
      if (object === SHORT_CIRCUIT) return SHORT_CIRCUIT;
      if (object == null && node.optional) return SHORT_CIRCUIT;

      const key = this.propertyKey(node, locals);
      if (object == null) throw new EvalError(`can't read "${key}" of ${String(object)}`);
      return readMember(object, key);
    }

    if (node.type === "CallExpression") {
      if (++this.steps > MAX_STEPS) {
        throw new EvalError(`expression stopped after ${MAX_STEPS} steps`);
      }
      return this.call(node, locals);
    }
    return this.visit(node, locals);
  }

  private chainOrEval(node: Expression, locals: ReadonlyMap<string, unknown>): unknown {
    return node.type === "MemberExpression" || node.type === "CallExpression"
      ? this.chain(node, locals)
      : this.visit(node, locals);
  }

  private propertyKey(node: Expression, locals: ReadonlyMap<string, unknown>): string {
    const property = node.property as Expression;
    let key: unknown;
    if (node.computed) {
      key = this.visit(property, locals);
    } else {
      key = property.name;
    }
    // Only strings and numbers name properties: an object key would be converted by calling
    // its toString, which is how a crafted key could run code.
    if (typeof key === "number" && Number.isFinite(key)) key = String(key);
    if (typeof key !== "string") throw new EvalError("a property name must be a string or number");
    if (isForbiddenProperty(key)) throw new EvalError(`property "${key}" is not accessible`);
    return key;
  }

  private namespaceConstant(
    objectNode: Expression,
    node: Expression,
    locals: ReadonlyMap<string, unknown>,
  ): { found: boolean; value?: unknown } {
    if (objectNode.type !== "Identifier" || node.computed) return { found: false };
    const name = objectNode.name as string;
    if (locals.has(name) || !Object.hasOwn(NAMESPACES, name)) return { found: false };
    const key = (node.property as Expression).name as string;
    const constants = Object.hasOwn(NAMESPACE_CONSTANTS, name) ? NAMESPACE_CONSTANTS[name] : undefined;
    if (constants && Object.hasOwn(constants, key)) return { found: true, value: constants[key] };
    throw new EvalError(`${name}.${key} is not available`);
  }

  private call(node: Expression, locals: ReadonlyMap<string, unknown>): unknown {
    const callee = node.callee as Expression;
    const argNodes = node.arguments as Expression[];
    const args = () => argNodes.map((a) => this.visit(a, locals));

    // `String(x)`: a conversion helper, unless a parameter of that name shadows it.
    if (callee.type === "Identifier" && !locals.has(callee.name as string)) {
      const name = callee.name as string;
      const helper = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
      if (helper) return this.native(helper, undefined, args());
    }

    if (callee.type === "MemberExpression" && !callee.computed) {
      const objectNode = callee.object as Expression;
      const method = (callee.property as Expression).name as string;

      // `Math.round(x)`: a namespaced helper.
      if (objectNode.type === "Identifier" && !locals.has(objectNode.name as string)) {
        const name = objectNode.name as string;
        const namespace = Object.hasOwn(NAMESPACES, name) ? NAMESPACES[name] : undefined;
        if (namespace) {
          const helper = Object.hasOwn(namespace, method) ? namespace[method] : undefined;
          if (!helper) throw new EvalError(`${name}.${method} is not available`);
          return this.native(helper, undefined, args());
        }
      }

      // `value.method(…)`: an allow-listed method of the value's type.
      const receiver = this.chainOrEval(objectNode, locals);
      if (receiver === SHORT_CIRCUIT) return SHORT_CIRCUIT;
      if (receiver == null && callee.optional) return SHORT_CIRCUIT;
      if (isForbiddenProperty(method)) throw new EvalError(`property "${method}" is not accessible`);
      return this.callMethod(receiver, method, args());
    }

    // Anything else must evaluate to an arrow function of this expression.
    const target = this.chainOrEval(callee, locals);
    if (target === SHORT_CIRCUIT) return SHORT_CIRCUIT;
    if (target == null && node.optional) return SHORT_CIRCUIT;
    if (!(target instanceof Closure)) throw new EvalError("only helpers, allowed methods and arrow functions can be called");
    return this.callClosure(target, args());
  }

  private callMethod(receiver: unknown, method: string, args: unknown[]): unknown {
    // The methods come from the built-in prototypes, never from the receiver, so a value can't
    // bring its own function under an allowed name.
    let allowed: ReadonlySet<string>;
    let proto: object;
    if (typeof receiver === "string") [allowed, proto] = [STRING_METHODS, String.prototype];
    else if (Array.isArray(receiver)) [allowed, proto] = [ARRAY_METHODS, Array.prototype];
    else if (typeof receiver === "number") [allowed, proto] = [NUMBER_METHODS, Number.prototype];
    else throw new EvalError(`${describe(receiver)} has no method "${method}"`);
    if (!allowed.has(method)) throw new EvalError(`method "${method}" is not allowed on ${describe(receiver)}`);

    if (typeof receiver === "string") checkGrowth(receiver, method, args);
    // Arrow functions become callbacks for the native method; they still run in this
    // interpreter and spend its step budget.
    const nativeArgs = args.map((a) =>
      a instanceof Closure ? (...cbArgs: unknown[]) => this.callClosure(a, cbArgs) : a,
    );
    const fn = (proto as Record<string, unknown>)[method] as (...a: unknown[]) => unknown;
    return this.native(fn, receiver, nativeArgs);
  }

  /** Calls a built-in, charging its work before and after (see MAX_WORK). */
  private native(fn: (...a: unknown[]) => unknown, receiver: unknown, args: unknown[]): unknown {
    this.charge(this.sizeOf(receiver));
    for (const arg of args) this.charge(this.sizeOf(arg));
    const result = checkSize(fn.apply(receiver, args));
    this.charge(this.sizeOf(result));
    return result;
  }

  /**
   * What a value costs to go through: every string's length and every array item and object
   * property, nested ones included (a value shared in many places counts each time, as a
   * walk over it would). Counting stops once the remaining budget is passed, so sizing a
   * structure built to be exponentially large costs no more than the budget.
   */
  private sizeOf(value: unknown): number {
    const limit = MAX_WORK - this.work + 1;
    let size = 0;
    const pending: unknown[] = [value];
    while (pending.length > 0 && size < limit) {
      const next = pending.pop();
      if (typeof next === "string") size += next.length;
      else if (Array.isArray(next)) {
        size += next.length + 1;
        for (const item of next) if (item !== null && typeof item === "object") pending.push(item);
        else if (typeof item === "string") size += item.length;
      } else if (next !== null && typeof next === "object") {
        const values = Object.values(next);
        size += values.length + 1;
        for (const item of values) if (item !== null && typeof item === "object") pending.push(item);
        else if (typeof item === "string") size += item.length;
      } else size += 1;
    }
    return size;
  }

  private charge(units: number): void {
    this.work += units;
    if (this.work > MAX_WORK) throw new EvalError(`expression stopped: it went through more than ${MAX_WORK.toLocaleString("en")} characters or items`);
  }

  private callClosure(closure: Closure, args: unknown[]): unknown {
    if (this.depth >= MAX_CALL_DEPTH) throw new EvalError("arrow functions nested too deeply");
    const { body, locals } = closure.bind(args);
    this.depth++;
    try {
      return this.visit(body, locals);
    } finally {
      this.depth--;
    }
  }

  private unary(node: Expression, locals: ReadonlyMap<string, unknown>): unknown {
    const value = this.visit(node.argument as Expression, locals);
    switch (node.operator) {
      case "!":
        return !truthy(value);
      case "-":
        return -toNumber(value);
      case "+":
        return toNumber(value);
      case "~":
        return ~toNumber(value);
      case "typeof":
        return value instanceof Closure ? "function" : typeof value;
      default:
        throw new EvalError(`operator ${String(node.operator)} is not supported`);
    }
  }

  private binary(node: Expression, locals: ReadonlyMap<string, unknown>): unknown {
    const op = node.operator as string;
    const left = this.visit(node.left as Expression, locals);
    // The logical operators evaluate their right side only when needed, as in JS.
    if (op === "&&") return truthy(left) ? this.visit(node.right as Expression, locals) : left;
    if (op === "||") return truthy(left) ? left : this.visit(node.right as Expression, locals);
    if (op === "??") return left ?? this.visit(node.right as Expression, locals);

    const right = this.visit(node.right as Expression, locals);
    switch (op) {
      case "===":
        return left === right;
      case "!==":
        return left !== right;
      case "==":
        return looseEquals(left, right);
      case "!=":
        return !looseEquals(left, right);
      case "+": {
        if (typeof left === "string" || typeof right === "string") {
          // Objects become JSON text here: their size is charged before they are written out.
          this.charge(this.sizeOf(left) + this.sizeOf(right));
          const text = toText(left) + toText(right);
          if (text.length > MAX_STRING_LENGTH) throw new EvalError("string too long");
          return text;
        }
        return toNumber(left) + toNumber(right);
      }
      case "-":
        return toNumber(left) - toNumber(right);
      case "*":
        return toNumber(left) * toNumber(right);
      case "/":
        return toNumber(left) / toNumber(right);
      case "%":
        return toNumber(left) % toNumber(right);
      case "**":
        return toNumber(left) ** toNumber(right);
      case "<":
        return compare(left, right, (a, b) => a < b);
      case ">":
        return compare(left, right, (a, b) => a > b);
      case "<=":
        return compare(left, right, (a, b) => a <= b);
      case ">=":
        return compare(left, right, (a, b) => a >= b);
      case "&":
        return toNumber(left) & toNumber(right);
      case "|":
        return toNumber(left) | toNumber(right);
      case "^":
        return toNumber(left) ^ toNumber(right);
      case "<<":
        return toNumber(left) << toNumber(right);
      case ">>":
        return toNumber(left) >> toNumber(right);
      case ">>>":
        return toNumber(left) >>> toNumber(right);
      default:
        throw new EvalError(`operator ${op} is not supported`);
    }
  }

  private array(node: Expression, locals: ReadonlyMap<string, unknown>): unknown[] {
    const elements = node.elements as (Expression | null)[];
    return elements.map((e) => (e === null ? undefined : this.visit(e, locals)));
  }

  private object(node: Expression, locals: ReadonlyMap<string, unknown>): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (const property of node.properties as Expression[]) {
      if (property.type !== "Property") throw new EvalError(`${property.type} is not supported in objects`);
      const keyNode = property.key as Expression;
      let key: unknown;
      if (property.computed) key = this.visit(keyNode, locals);
      else key = keyNode.type === "Identifier" ? keyNode.name : keyNode.value;
      if (typeof key === "number") key = String(key);
      if (typeof key !== "string") throw new EvalError("an object key must be a string or number");
      if (isForbiddenProperty(key)) throw new EvalError(`property "${key}" can't be set`);
      const value = property.shorthand
        ? this.identifier(key, locals)
        : this.visit(property.value as Expression, locals);
      // defineProperty, not assignment: a key can never reach a setter.
      Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return result;
  }
}

/** Reads an own data property of plain data; never a getter, never an inherited member. */
function readMember(object: unknown, key: string): unknown {
  if (typeof object === "string") {
    if (key === "length") return object.length;
    return isIndex(key) ? object[Number(key)] : undefined;
  }
  if (typeof object !== "object" || object === null || object instanceof Closure) return undefined;

  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  if (!descriptor || !("value" in descriptor)) return undefined;
  // Functions never become values: a method is reachable only by calling it by name.
  return typeof descriptor.value === "function" ? undefined : (descriptor.value as unknown);
}

function isIndex(key: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(key);
}

// Results of calls are checked after the fact; `repeat`/`pad*` are checked before (below),
// because those are the only ones that can multiply their input's size in one call.
function checkSize(value: unknown): unknown {
  if (typeof value === "string" && value.length > MAX_STRING_LENGTH) throw new EvalError("string too long");
  if (Array.isArray(value) && value.length > MAX_ARRAY_LENGTH) throw new EvalError("array too long");
  return value;
}

function checkGrowth(receiver: string, method: string, args: unknown[]): void {
  const n = Number(args[0]);
  if (method === "repeat" && receiver.length * n > MAX_STRING_LENGTH) throw new EvalError("string too long");
  if ((method === "padStart" || method === "padEnd") && n > MAX_STRING_LENGTH) throw new EvalError("string too long");
}

function truthy(value: unknown): boolean {
  return Boolean(value);
}

// Conversions that never call into user-made objects: objects become NaN or JSON text
// instead of having their valueOf/toString invoked.
function toNumber(value: unknown): number {
  if (value === null || typeof value !== "object") return Number(value as number);
  if (Array.isArray(value) && value.length === 0) return 0;
  return Number.NaN;
}

function toText(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== "object") return String(value);
  if (value instanceof Closure) return "[function]";
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return "[object]";
  }
}

function looseEquals(a: unknown, b: unknown): boolean {
  if (a == null || b == null) return a == null && b == null;
  if (typeof a === "object" || typeof b === "object") return a === b;
  // Primitives only from here, so == never reaches a user object's valueOf.
  return a == b;
}

function compare(a: unknown, b: unknown, op: (x: string | number, y: string | number) => boolean): boolean {
  if (typeof a === "string" && typeof b === "string") return op(a, b);
  return op(toNumber(a), toNumber(b));
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Closure) return "a function";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
