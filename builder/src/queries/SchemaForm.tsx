// The query editor's form, generated from the operation's JSON Schema in the plugin manifest:
// strings (SQL with `x-lathe-widget: sql`, text areas with `textarea`), enums, numbers,
// booleans, and anything else as JSON.
import { useId } from "react";
import { SqlEditor } from "./SqlEditor";

type Property = { type?: string | string[]; title?: string; description?: string; enum?: unknown[]; default?: unknown; "x-lathe-widget"?: string };

export function SchemaForm({ schema, value, onChange }: { schema: unknown; value: Record<string, unknown>; onChange(next: Record<string, unknown>, field: string): void }) {
  const properties = (schema as { properties?: Record<string, Property> } | null)?.properties ?? {};
  return (
    <div className="schema-form">
      {Object.entries(properties).map(([name, property]) => (
        <SchemaField
          key={name}
          name={name}
          property={property}
          value={value[name]}
          onChange={(v) => {
            const next = { ...value };
            if (v === undefined) delete next[name];
            else next[name] = v;
            onChange(next, name);
          }}
        />
      ))}
    </div>
  );
}

function SchemaField({ name, property, value, onChange }: { name: string; property: Property; value: unknown; onChange(v: unknown): void }) {
  const id = useId();
  const label = property.title ?? name;
  const type = Array.isArray(property.type) ? property.type[0] : property.type;
  let input;
  if (property["x-lathe-widget"] === "sql") {
    input = <SqlEditor id={id} label={label} value={typeof value === "string" ? value : ""} onChange={(v) => onChange(v === "" ? undefined : v)} />;
  } else if (property.enum) {
    input = (
      <select id={id} value={value === undefined ? "" : JSON.stringify(value)} onChange={(e) => onChange(e.target.value === "" ? undefined : JSON.parse(e.target.value))}>
        <option value="">{property.default === undefined ? "Choose…" : `(default: ${String(property.default)})`}</option>
        {property.enum.map((o) => (
          <option key={JSON.stringify(o)} value={JSON.stringify(o)}>
            {String(o)}
          </option>
        ))}
      </select>
    );
  } else if (type === "boolean") {
    input = <input id={id} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
  } else if (type === "number" || type === "integer") {
    input = <input id={id} type="text" inputMode="decimal" value={value === undefined ? "" : String(value)} onChange={(e) => onChange(e.target.value === "" ? undefined : Number.isFinite(Number(e.target.value)) ? Number(e.target.value) : e.target.value)} />;
  } else if (type === "string") {
    input =
      property["x-lathe-widget"] === "textarea" ? (
        <textarea id={id} value={typeof value === "string" ? value : ""} onChange={(e) => onChange(e.target.value || undefined)} />
      ) : (
        <input id={id} value={typeof value === "string" ? value : ""} placeholder={property.default === undefined ? "" : String(property.default)} onChange={(e) => onChange(e.target.value || undefined)} />
      );
  } else {
    input = <JsonArea id={id} value={value} onChange={onChange} />;
  }
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {input}
      {property.description ? <p className="field-hint">{property.description}</p> : null}
    </div>
  );
}

/** JSON text; kept as typed until it parses, so a half-written object isn't lost. */
export function JsonArea({ id, value, onChange, label }: { id?: string; value: unknown; onChange(v: unknown): void; label?: string }) {
  const text = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value, null, 2);
  let error: string | null = null;
  if (typeof value === "string" && value.trim() !== "") {
    try {
      JSON.parse(value);
    } catch (e) {
      error = e instanceof Error ? e.message : "not JSON";
    }
  }
  return (
    <>
      <textarea
        id={id}
        aria-label={label}
        className="mono"
        rows={4}
        spellCheck={false}
        value={text}
        onChange={(e) => {
          try {
            onChange(e.target.value.trim() === "" ? undefined : (JSON.parse(e.target.value) as unknown));
          } catch {
            onChange(e.target.value);
          }
        }}
      />
      {error ? <p className="field-error">{error}</p> : null}
    </>
  );
}
