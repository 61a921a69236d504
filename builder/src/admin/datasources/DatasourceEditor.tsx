// Creating and editing one datasource. The form comes from the plugin's config schema
// (schemaForm.ts); secrets are write-only; "Test connection" opens a connection on the server
// and shows its error beside the form; a disabled datasource says why and can be enabled.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { api, call, problemMessage, type Problem, type Schemas } from "../../api/client";
import { useLoad } from "../../api/hooks";
import { canOnDatasource, type Permissions } from "../../apps/permissions";
import { BusyButton, ProblemText, Spinner } from "../../ui/feedback";
import { WorkspaceAdmin } from "../AdminLayout";
import { manifestInfo, type PluginView } from "../plugins/manifest";
import { ConfirmButton } from "../ui";
import { SchemaFields } from "./SchemaFields";
import { buildConfig, destinationFields, fieldOfDetail, fieldsFromSchema, initialValues, secretDropWarnings, type FormValues, type SecretEdit } from "./schemaForm";

type Datasource = Schemas["DatasourceView"];

export function DatasourceEditorPage() {
  const { id } = useParams();
  return <WorkspaceAdmin area="datasources">{(ws, permissions) => <Loader ws={ws} id={id} permissions={permissions} key={id ?? "new"} />}</WorkspaceAdmin>;
}

function Loader({ ws, id, permissions }: { ws: string; id: string | undefined; permissions: Permissions }) {
  const plugins = useLoad(() => call(api.GET("/api/v1/plugins")), []);
  const datasource = useLoad(
    () => (id ? call(api.GET("/api/v1/workspaces/{ws}/datasources/{id}", { params: { path: { ws, id } } })) : Promise.resolve({ ok: true as const, data: null })),
    [ws, id],
  );

  const failed = plugins.state.status === "error" ? plugins.state.problem : datasource.state.status === "error" ? datasource.state.problem : null;
  if (failed) return <ProblemText problem={failed} />;
  if (plugins.state.status !== "ok" || datasource.state.status !== "ok") return <Spinner />;
  const saved = datasource.state.data;
  // Who holds only `use` sees the settings (secrets stay write-only) and can test, but the
  // form is read-only and Save, Delete and Enable are not offered.
  const access = {
    configure: saved ? canOnDatasource(permissions, saved.id, "configure") : permissions.datasources.all.includes("configure"),
    use: saved ? canOnDatasource(permissions, saved.id, "use") : false,
  };
  return <Editor ws={ws} plugins={plugins.state.data} saved={saved} access={access} reload={datasource.reload} />;
}

