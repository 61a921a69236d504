// The property panel: the selected component's id, its props (per type, from catalog.ts),
// its layout and its event handlers. Every change goes through `change` with a merge key, so
// typing in one field is one undo step.
import { useEffect, useId, useRef, useState } from "react";
import type { Component, EventHandler } from "../api/app-definition.gen";
import type { Scope } from "../expressions";
import { BindableField } from "./BindableField";
import { TYPE_INFO } from "./catalog";
import { EventsEditor } from "./EventsEditor";
import type { SaveProblemTarget } from "./problems";
import { nameProblem } from "./rename";

export type PanelNames = { queries: string[]; pages: string[]; modals: string[]; components: string[]; variables: string[] };

export function PropertyPanel({
  component,
  scope,
  names,
  problem,
  change,
  rename,
  remove,
  setLayout,
}: {
  component: Component;
  scope: Scope;
  names: PanelNames;
  problem: SaveProblemTarget | null;
  change(update: (c: Component) => Component, mergeKey: string | null): void;
  /** Gives the component a new id; references to it follow (rename.ts). */
  rename(to: string): void;
  remove(): void;
  setLayout(field: "x" | "y" | "w" | "h", value: number): void;
}) {
  const info = TYPE_INFO.get(component.type);
  const props = (component.props ?? {}) as Record<string, unknown>;
  const mine = problem?.kind === "component" && problem.id === component.id ? problem : null;
  const problemFor = (field: string) => (mine && mine.field !== null && (mine.field === field || mine.field.startsWith(`${field}.`)) ? mine.message : null);

  const setProp = (name: string, value: unknown) =>
    change((c) => {
      const next = { ...(c.props ?? {}) } as Record<string, unknown>;
      if (value === undefined) delete next[name];
      else next[name] = value;
      return { ...c, props: next };
    }, `${component.id}.props.${name}`);

  const known = new Set(info?.props.map((p) => p.name));
  const extra = Object.keys(props).filter((k) => !known.has(k));

  return (
    <div className="property-panel" data-testid="property-panel">
      <div className="panel-head">
        <h2>
          {component.id} <span className="muted">{info?.label ?? component.type}</span>
        </h2>
        <button type="button" onClick={remove} aria-label={`Delete ${component.id}`}>
          Delete
        </button>
      </div>
      <IdField id={component.id} taken={names.components} rename={rename} />
      {mine && (mine.field === null || !Object.keys(props).some((k) => mine.field?.startsWith(`props.${k}`))) && !mine.field?.startsWith("events") && !mine.field?.startsWith("layout") ? (
        <p className="field-error" role="alert">
          {mine.message}
        </p>
      ) : null}
      <section>
        <h3>Properties</h3>
        {[...(info?.props ?? []), ...extra.map((name) => ({ name, label: name, kind: "json" as const, hint: undefined }))].map((spec) => (
          <BindableField
            key={spec.name}
            label={spec.label}
            kind={spec.kind}
            hint={spec.hint}
            value={props[spec.name]}
            scope={scope}
            problem={problemFor(`props.${spec.name}`)}
            onChange={(v) => setProp(spec.name, v)}
          />
        ))}
      </section>
      <section>
        <h3>Layout</h3>
        <div className="layout-fields">
          {(["x", "y", "w", "h"] as const).map((f) => (
            <label key={f}>
              {f}
              <input type="number" min={f === "w" || f === "h" ? 1 : 0} value={component.layout[f]} onChange={(e) => Number.isFinite(e.target.valueAsNumber) && setLayout(f, e.target.valueAsNumber)} />
            </label>
          ))}
        </div>
        {problemFor("layout") ? <p className="field-error" role="alert">{problemFor("layout")}</p> : null}
      </section>
      <section>
        <h3>Events</h3>
        <EventsEditor
          handlers={component.events ?? []}
          events={info?.events ?? []}
          names={names}
          scope={scope}
          problem={problemFor("events")}
          onChange={(handlers: EventHandler[], key) =>
            change((c) => (handlers.length === 0 ? withoutEvents(c) : { ...c, events: handlers }), key === null ? null : `${component.id}.${key}`)
          }
        />
      </section>
    </div>
  );
}

function withoutEvents(c: Component): Component {
  const { events: _events, ...rest } = c;
  return rest;
}

// The component's id, edited in place and applied on Enter, when the field loses focus, or
// when the panel closes (a click on another component unmounts it before any blur).
function IdField({ id, taken, rename }: { id: string; taken: readonly string[]; rename(to: string): void }) {
  const [value, setValue] = useState(id);
  const problem = value === id ? null : nameProblem(value, new Set(taken), "component");
  const apply = () => {
    if (value !== id && problem === null) rename(value);
  };
  const pending = useRef(apply);
  pending.current = apply;
  useEffect(() => () => pending.current(), []);
  const inputId = useId();
  return (
    <div className="field">
      <label htmlFor={inputId}>Name</label>
      <input
        id={inputId}
        value={value}
        aria-invalid={problem !== null}
        spellCheck={false}
        onChange={(e) => setValue(e.target.value)}
        onBlur={apply}
        onKeyDown={(e) => {
          if (e.key === "Enter") apply();
          else if (e.key === "Escape") setValue(id);
        }}
      />
      {problem ? <p className="field-error">{problem}</p> : <p className="field-hint">Bindings and handlers that use it are updated.</p>}
    </div>
  );
}
