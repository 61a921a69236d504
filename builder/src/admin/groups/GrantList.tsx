// A list of grants with the form that adds one, shared by a group's grants and a role's. Grants
// are described in words with their objects named (grants.ts); the form offers only what the
// caller holds, and what the server still refuses shows beside the form.
import { useMemo, useState, type FormEvent } from "react";
import { api, call, type ApiResult, type Problem, type Schemas } from "../../api/client";
import { useLoad, type Load } from "../../api/hooks";
import type { Permissions } from "../../apps/permissions";
import { BusyButton, ProblemText, Spinner } from "../../ui/feedback";
import { ConfirmButton, When } from "../ui";
import { actionKind, actionLabel, describeGrant, grantableActions, grantBody, objectChoices, objectPicker, sortGrants, type Action, type Grant, type GrantCreate, type Kind, type Names } from "./grants";

type AppSummary = Schemas["AppSummary"];

/** The workspace's apps and datasources, for naming grants and choosing what a grant is on. */
export type Objects = { names: Names; apps: Load<AppSummary[]>; datasources: Load<Schemas["DatasourceView"][]> };

/** Every app, page after page (the list is paged; grants may name any app). */
async function allApps(ws: string): Promise<ApiResult<AppSummary[]>> {
  const items: AppSummary[] = [];
  let cursor: string | undefined;
  // Bounded, so a server that keeps answering with a cursor can't keep the page loading.
  for (let page = 0; page < 100; page++) {
    const query = cursor ? { limit: 200, cursor } : { limit: 200 };
    const result = await call(api.GET("/api/v1/workspaces/{ws}/apps", { params: { path: { ws }, query } }));
    if (!result.ok) return result;
    items.push(...result.data.items);
    cursor = result.data.next_cursor ?? undefined;
    if (!cursor) break;
  }
  return { ok: true, data: items };
}

/**
 * Loads the objects once for the page. Listing datasources needs `build`; without it they are
 * not asked for, and grants on them are named by id.
 */
export function useObjects(ws: string, mayListDatasources: boolean): Objects {
  const apps = useLoad(() => allApps(ws), [ws]);
  const datasources = useLoad(
    () => (mayListDatasources ? call(api.GET("/api/v1/workspaces/{ws}/datasources", { params: { path: { ws } } })) : Promise.resolve({ ok: true as const, data: [] })),
    [ws, mayListDatasources],
  );
  const names = useMemo<Names>(
    () => ({
      apps: new Map((apps.state.data ?? []).map((a) => [a.id, a.name])),
      datasources: new Map((datasources.state.data ?? []).map((d) => [d.id, d.name])),
    }),
    [apps.state.data, datasources.state.data],
  );
  return { names, apps: apps.state, datasources: datasources.state };
}

export function GrantList({
  title,
  label,
  grants,
  onChanged,
  objects,
  permissions,
  addBlocked,
  canRemove,
  add,
  remove,
}: {
  title: string;
  /** The section's accessible name: "Grants of Finance". */
  label: string;
  grants: Load<Grant[]>;
  onChanged: () => void;
  objects: Objects;
  permissions: Permissions;
  /** Why the caller may not add grants here; null when they may. */
  addBlocked: string | null;
  canRemove: boolean;
  add: (body: GrantCreate) => Promise<ApiResult<unknown>>;
  remove: (grant: Grant) => Promise<ApiResult<unknown>>;
}) {
  const items = sortGrants(grants.data ?? [], objects.names);
  return (
    <section className="panel" aria-label={label}>
      <div className="section-head">
        <h2>{title}</h2>
        <span className="busy-slot">{grants.status === "loading" ? <Spinner label="Loading grants" /> : null}</span>
      </div>
      {grants.status === "error" ? <ProblemText problem={grants.problem} /> : null}
      <table className="list">
        <tbody>
          {items.map((g) => {
            const text = describeGrant(g, objects.names);
            return (
              <tr key={g.id} data-testid="grant-row">
                <td>{text}</td>
                <td className="muted when"><When at={g.created_at} /></td>
                <td className="actions">
                  {canRemove ? <ConfirmButton label="Remove" question={`Take away “${text}”?`} action={() => remove(g)} onDone={onChanged} /> : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {grants.status === "ok" && items.length === 0 ? <p className="empty">No grant yet.</p> : null}
      {addBlocked ? <p className="muted">{addBlocked}</p> : <AddGrant label={label} objects={objects} permissions={permissions} add={add} onAdded={onChanged} />}
    </section>
  );
}

const kindLabels: Record<Kind, string> = { app: "Apps", datasource: "Datasources", workspace: "Workspace" };

function AddGrant({ label, objects, permissions, add, onAdded }: { label: string; objects: Objects; permissions: Permissions; add: (body: GrantCreate) => Promise<ApiResult<unknown>>; onAdded: () => void }) {
  const actions = grantableActions(permissions);
  const [action, setAction] = useState<Action | undefined>(actions[0]);
  const [object, setObject] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  if (action === undefined) return <p className="muted">You hold nothing you could grant.</p>;

  const picker = objectPicker(action);
  const choices = objectChoices(permissions, action, objects.names);
  // Another action offers other objects: fall back to its first choice rather than keep one it
  // doesn't offer.
  const chosen = choices.some((c) => c.id === object) ? object : (choices[0]?.id ?? "");
  const list = picker === "app" ? objects.apps : picker === "datasource" ? objects.datasources : null;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (action === undefined) return;
    setBusy(true);
    setProblem(null);
    const result = await add(grantBody({ action, object: chosen }));
    setBusy(false);
    if (!result.ok) return setProblem(result.problem);
    onAdded();
  }

  return (
    <form className="inline-form grant-form" onSubmit={(e) => void submit(e)} aria-label={`Add to ${label}`}>
      <select aria-label="Action" value={action} disabled={busy} onChange={(e) => (setAction(e.target.value as Action), setProblem(null))}>
        {(["app", "datasource", "workspace"] as const).map((kind) => {
          const ofKind = actions.filter((a) => actionKind(a) === kind);
          return ofKind.length === 0 ? null : (
            <optgroup key={kind} label={kindLabels[kind]}>
              {ofKind.map((a) => <option key={a} value={a}>{actionLabel(a)}</option>)}
            </optgroup>
          );
        })}
      </select>
      <select aria-label="On" className="grant-object" value={chosen} disabled={busy || picker === null || choices.length === 0} onChange={(e) => setObject(e.target.value)}>
        {picker === null ? <option value="">the workspace</option> : null}
        {picker !== null && choices.length === 0 ? <option value="">{list?.status === "loading" ? "Loading…" : "nothing you hold"}</option> : null}
        {choices.map((c) => <option key={c.id} value={c.id}>{c.label}</option>)}
      </select>
      <span className="busy-slot">{list?.status === "loading" ? <Spinner label={`Loading ${picker}s`} /> : null}</span>
      <BusyButton busy={busy} className="primary" type="submit" disabled={picker !== null && choices.length === 0}>Grant</BusyButton>
      <ProblemText problem={problem ?? (list?.status === "error" ? list.problem : null)} />
    </form>
  );
}
