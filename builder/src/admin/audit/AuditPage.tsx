// The audit log of a workspace (members with `read_audit`) or of the instance (instance
// admins): filters by action, actor and time range, newest first, older pages by cursor.
import { useState, type FormEvent } from "react";
import { api, call, type Problem, type Schemas } from "../../api/client";
import { useLoad } from "../../api/hooks";
import { BusyButton, ProblemText, Spinner } from "../../ui/feedback";
import { InstanceAdmin, WorkspaceAdmin } from "../AdminLayout";
import { When } from "../ui";

type Event = Schemas["AuditView"];
type Filters = { action?: string; actor?: string; since?: string; until?: string };

/** `datetime-local` gives local wall-clock text; the API wants RFC 3339. */
export function toRfc3339(local: string): string | undefined {
  if (local.trim() === "") return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function fetchPage(scope: "workspace" | "instance", ws: string, filters: Filters, cursor?: string) {
  const query = { ...filters, ...(cursor ? { cursor } : {}), limit: 50 };
  return scope === "workspace"
    ? call(api.GET("/api/v1/workspaces/{ws}/audit", { params: { path: { ws }, query } }))
    : call(api.GET("/api/v1/audit", { params: { query } }));
}

export function AuditPage({ scope }: { scope: "workspace" | "instance" }) {
  if (scope === "instance") {
    return (
      <InstanceAdmin>
        <Audit scope="instance" ws="" />
      </InstanceAdmin>
    );
  }
  return <WorkspaceAdmin area="audit">{(ws) => <Audit scope="workspace" ws={ws} />}</WorkspaceAdmin>;
}

function Audit({ scope, ws }: { scope: "workspace" | "instance"; ws: string }) {
  const [form, setForm] = useState({ action: "", actor: "", since: "", until: "" });
  const [filters, setFilters] = useState<Filters>({});
  const [older, setOlder] = useState<{ items: Event[]; cursor: string | null }>({ items: [], cursor: null });
  const [moreBusy, setMoreBusy] = useState(false);
  const [moreProblem, setMoreProblem] = useState<Problem | null>(null);
  const { state } = useLoad(() => fetchPage(scope, ws, filters), [scope, ws, filters]);

  function apply(event: FormEvent) {
    event.preventDefault();
    const next: Filters = {};
    if (form.action.trim()) next.action = form.action.trim();
    if (form.actor.trim()) next.actor = form.actor.trim();
    const since = toRfc3339(form.since);
    const until = toRfc3339(form.until);
    if (since) next.since = since;
    if (until) next.until = until;
    setOlder({ items: [], cursor: null });
    setFilters(next);
  }

  const items = [...(state.data?.items ?? []), ...older.items];
  const cursor = older.items.length > 0 ? older.cursor : (state.data?.next_cursor ?? null);

  async function more() {
    if (!cursor) return;
    setMoreBusy(true);
    setMoreProblem(null);
    const result = await fetchPage(scope, ws, filters, cursor);
    setMoreBusy(false);
    if (result.ok) setOlder((o) => ({ items: [...o.items, ...result.data.items], cursor: result.data.next_cursor ?? null }));
    else setMoreProblem(result.problem);
  }

  return (
    <>
      <div className="admin-head">
        <h1>{scope === "instance" ? "Instance audit log" : "Audit log"}</h1>
        <span className="busy-slot">{state.status === "loading" ? <Spinner /> : null}</span>
      </div>
      <form className="filters" onSubmit={apply} aria-label="Filters">
        <label>Action<input value={form.action} placeholder="e.g. member.add" onChange={(e) => setForm({ ...form, action: e.target.value })} /></label>
        <label>Actor (user id)<input value={form.actor} onChange={(e) => setForm({ ...form, actor: e.target.value })} /></label>
        <label>From<input type="datetime-local" value={form.since} onChange={(e) => setForm({ ...form, since: e.target.value })} /></label>
        <label>Until<input type="datetime-local" value={form.until} onChange={(e) => setForm({ ...form, until: e.target.value })} /></label>
        <button type="submit" className="primary">Apply</button>
      </form>
      {state.status === "error" ? <ProblemText problem={state.problem} /> : null}
      <table className="list">
        <thead>
          <tr><th>When</th><th>Action</th><th>Actor</th><th>Target</th><th>Detail</th></tr>
        </thead>
        <tbody>
          {items.map((e) => (
            <tr key={e.id} data-testid="audit-row">
              <td><When at={e.at} /></td>
              <td className="mono">{e.action}</td>
              <td>{e.actor_email ?? <span className="muted">—</span>}<div className="muted">{e.via}</div></td>
              <td className="mono detail-cell" title={e.target ?? ""}>{e.target}</td>
              <td className="mono detail-cell" title={e.detail === undefined ? "" : JSON.stringify(e.detail)}>{e.detail === undefined || e.detail === null ? "" : JSON.stringify(e.detail)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {state.status === "ok" && items.length === 0 ? <p className="empty">No event matches.</p> : null}
      <div className="more">
        {cursor ? <BusyButton busy={moreBusy} onClick={() => void more()}>Older events</BusyButton> : null}
        <ProblemText problem={moreProblem} />
      </div>
    </>
  );
}
