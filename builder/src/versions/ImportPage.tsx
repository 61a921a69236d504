// Importing an exported app into a workspace: pick the file, optionally rename it, point each
// datasource name it uses at one of this workspace's datasources, and import. The answer says
// which datasources are still missing.
import { useState, type ChangeEvent, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { api, call, type Problem, type Schemas } from "../api/client";
import { useLoad } from "../api/hooks";
import { canInWorkspace, usePermissions } from "../apps/permissions";
import { Shell } from "../apps/Shell";
import { BusyButton, PageMessage, ProblemText, Spinner } from "../ui/feedback";
import { datasourceMap, documentDatasources, importProblemField } from "./download";
import "../admin/admin.css";

export function ImportPage() {
  const { ws = "" } = useParams();
  const permissions = usePermissions(ws).state;
  // Importing creates an app: the form is only for who may build in the workspace.
  if (!permissions.data) {
    return (
      <Shell ws={ws}>
        {permissions.status === "error" ? <ProblemText problem={permissions.problem} /> : <PageMessage title="Import an app"><Spinner /></PageMessage>}
      </Shell>
    );
  }
  if (!canInWorkspace(permissions.data, "build")) {
    return (
      <Shell ws={ws}>
        <PageMessage title="You can't import apps here">
          <p data-testid="no-import-access">Your role in this workspace doesn't let you create apps.</p>
        </PageMessage>
      </Shell>
    );
  }
  return <ImportForm ws={ws} />;
}

function ImportForm({ ws }: { ws: string }) {
  const datasources = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/datasources", { params: { path: { ws } } })), [ws]);
  const [document_, setDocument] = useState<Record<string, unknown> | null>(null);
  const [fileProblem, setFileProblem] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [choices, setChoices] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [done, setDone] = useState<Schemas["AppImported"] | null>(null);
  const used = documentDatasources(document_);
  // A refusal about the name or the slug shows beside that field; anything else below the form.
  const field = problem ? importProblemField(problem) : null;

  async function pick(event: ChangeEvent<HTMLInputElement>) {
    setFileProblem(null);
    setDocument(null);
    setDone(null);
    const file = event.target.files?.[0];
    if (!file) return;
    try {
      const parsed = JSON.parse(await file.text()) as unknown;
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
      setDocument(parsed as Record<string, unknown>);
      setChoices({});
    } catch {
      setFileProblem("This file is not an exported app (JSON).");
    }
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!document_) return;
    setBusy(true);
    setProblem(null);
    const result = await call(
      api.POST("/api/v1/workspaces/{ws}/apps/import", {
        params: { path: { ws } },
        body: { document: document_, name: name.trim() || null, slug: slug.trim() || null, datasource_map: datasourceMap(used, choices) },
      }),
    );
    setBusy(false);
    if (result.ok) setDone(result.data);
    else setProblem(result.problem);
  }

  return (
    <Shell ws={ws}>
      <section className="home">
        <div className="admin-head"><h1>Import an app</h1></div>
        <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Import">
          <div className="form-grid">
            <label htmlFor="import-file">Export file</label>
            <div className="field">
              <input id="import-file" type="file" accept="application/json,.json" onChange={(e) => void pick(e)} disabled={busy} />
              <p className="problem" role={fileProblem ? "alert" : undefined}>{fileProblem ?? "\u00a0"}</p>
            </div>
            <label htmlFor="import-name">Name</label>
            <div className="field">
              <input id="import-name" placeholder="the document's" value={name} onChange={(e) => setName(e.target.value)} disabled={busy} aria-invalid={field === "name"} aria-describedby="import-name-problem" />
              <ProblemText problem={field === "name" ? problem : null} id="import-name-problem" />
            </div>
            <label htmlFor="import-slug">Slug</label>
            <div className="field">
              <input id="import-slug" placeholder="the document's" value={slug} onChange={(e) => setSlug(e.target.value)} disabled={busy} aria-invalid={field === "slug"} aria-describedby="import-slug-problem" />
              <ProblemText problem={field === "slug" ? problem : null} id="import-slug-problem" />
            </div>
            {used.map((source) => (
              <div key={source} style={{ display: "contents" }}>
                <label htmlFor={`map-${source}`}>Datasource “{source}”</label>
                <div className="field">
                  <select id={`map-${source}`} value={choices[source] ?? source} onChange={(e) => setChoices({ ...choices, [source]: e.target.value })} disabled={busy}>
                    <option value={source}>keep the name {source}</option>
                    {(datasources.state.data ?? []).filter((d) => d.name !== source).map((d) => (
                      <option key={d.id} value={d.name}>use {d.name}</option>
                    ))}
                  </select>
                </div>
              </div>
            ))}
          </div>
          <div className="actions-row">
            <BusyButton busy={busy} className="primary" type="submit" disabled={!document_}>Import</BusyButton>
          </div>
          <ProblemText problem={field === null ? problem : null} />
        </form>
        {done ? (
          <div className="panel" role="status">
            Imported <Link to={`/builder/${ws}/${done.app.slug}`}>{done.app.name}</Link> as a draft.
            {done.unresolved_datasources.length > 0 ? <p className="state-bad">Missing datasources: {done.unresolved_datasources.join(", ")}</p> : null}
          </div>
        ) : null}
      </section>
    </Shell>
  );
}
