// A workspace's home: its apps, searchable, each opening in the viewer; builders also get
// the draft and a way to create an app.
import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, call, type Problem, type Schemas } from "../api/client";
import { useLoad } from "../api/hooks";
import { BusyButton, ProblemText, Spinner } from "../ui/feedback";
import { rememberWorkspace } from "./lastWorkspace";
import { canInWorkspace, canOnApp, usePermissions, type Permissions } from "./permissions";
import { Shell } from "./Shell";

type AppSummary = Schemas["AppSummary"];

/** Typing pauses this long before the list is asked again. */
const SEARCH_DEBOUNCE_MS = 250;

export function HomePage() {
  const { ws = "" } = useParams();
  const [query, setQuery] = useState("");
  const [search, setSearch] = useState("");
  const permissions = usePermissions(ws).state.data;

  useEffect(() => rememberWorkspace(ws), [ws]);
  useEffect(() => {
    const timer = setTimeout(() => setSearch(query.trim()), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [query]);

  return (
    <Shell ws={ws}>
      <section className="home">
        <div className="home-head">
          <h1>Apps</h1>
          <input
            type="search"
            className="search"
            aria-label="Search apps"
            placeholder="Search by name or slug"
            value={query}
            maxLength={100}
            onChange={(e) => setQuery(e.target.value)}
          />
          {canInWorkspace(permissions, "build") ? <NewApp ws={ws} /> : null}
          {canInWorkspace(permissions, "build") ? (
            <Link className="button" to={`/workspaces/${ws}/import`}>
              Import
            </Link>
          ) : null}
        </div>
        <AppList ws={ws} search={search} permissions={permissions} />
      </section>
    </Shell>
  );
}

function AppList({ ws, search, permissions }: { ws: string; search: string; permissions: Permissions | undefined }) {
  const [extra, setExtra] = useState<{ items: AppSummary[]; cursor: string | null }>({ items: [], cursor: null });
  const [moreBusy, setMoreBusy] = useState(false);
  const [moreProblem, setMoreProblem] = useState<Problem | null>(null);
  const { state } = useLoad(
    () => call(api.GET("/api/v1/workspaces/{ws}/apps", { params: { path: { ws }, query: search ? { q: search } : {} } })),
    [ws, search],
  );

  // A new search starts from its first page again.
  useEffect(() => setExtra({ items: [], cursor: null }), [ws, search]);

  const page = state.data;
  const items = [...(page?.items ?? []), ...extra.items];
  const cursor = extra.items.length > 0 ? extra.cursor : (page?.next_cursor ?? null);

  async function more() {
    if (!cursor) return;
    setMoreBusy(true);
    const result = await call(
      api.GET("/api/v1/workspaces/{ws}/apps", {
        params: { path: { ws }, query: { cursor, ...(search ? { q: search } : {}) } },
      }),
    );
    setMoreBusy(false);
    if (result.ok) setExtra((e) => ({ items: [...e.items, ...result.data.items], cursor: result.data.next_cursor ?? null }));
    else setMoreProblem(result.problem);
  }

  return (
    <div className="app-list" aria-busy={state.status === "loading"}>
      <div className="list-status">
        {state.status === "loading" ? <Spinner label="Loading apps" /> : null}
        {state.status === "error" ? <ProblemText problem={state.problem} /> : null}
      </div>
      {items.length === 0 && state.status === "ok" ? (
        <p className="empty">{search ? `No app matches “${search}”.` : "No apps yet."}</p>
      ) : (
        <table className="apps">
          <thead>
            <tr>
              <th>Name</th>
              <th>Slug</th>
              <th>Released</th>
              <th>Updated</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((app) => (
              <tr key={app.id} data-testid="app-row">
                <td>
                  {app.released_version != null ? (
                    <Link to={`/apps/${ws}/${app.slug}`}>{app.name}</Link>
                  ) : (
                    <span>{app.name}</span>
                  )}
                </td>
                <td className="mono">{app.slug}</td>
                <td>{app.released_version != null ? `Version ${app.released_version}` : <span className="badge">Draft only</span>}</td>
                <td>{new Date(app.updated_at).toLocaleString()}</td>
                <td className="row-actions">
                  {canOnApp(permissions, app.id, "edit") ? (
                    <Link className="button" to={`/builder/${ws}/${app.slug}`} data-testid="edit-app">
                      Edit
                    </Link>
                  ) : null}
                  {canOnApp(permissions, app.id, "edit") ? (
                    <Link className="button" to={`/workspaces/${ws}/apps/${app.slug}/versions`} data-testid="app-versions">
                      Versions
                    </Link>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor ? (
        <div className="more">
          <BusyButton busy={moreBusy} onClick={() => void more()}>
            Show more
          </BusyButton>
          <ProblemText problem={moreProblem} />
        </div>
      ) : null}
    </div>
  );
}

function NewApp({ ws }: { ws: string }) {
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await call(api.POST("/api/v1/workspaces/{ws}/apps", { params: { path: { ws } }, body: { name, slug } }));
    setBusy(false);
    if (result.ok) navigate(`/builder/${ws}/${result.data.slug}`);
    else setProblem(result.problem);
  }

  if (!open) {
    return (
      <button className="primary" data-testid="new-app" onClick={() => setOpen(true)}>
        New app
      </button>
    );
  }
  return (
    <form className="new-app" onSubmit={submit}>
      <input aria-label="App name" placeholder="Name" required maxLength={100} value={name} onChange={(e) => {
        setName(e.target.value);
        setSlug(slugify(e.target.value));
      }} />
      <input aria-label="App slug" placeholder="slug" required maxLength={64} pattern="[a-z0-9]([a-z0-9\-]*[a-z0-9])?" value={slug} onChange={(e) => setSlug(e.target.value)} />
      <BusyButton type="submit" className="primary" busy={busy}>
        Create
      </BusyButton>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <ProblemText problem={problem} />
    </form>
  );
}

/** A slug suggestion from a name: lower-case letters, digits and inner hyphens. */
export function slugify(name: string): string {
  return name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64)
    .replace(/-+$/g, "");
}