function Editor({ ws, plugins, saved, access, reload }: { ws: string; plugins: PluginView[]; saved: Datasource | null; access: { configure: boolean; use: boolean }; reload: () => void }) {
  const navigate = useNavigate();
  const [pluginId, setPluginId] = useState(saved?.plugin ?? manifestInfo(plugins[0] ?? ({ manifest: {} } as PluginView)).id);
  const plugin = plugins.find((p) => manifestInfo(p).id === pluginId);
  const info = plugin ? manifestInfo(plugin) : null;
  const fields = useMemo(() => (info ? fieldsFromSchema(info.config, info.secrets) : []), [info?.id, info?.version]);

  const [name, setName] = useState(saved?.name ?? "");
  const [maxRows, setMaxRows] = useState(saved ? String(saved.max_rows) : "");
  const [values, setValues] = useState<FormValues>(() => initialValues(fields, saved?.config as Record<string, unknown> | undefined));
  const [secretEdits, setSecretEdits] = useState<Record<string, SecretEdit>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saving, setSaving] = useState(false);

  // Saving a new destination (host, port, URL…) drops the stored secrets not entered again.
  const destinations = useMemo(() => (info ? destinationFields(info.config, info.capabilities) : []), [info?.id, info?.version]);
  const warnings = saved
    ? secretDropWarnings(fields, values, saved.config as Record<string, unknown>, destinations, saved.secrets as Record<string, string>, secretEdits)
    : {};

  // Another plugin means another form: start again from its defaults.
  useEffect(() => {
    if (!saved) setValues(initialValues(fields));
  }, [fields, saved]);

  async function save(event: FormEvent) {
    event.preventDefault();
    setProblem(null);
    const built = buildConfig(fields, values, saved ? secretEdits : undefined);
    const fieldErrors: Record<string, string> = built.ok ? {} : { ...built.errors };
    if (name.trim() === "") fieldErrors.name = "A name is required.";
    const rows = maxRows.trim() === "" ? null : Number(maxRows);
    if (rows !== null && (!Number.isInteger(rows) || rows < 1)) fieldErrors.max_rows = "A whole number of at least 1.";
    setErrors(fieldErrors);
    if (!built.ok || Object.keys(fieldErrors).length > 0) return;

    setSaving(true);
    const result = saved
      ? await call(api.PATCH("/api/v1/workspaces/{ws}/datasources/{id}", { params: { path: { ws, id: saved.id } }, body: { name: name.trim(), config: built.config, max_rows: rows } }))
      : await call(api.POST("/api/v1/workspaces/{ws}/datasources", { params: { path: { ws } }, body: { name: name.trim(), plugin: pluginId, config: built.config, max_rows: rows } }));
    setSaving(false);
    if (!result.ok) {
      // A 422 about one field goes beside that field; anything else beside the buttons.
      const field = result.problem.status === 422 ? fieldOfDetail(result.problem.detail, fields) : null;
      if (field) setErrors({ [field]: problemMessage(result.problem) });
      else setProblem(result.problem);
      return;
    }
    setSecretEdits({});
    if (saved) reload();
    else navigate(`/workspaces/${ws}/settings/datasources/${result.data.id}`, { replace: true });
  }

  const busy = saving || !access.configure;
  return (
    <>
      <div className="admin-head">
        <h1>{saved ? saved.name : "New datasource"}</h1>
        {saved && access.configure ? (
          <ConfirmButton
            label="Delete"
            question="Delete this datasource? Apps using it stop working."
            action={() => call(api.DELETE("/api/v1/workspaces/{ws}/datasources/{id}", { params: { path: { ws, id: saved.id } } }))}
            onDone={() => navigate(`/workspaces/${ws}/settings/datasources`)}
          />
        ) : null}
      </div>
      {saved?.disabled ? <DisabledNotice ws={ws} datasource={saved} canEnable={access.configure} onEnabled={reload} /> : null}
      {access.configure ? null : (
        <p className="muted" role="note">
          You may use this datasource in queries but not change its settings; ask someone with configure access.
        </p>
      )}
      <form className="panel" onSubmit={(e) => void save(e)} noValidate aria-label="Datasource">
        <div className="form-grid">
          <label htmlFor="ds-name">Name *</label>
          <div className="field">
            <input id="ds-name" value={name} maxLength={100} disabled={busy} onChange={(e) => setName(e.target.value)} aria-invalid={errors.name !== undefined} />
            <p className="help">Apps refer to the datasource by this name.</p>
            <p className="problem" role={errors.name ? "alert" : undefined}>{errors.name ?? "\u00a0"}</p>
          </div>
          <label htmlFor="ds-plugin">Plugin</label>
          <div className="field">
            <select id="ds-plugin" value={pluginId} disabled={busy || saved !== null} onChange={(e) => setPluginId(e.target.value)}>
              {plugins.map((p) => {
                const m = manifestInfo(p);
                return (
                  <option key={m.id} value={m.id}>
                    {m.name} ({m.id} {m.version})
                  </option>
                );
              })}
              {saved && !plugin ? <option value={saved.plugin}>{saved.plugin} (not installed)</option> : null}
            </select>
            <p className="help">{info?.description ?? "This plugin is not installed; the datasource can't run until it is."}</p>
            <p className="problem">{"\u00a0"}</p>
          </div>
          <SchemaFields
            fields={fields}
            values={values}
            errors={errors}
            warnings={warnings}
            disabled={busy}
            onValue={(field, value) => setValues((v) => ({ ...v, [field]: value }))}
            secrets={saved ? { state: saved.secrets as Record<string, string>, edits: secretEdits, onEdit: (field, edit) => setSecretEdits((s) => ({ ...s, [field]: edit })) } : undefined}
          />
          <label htmlFor="ds-max-rows">Row limit</label>
          <div className="field">
            <input id="ds-max-rows" type="number" min={1} step={1} placeholder="10000" value={maxRows} disabled={busy} onChange={(e) => setMaxRows(e.target.value)} />
            <p className="help">Rows a run keeps before its result is cut.</p>
            <p className="problem" role={errors.max_rows ? "alert" : undefined}>{errors.max_rows ?? "\u00a0"}</p>
          </div>
        </div>
        <div className="actions-row">
          {access.configure ? (
            <BusyButton busy={saving} className="primary" type="submit" disabled={!plugin}>
              {saved ? "Save" : "Create datasource"}
            </BusyButton>
          ) : null}
          {saved ? access.use ? <TestConnection ws={ws} id={saved.id} /> : null : <span className="muted">Save first, then test the connection.</span>}
        </div>
        <ProblemText problem={problem} />
      </form>
    </>
  );
}

function TestConnection({ ws, id }: { ws: string; id: string }) {
  const [state, setState] = useState<{ status: "idle" } | { status: "busy" } | { status: "ok"; ms: number } | { status: "failed"; problem: Problem }>({ status: "idle" });
  async function test() {
    setState({ status: "busy" });
    const result = await call(api.POST("/api/v1/workspaces/{ws}/datasources/{id}/test", { params: { path: { ws, id } } }));
    if (result.ok && result.data.ok) setState({ status: "ok", ms: result.data.durationMs });
    else if (result.ok) setState({ status: "failed", problem: { type: "about:blank", title: "The connection test failed", status: 200 } });
    else setState({ status: "failed", problem: result.problem });
  }
  return (
    <span className="test-result" data-testid="test-result">
      <BusyButton type="button" busy={state.status === "busy"} onClick={() => void test()}>
        Test connection
      </BusyButton>
      {state.status === "busy" ? <span className="muted">Connecting…</span> : null}
      {state.status === "ok" ? <span className="state-ok" role="status">Connected in {state.ms} ms</span> : null}
      {state.status === "failed" ? <span className="state-bad" role="alert">{problemMessage(state.problem)}</span> : null}
    </span>
  );
}

function DisabledNotice({ ws, datasource, canEnable, onEnabled }: { ws: string; datasource: Datasource; canEnable: boolean; onEnabled: () => void }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  async function enable() {
    setBusy(true);
    const result = await call(api.PATCH("/api/v1/workspaces/{ws}/datasources/{id}", { params: { path: { ws, id: datasource.id } }, body: { enabled: true } }));
    setBusy(false);
    if (result.ok) onEnabled();
    else setProblem(result.problem);
  }
  return (
    <div className="warning" role="status">
      <strong>Disabled:</strong> {datasource.disabled}{" "}
      {canEnable ? (
        <BusyButton busy={busy} onClick={() => void enable()}>
          Enable
        </BusyButton>
      ) : null}
      <ProblemText problem={problem} />
    </div>
  );
}
