// An app's released versions: view one, restore one into the draft (the release stays what it
// is until the next release), and export the draft or a version as a JSON file.
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, call, type Problem } from "../api/client";
import { useLoad } from "../api/hooks";
import { canInWorkspace, canOnApp, usePermissions } from "../apps/permissions";
import { Shell } from "../apps/Shell";
import { ConfirmButton, When } from "../admin/ui";
import { BusyButton, ProblemText, Spinner } from "../ui/feedback";
import { downloadJson } from "./download";
import "../admin/admin.css";

export function VersionsPage() {
  const { ws = "", app = "" } = useParams();
  const versions = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/apps/{app}/versions", { params: { path: { ws, app } } })), [ws, app]);
  const [viewing, setViewing] = useState<number | null>(null);
  const [restored, setRestored] = useState<number | null>(null);
  // Export, restore and the draft are for who may edit the app; others get no button that
  // would end in a 403.
  const permissions = usePermissions(ws).state.data;
  const appLoad = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/apps/{app}", { params: { path: { ws, app } } })), [ws, app]);
  const view = appLoad.state.data;
  const canEdit = view !== undefined && canOnApp(permissions, view.id, "edit");

  return (
    <Shell ws={ws}>
      <section className="home">
        <div className="admin-head">
          <h1>Versions of {app}</h1>
          <span className="busy-slot">{versions.state.status === "loading" ? <Spinner /> : null}</span>
          {canEdit ? (
            <>
              <ExportButton ws={ws} app={app} version="draft" label="Export draft" />
              <Link className="button" to={`/builder/${ws}/${app}`}>Open draft</Link>
            </>
          ) : null}
        </div>
        {view && canEdit && canInWorkspace(permissions, "manage_workspace") ? (
          <PublicSwitch ws={ws} app={app} isPublic={view.public} released={view.released != null} onChanged={appLoad.reload} />
        ) : null}
        <p role="status" className="state-ok" style={{ minHeight: 20, margin: 0 }}>
          {restored !== null ? `Version ${restored} is now the draft. Release it to show it to viewers.` : ""}
        </p>
        {versions.state.status === "error" ? <ProblemText problem={versions.state.problem} /> : null}
        <table className="list">
          <thead>
            <tr><th>Version</th><th>Note</th><th>Released</th><th /></tr>
          </thead>
          <tbody>
            {(versions.state.data ?? []).map((v) => (
              <tr key={v.number} data-testid="version-row">
                <td>
                  v{v.number} {v.current ? <span className="badge">live</span> : null}
                </td>
                <td>{v.note}</td>
                <td><When at={v.released_at} /></td>
                <td className="actions">
                  <button onClick={() => setViewing(viewing === v.number ? null : v.number)}>{viewing === v.number ? "Hide" : "View"}</button>
                  {canEdit ? (
                    <>
                      <ExportButton ws={ws} app={app} version={String(v.number)} label="Export" />
                      <ConfirmButton
                        label="Restore"
                        question={`Replace the draft with version ${v.number}?`}
                        confirmLabel="Restore as draft"
                        action={() => call(api.POST("/api/v1/workspaces/{ws}/apps/{app}/versions/{n}/restore", { params: { path: { ws, app, n: v.number } } }))}
                        onDone={() => setRestored(v.number)}
                      />
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {versions.state.status === "ok" && versions.state.data.length === 0 ? <p className="empty">Not released yet.</p> : null}
        {viewing !== null ? <VersionView ws={ws} app={app} n={viewing} /> : null}
      </section>
    </Shell>
  );
}

function VersionView({ ws, app, n }: { ws: string; app: string; n: number }) {
  const { state } = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/apps/{app}/versions/{n}", { params: { path: { ws, app, n } } })), [ws, app, n]);
  if (state.status === "error") return <ProblemText problem={state.problem} />;
  if (state.status !== "ok") return <Spinner />;
  const definition = state.data.definition as { pages?: { name?: string; components?: unknown[] }[]; queries?: { name?: string; datasource?: string }[] };
  return (
    <section className="panel" style={{ marginTop: 16 }} aria-label={`Version ${n}`}>
      <h2>Version {n}</h2>
      <p>
        {(definition.pages ?? []).length} page(s): {(definition.pages ?? []).map((p) => `${p.name ?? "?"} (${(p.components ?? []).length} components)`).join(", ")}
      </p>
      <p>Queries: {(definition.queries ?? []).map((q) => `${q.name ?? "?"} on ${q.datasource ?? "?"}`).join(", ") || "none"}</p>
      <pre className="definition">{JSON.stringify(state.data.definition, null, 2)}</pre>
    </section>
  );
}

function ExportButton({ ws, app, version, label }: { ws: string; app: string; version: string; label: string }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  async function exportIt() {
    setBusy(true);
    setProblem(null);
    const result = await call(api.GET("/api/v1/workspaces/{ws}/apps/{app}/export", { params: { path: { ws, app }, query: { version } } }));
    setBusy(false);
    if (result.ok) downloadJson(`${app}-${version}.lathe.json`, result.data);
    else setProblem(result.problem);
  }
  return (
    <span className="inline-form" style={{ display: "inline-flex" }}>
      <BusyButton busy={busy} onClick={() => void exportIt()}>{label}</BusyButton>
      {problem ? <ProblemText problem={problem} /> : null}
    </span>
  );
}

/**
 * Whether anyone with the link may open the app (`/public/{ws}/{app}`), signed in or not.
 * Making it public asks first, in words, what that gives away; making it private doesn't.
 */
function PublicSwitch({ ws, app, isPublic, released, onChanged }: { ws: string; app: string; isPublic: boolean; released: boolean; onChanged(): void }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const link = `${window.location.origin}/public/${ws}/${app}`;

  async function set(value: boolean) {
    setBusy(true);
    setProblem(null);
    const result = await call(api.PATCH("/api/v1/workspaces/{ws}/apps/{app}", { params: { path: { ws, app } }, body: { public: value } }));
    setBusy(false);
    if (!result.ok) {
      setProblem(result.problem);
      return;
    }
    setAsking(false);
    onChanged();
  }

  return (
    <section className="panel public-switch" aria-label="Public access">
      <label className="field-inline">
        <input
          type="checkbox"
          role="switch"
          aria-checked={isPublic}
          checked={isPublic}
          disabled={busy || asking}
          onChange={(e) => (e.target.checked ? setAsking(true) : void set(false))}
        />
        Public
        <span className="busy-slot">{busy ? <Spinner label="Saving" /> : null}</span>
      </label>
      {asking ? (
        <div className="inline-form" role="group" aria-label="Make the app public?">
          <span>
            Anyone with the link, without signing in, can load the released version of this app and run its released queries against this
            workspace's datasources. Make it public?
          </span>
          <BusyButton busy={busy} className="primary" onClick={() => void set(true)}>
            Make public
          </BusyButton>
          <button onClick={() => setAsking(false)} disabled={busy}>
            Cancel
          </button>
        </div>
      ) : (
        <p className="muted public-state">
          {isPublic ? (
            <>
              Anyone with this link can use the release{released ? "" : " once there is one"}:{" "}
              <a href={link} data-testid="public-link">
                {link}
              </a>
            </>
          ) : (
            "Only members of the workspace can open it."
          )}
        </p>
      )}
      <ProblemText problem={problem} />
    </section>
  );
}
