// The list of a component's (or query's) event handlers: event, action, the fields the action
// needs, and runIf. Values may be `{{ }}` bindings like any property.
import type { EventHandler } from "../api/app-definition.gen";
import type { Scope } from "../expressions";
import { BindableField } from "./BindableField";
import { ACTIONS } from "./catalog";

type Names = { queries: string[]; pages: string[]; modals: string[]; components: string[]; variables: string[] };

// The fields each action takes besides `event`, `action` and `runIf` (docs/apps.md).
const FIELDS: Record<EventHandler["action"], { name: string; label: string; pick?: keyof Names; kind?: "json" | "boolean" | { options: readonly string[] } }[]> = {
  runQuery: [{ name: "query", label: "Query", pick: "queries" }, { name: "inputs", label: "Inputs", kind: "json" }],
  setVariable: [{ name: "variable", label: "Variable", pick: "variables" }, { name: "value", label: "Value" }],
  showAlert: [{ name: "message", label: "Message" }, { name: "level", label: "Level", kind: { options: ["info", "success", "warning", "error"] } }],
  navigate: [{ name: "page", label: "Page", pick: "pages" }],
  openUrl: [{ name: "url", label: "URL" }, { name: "newTab", label: "New tab", kind: "boolean" }],
  openModal: [{ name: "modal", label: "Modal", pick: "modals" }],
  closeModal: [{ name: "modal", label: "Modal", pick: "modals" }],
  setComponentValue: [{ name: "component", label: "Component", pick: "components" }, { name: "value", label: "Value" }],
};

export function EventsEditor({
  handlers,
  events,
  names,
  scope,
  problem,
  onChange,
}: {
  handlers: readonly EventHandler[];
  events: readonly string[];
  names: Names;
  scope: Scope;
  problem?: string | null;
  onChange(handlers: EventHandler[], mergeKey: string | null): void;
}) {
  const update = (i: number, change: Partial<EventHandler>, mergeKey: string | null) =>
    onChange(handlers.map((h, j) => (j === i ? stripUndefined({ ...h, ...change }) : h)), mergeKey);

  return (
    <div className="events-editor">
      {problem ? (
        <p className="field-error" role="alert">
          {problem}
        </p>
      ) : null}
      {handlers.map((handler, i) => (
        <fieldset key={i} className="handler" aria-label={`Handler ${i + 1}`}>
          <div className="handler-head">
            <select aria-label="Event" value={handler.event} onChange={(e) => update(i, { event: e.target.value }, null)}>
              {[...new Set([...events, handler.event])].map((ev) => (
                <option key={ev}>{ev}</option>
              ))}
            </select>
            <select
              aria-label="Action"
              value={handler.action}
              // A new action keeps only the fields every handler has.
              onChange={(e) => onChange(handlers.map((h, j) => (j === i ? { event: h.event, action: e.target.value as EventHandler["action"], ...(h.runIf ? { runIf: h.runIf } : {}) } : h)), null)}
            >
              {ACTIONS.map((a) => (
                <option key={a}>{a}</option>
              ))}
            </select>
            <button type="button" aria-label={`Remove handler ${i + 1}`} onClick={() => onChange(handlers.filter((_, j) => j !== i), null)}>
              ×
            </button>
          </div>
          {FIELDS[handler.action].map((field) =>
            field.pick ? (
              <label key={field.name} className="field">
                {field.label}
                <select aria-label={field.label} value={typeof handler[field.name] === "string" ? (handler[field.name] as string) : ""} onChange={(e) => update(i, { [field.name]: e.target.value || undefined }, null)}>
                  <option value="">Choose…</option>
                  {names[field.pick].map((n) => (
                    <option key={n}>{n}</option>
                  ))}
                </select>
              </label>
            ) : (
              <BindableField
                key={field.name}
                label={field.label}
                kind={field.kind ?? "text"}
                value={handler[field.name]}
                scope={scope}
                onChange={(v) => update(i, { [field.name]: v }, `handler.${i}.${field.name}`)}
              />
            ),
          )}
          <BindableField label="Run if" kind="text" value={handler.runIf} scope={scope} hint="an expression; empty: always" onChange={(v) => update(i, { runIf: typeof v === "string" ? v : undefined }, `handler.${i}.runIf`)} />
        </fieldset>
      ))}
      <button type="button" disabled={events.length === 0} onClick={() => onChange([...handlers, { event: events[0] ?? "onClick", action: "showAlert", message: "" }], null)}>
        Add handler
      </button>
    </div>
  );
}

function stripUndefined(handler: EventHandler): EventHandler {
  return Object.fromEntries(Object.entries(handler).filter(([, v]) => v !== undefined)) as EventHandler;
}
