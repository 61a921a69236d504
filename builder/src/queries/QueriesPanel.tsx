// The queries of the draft: list, create, rename, delete; datasource and operation; the
// operation's form (SchemaForm); inputs detected from the template with an editable inputs
// schema; run on load; success and failure handlers; and a preview run on the datasource
// (`POST …/datasources/{id}/run`) shown as a table and as JSON.
import { useState } from "react";
import type { EventHandler, Query } from "../api/app-definition.gen";
import { api, call, type Problem, type Schemas } from "../api/client";
import { useLoad } from "../api/hooks";
import type { Scope } from "../expressions";
import { EventsEditor } from "../builder/EventsEditor";
import type { PanelNames } from "../builder/PropertyPanel";
import type { SaveProblemTarget } from "../builder/problems";
import { nameProblem } from "../builder/rename";
import { BusyButton, ProblemText } from "../ui/feedback";
import { detectInputs, detectStateReads, withDetectedInputs } from "./detect";
import { JsonArea, SchemaForm } from "./SchemaForm";
import { PreviewResult } from "./PreviewResult";

type Operation = { title?: string; schema?: unknown };

export function QueriesPanel({
  ws,
  queries,
  scope,
  names,
  problem,
  onChange,
  onRename,
}: {
  ws: string;
  queries: readonly Query[];
  scope: Scope;
  names: PanelNames;
  problem: SaveProblemTarget | null;
  onChange(queries: Query[], mergeKey: string | null): void;
  /** Renames a query; references to it follow (builder/rename.ts). */
  onRename(from: string, to: string): void;
}) {
  const [selected, setSelected] = useState<string | null>(queries[0]?.name ?? null);
  const datasources = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/datasources", { params: { path: { ws } } })), [ws]).state;
  const plugins = useLoad(() => call(api.GET("/api/v1/plugins")), []).state;
  const query = queries.find((q) => q.name === selected) ?? null;

  const create = () => {
    const taken = new Set(queries.map((q) => q.name));
    let n = 1;
    while (taken.has(`query${n}`)) n++;
    const first = datasources.data?.[0];
    const operation = first ? Object.keys(operationsOf(plugins.data, first.plugin))[0] : undefined;
    onChange([...queries, { name: `query${n}`, datasource: first?.name ?? "", operation: operation ?? "sql", query: {}, inputs: { type: "object" } }], null);
    setSelected(`query${n}`);
  };

  return (
    <div className="queries-panel" data-testid="queries-panel">
      <div className="queries-list">
        <button type="button" className="primary" onClick={create}>
          New query
        </button>
        <ul>
          {queries.map((q) => (
            <li key={q.name}>
              <button type="button" className={q.name === selected ? "active" : undefined} aria-current={q.name === selected} onClick={() => setSelected(q.name)}>
                {q.name}
                {problem?.kind === "query" && problem.name === q.name ? <span className="dot-error" aria-label="has an error" /> : null}
              </button>
            </li>
          ))}
        </ul>
      </div>
      {query ? (
        <QueryEditor
          key={queries.indexOf(query)}
          ws={ws}
          query={query}
          queries={queries}
          datasources={datasources.data ?? []}
          datasourcesProblem={datasources.status === "error" ? datasources.problem : null}
          plugins={plugins.data ?? []}
          scope={scope}
          names={names}
          problem={problem?.kind === "query" && problem.name === query.name ? problem : null}
          onChange={(next, key) => onChange(queries.map((q) => (q === query ? next : q)), key)}
          onRename={(to) => {
            onRename(query.name, to);
            setSelected(to);
          }}
          onDelete={() => {
            onChange(queries.filter((q) => q !== query), null);
            setSelected(null);
          }}
        />
      ) : (
        <p className="muted queries-empty">{queries.length === 0 ? "No queries yet: create one to load data." : "Choose a query."}</p>
      )}
    </div>
  );
}

function operationsOf(plugins: readonly Schemas["PluginView"][] | undefined, pluginId: string | undefined): Record<string, Operation> {
  const manifest = plugins?.find((p) => (p.manifest as { id?: string }).id === pluginId)?.manifest as { operations?: Record<string, Operation> } | undefined;
  return manifest?.operations ?? {};
}

