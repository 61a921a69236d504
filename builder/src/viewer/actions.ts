// Event handlers of an app: `{event, action, runIf?, …}` from the definition, run in the
// browser in the order they are listed. Pure over an ActionContext, so the viewer, the
// builder's preview and the tests drive the same code; the React state lives in
// useAppRuntime.ts.
import type { EventHandler } from "../api/app-definition.gen";
import { displayText, evaluateExpression, hasBindings, resolveTemplate, type Scope } from "../expressions";

export type AlertLevel = "info" | "success" | "warning" | "error";

/** What handlers may do to the running app. */
export type ActionContext = {
  /** The scope as it is now: read again before each handler, so one sees what the previous set. */
  scope(): Scope;
  /** Runs a query; resolves to whether it succeeded. */
  runQuery(name: string, inputs: Record<string, unknown> | undefined): Promise<boolean>;
  setVariable(name: string, value: unknown): void;
  showAlert(message: string, level: AlertLevel): void;
  navigate(page: string): void;
  openUrl(url: string, newTab: boolean): void;
  openModal(id: string): void;
  closeModal(id: string): void;
  setComponentValue(id: string, value: unknown): void;
};

export type HandlerOutcome = { handler: EventHandler; status: "ran" | "skipped" | "failed"; error?: string };

const LEVELS: ReadonlySet<string> = new Set(["info", "success", "warning", "error"]);

/**
 * Runs every handler of `handlers` listening to `event`, one after the other. A runQuery
 * handler is awaited, so a following handler reads the query's new result. A failing handler
 * (a binding error, a refused URL) is reported as an alert and the others still run: one
 * broken handler shouldn't silently swallow the rest of a flow.
 */
export async function runHandlers(
  handlers: readonly EventHandler[] | undefined,
  event: string,
  context: ActionContext,
): Promise<HandlerOutcome[]> {
  const outcomes: HandlerOutcome[] = [];
  for (const handler of handlers ?? []) {
    if (handler.event !== event) continue;
    try {
      if (!shouldRun(handler, context.scope())) {
        outcomes.push({ handler, status: "skipped" });
        continue;
      }
      await runOne(handler, context);
      outcomes.push({ handler, status: "ran" });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      context.showAlert(`${handler.event} → ${handler.action}: ${error}`, "error");
      outcomes.push({ handler, status: "failed", error });
    }
  }
  return outcomes;
}

/** `runIf` is a binding (`{{ x > 1 }}`) or a bare expression (`x > 1`); absent means always. */
export function shouldRun(handler: EventHandler, scope: Scope): boolean {
  const runIf = handler.runIf;
  if (runIf === undefined || runIf.trim() === "") return true;
  const result = hasBindings(runIf) ? resolveTemplate(runIf, scope) : evaluateExpression(runIf, scope);
  if (!result.ok) throw new Error(`runIf: ${result.error}`);
  return Boolean(result.value);
}

async function runOne(handler: EventHandler, context: ActionContext): Promise<void> {
  const value = (field: string): unknown => resolve(handler[field], context.scope(), field);
  const name = (field: string): string => {
    const raw = handler[field];
    if (typeof raw !== "string" || raw === "") throw new Error(`"${field}" is missing`);
    return raw;
  };

  switch (handler.action) {
    case "runQuery": {
      const inputs = handler.inputs === undefined ? undefined : value("inputs");
      if (inputs !== undefined && (inputs === null || typeof inputs !== "object" || Array.isArray(inputs))) {
        throw new Error("inputs must be an object");
      }
      await context.runQuery(name("query"), inputs as Record<string, unknown> | undefined);
      return;
    }
    case "setVariable":
      context.setVariable(name("variable"), value("value"));
      return;
    case "showAlert": {
      const level = handler.level;
      context.showAlert(displayText(value("message")), typeof level === "string" && LEVELS.has(level) ? (level as AlertLevel) : "info");
      return;
    }
    case "navigate":
      context.navigate(name("page"));
      return;
    case "openUrl": {
      const url = safeUrl(displayText(value("url")));
      context.openUrl(url, handler.newTab === true);
      return;
    }
    case "openModal":
      context.openModal(name("modal"));
      return;
    case "closeModal":
      context.closeModal(name("modal"));
      return;
    case "setComponentValue":
      context.setComponentValue(name("component"), value("value"));
      return;
  }
}

// Handler fields are JSON like props: strings may hold bindings, objects are resolved deeply.
function resolve(raw: unknown, scope: Scope, field: string, depth = 0): unknown {
  if (depth > 64) throw new Error(`${field}: nested too deeply`);
  if (typeof raw === "string") {
    const result = resolveTemplate(raw, scope);
    if (!result.ok) throw new Error(`${field}: ${result.error}`);
    return result.value;
  }
  if (Array.isArray(raw)) return raw.map((v) => resolve(v, scope, field, depth + 1));
  if (raw !== null && typeof raw === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) {
      Object.defineProperty(out, k, { value: resolve(v, scope, field, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return raw;
}

/**
 * Only absolute http and https URLs may be opened: `javascript:` would run code in the app's
 * origin and `data:`/`file:` could show a page that looks like the app.
 */
export function safeUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new Error(`"${text}" is not an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`only http and https URLs may be opened, not ${url.protocol}`);
  }
  return url.href;
}