function QueryEditor({
  ws,
  query,
  queries,
  datasources,
  datasourcesProblem,
  plugins,
  scope,
  names,
  problem,
  onChange,
  onRename,
  onDelete,
}: {
  ws: string;
  query: Query;
  queries: readonly Query[];
  datasources: readonly Schemas["DatasourceView"][];
  datasourcesProblem: Problem | null;
  plugins: readonly Schemas["PluginView"][];
  scope: Scope;
  names: PanelNames;
  problem: Extract<SaveProblemTarget, { kind: "query" }> | null;
  onChange(next: Query, mergeKey: string | null): void;
  onRename(to: string): void;
  onDelete(): void;
}) {
  const [name, setName] = useState(query.name);
  const [previewInputs, setPreviewInputs] = useState<Record<string, string>>({});
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<{ ok: true; data: Schemas["RunResponse"] } | { ok: false; problem: Problem } | null>(null);

  const datasource = datasources.find((d) => d.name === query.datasource);
  const operations = operationsOf(plugins, datasource?.plugin);
  const operation = operations[query.operation];
  const inputs = detectInputs(query.query);
  const reads = detectStateReads(query.query);
  const renameProblem = name === query.name ? null : nameProblem(name, new Set(queries.map((q) => q.name)), "query");
  const applyName = () => renameProblem === null && name !== query.name && onRename(name);
  const events = (query as Query & { events?: EventHandler[] }).events ?? [];
  const fieldProblem = (field: string) => (problem && (problem.field === field || (problem.field ?? "").startsWith(`${field}/`)) ? problem.message : null);

  const run = async () => {
    if (!datasource) return;
    setRunning(true);
    const values: Record<string, unknown> = {};
    for (const input of inputs) values[input] = previewInputs[input] ?? "";
    const answer = await call(
      api.POST("/api/v1/workspaces/{ws}/datasources/{id}/run", {
        params: { path: { ws, id: datasource.id } },
        body: { operation: query.operation, query: query.query as Record<string, never>, inputs: values },
      }),
    );
    setRunning(false);
    setResult(answer);
  };

  return (
    <div className="query-editor" aria-label={`Query ${query.name}`}>
      <div className="query-row">
        <label className="field">
          Name
          <input
            value={name}
            aria-invalid={renameProblem !== null}
            spellCheck={false}
            onChange={(e) => setName(e.target.value)}
            onBlur={applyName}
            onKeyDown={(e) => {
              if (e.key === "Enter") applyName();
              else if (e.key === "Escape") setName(query.name);
            }}
          />
          {renameProblem ? <span className="field-error">{renameProblem}</span> : null}
        </label>
        <label className="field">
          Datasource
          <select
            value={query.datasource}
            onChange={(e) => {
              const next = datasources.find((d) => d.name === e.target.value);
              const ops = Object.keys(operationsOf(plugins, next?.plugin));
              onChange({ ...query, datasource: e.target.value, operation: ops.includes(query.operation) ? query.operation : (ops[0] ?? query.operation) }, null);
            }}
          >
            {datasource ? null : <option value={query.datasource}>{query.datasource || "Choose…"}</option>}
            {datasources.map((d) => (
              <option key={d.id} value={d.name}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Operation
          <select value={query.operation} onChange={(e) => onChange({ ...query, operation: e.target.value }, null)}>
            {operation ? null : <option value={query.operation}>{query.operation}</option>}
            {Object.entries(operations).map(([id, op]) => (
              <option key={id} value={id}>
                {op.title ?? id}
              </option>
            ))}
          </select>
        </label>
        <label className="field-inline">
          <input type="checkbox" checked={query.runOnLoad === true} onChange={(e) => onChange({ ...query, runOnLoad: e.target.checked }, null)} />
          Run on load
        </label>
        <button type="button" onClick={onDelete} aria-label={`Delete query ${query.name}`}>
          Delete
        </button>
      </div>
      {datasourcesProblem ? <ProblemText problem={datasourcesProblem} /> : null}
      {problem && problem.field === null ? <p className="field-error" role="alert">{problem.message}</p> : null}
      <div className="query-columns">
        <div>
          {operation ? (
            <SchemaForm schema={operation.schema} value={query.query as Record<string, unknown>} onChange={(next, field) => onChange({ ...query, query: next }, `query.${query.name}.${field}`)} />
          ) : (
            <JsonArea label="Query" value={query.query} onChange={(v) => v !== null && typeof v === "object" && onChange({ ...query, query: v as Query["query"] }, `query.${query.name}.json`)} />
          )}
          {fieldProblem("query") ? <p className="field-error" role="alert">{fieldProblem("query")}</p> : null}
          <div className="field">
            <span>Inputs schema</span>
            <p className="field-hint">
              {inputs.length > 0 ? `Inputs used: ${inputs.join(", ")}. ` : "No {{ inputs.x }} used. "}
              {reads.length > 0 ? `Reads from the app: ${reads.join(", ")}.` : ""}
            </p>
            {inputs.some((i) => !Object.hasOwn(((query.inputs ?? {}) as { properties?: object }).properties ?? {}, i)) ? (
              <button type="button" onClick={() => onChange({ ...query, inputs: withDetectedInputs(query.inputs, inputs) }, null)}>
                Declare detected inputs
              </button>
            ) : null}
            <JsonArea label="Inputs schema" value={query.inputs ?? { type: "object" }} onChange={(v) => v !== null && typeof v === "object" && onChange({ ...query, inputs: v as Query["inputs"] }, `query.${query.name}.inputs`)} />
            {fieldProblem("inputs") ? <p className="field-error" role="alert">{fieldProblem("inputs")}</p> : null}
          </div>
          <div className="field">
            <span>On success / failure</span>
            <EventsEditor
              handlers={events}
              events={["onSuccess", "onFailure"]}
              names={names}
              scope={scope}
              onChange={(handlers, key) => {
                const { events: _old, ...rest } = query as Query & { events?: unknown };
                onChange((handlers.length === 0 ? rest : { ...rest, events: handlers }) as Query, key === null ? null : `query.${query.name}.${key}`);
              }}
            />
          </div>
        </div>
        <div>
          <div className="preview-inputs">
            {inputs.map((input) => (
              <label key={input} className="field">
                inputs.{input}
                <input value={previewInputs[input] ?? ""} onChange={(e) => setPreviewInputs({ ...previewInputs, [input]: e.target.value })} />
              </label>
            ))}
            <BusyButton type="button" busy={running} disabled={!datasource} onClick={() => void run()}>
              Run preview
            </BusyButton>
          </div>
          {result ? result.ok ? <PreviewResult result={result.data} /> : <ProblemText problem={result.problem} /> : null}
        </div>
      </div>
    </div>
  );
}
