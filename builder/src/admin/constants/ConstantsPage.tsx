// Workspace constants and secrets, read in queries as `{{ constants.x }}` / `{{ secrets.x }}`.
// A secret's value is write-only: the list says it is set, and editing it means typing a new one.
import { useState, type FormEvent } from "react";
import { api, call, type Problem, type Schemas } from "../../api/client";
import { useLoad } from "../../api/hooks";
import { canInWorkspace } from "../../apps/permissions";
import { BusyButton, ProblemText, Spinner } from "../../ui/feedback";
import { WorkspaceAdmin } from "../AdminLayout";
import { ConfirmButton, When } from "../ui";

type Constant = Schemas["ConstantView"];

export function ConstantsPage() {
  return <WorkspaceAdmin area="constants">{(ws, permissions) => <Constants ws={ws} canManage={canInWorkspace(permissions, "manage_constants")} />}</WorkspaceAdmin>;
}

function Constants({ ws, canManage }: { ws: string; canManage: boolean }) {
  const { state, reload } = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/constants", { params: { path: { ws } } })), [ws]);
  return (
    <>
      <div className="admin-head">
        <h1>Constants &amp; secrets</h1>
        <span className="busy-slot">{state.status === "loading" ? <Spinner /> : null}</span>
      </div>
      {state.status === "error" ? <ProblemText problem={state.problem} /> : null}
      <table className="list">
        <thead>
          <tr><th>Name</th><th>Value</th><th>Updated</th><th /></tr>
        </thead>
        <tbody>
          {(state.data ?? []).map((c) => <Row key={c.id} ws={ws} constant={c} canManage={canManage} onChanged={reload} />)}
        </tbody>
      </table>
      {state.status === "ok" && state.data.length === 0 ? <p className="empty">No constant yet.</p> : null}
      {canManage ? <Create ws={ws} onCreated={reload} /> : null}
    </>
  );
}

function Row({ ws, constant, canManage, onChanged }: { ws: string; constant: Constant; canManage: boolean; onChanged: () => void }) {
  const [editing, setEditing] = useState(false);
  // A secret is never prefilled; a constant starts from its value.
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const reference = `{{ ${constant.secret ? "secrets" : "constants"}.${constant.name} }}`;

  async function save(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await call(api.PATCH("/api/v1/workspaces/{ws}/constants/{id}", { params: { path: { ws, id: constant.id } }, body: { value } }));
    setBusy(false);
    if (!result.ok) return setProblem(result.problem);
    setEditing(false);
    onChanged();
  }

  return (
    <tr data-testid="constant-row">
      <td>
        <span className="mono">{constant.name}</span> {constant.secret ? <span className="badge">secret</span> : null}
        <div className="muted mono">{reference}</div>
      </td>
      <td>
        {editing ? (
          <form className="inline-form" onSubmit={(e) => void save(e)}>
            <input aria-label={`New value of ${constant.name}`} type={constant.secret ? "password" : "text"} autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} disabled={busy} />
            <BusyButton busy={busy} className="primary" type="submit">Save</BusyButton>
            <button type="button" onClick={() => setEditing(false)} disabled={busy}>Cancel</button>
            <ProblemText problem={problem} />
          </form>
        ) : constant.secret ? (
          <span className="muted">set (write-only)</span>
        ) : (
          <span className="mono">{constant.value}</span>
        )}
      </td>
      <td><When at={constant.updated_at} /></td>
      <td className="actions">
        {canManage && !editing ? (
          <>
            <button onClick={() => (setValue(constant.secret ? "" : (constant.value ?? "")), setEditing(true))}>{constant.secret ? "Replace" : "Edit"}</button>
            <ConfirmButton label="Delete" question={`Delete ${constant.name}?`} action={() => call(api.DELETE("/api/v1/workspaces/{ws}/constants/{id}", { params: { path: { ws, id: constant.id } } }))} onDone={onChanged} />
          </>
        ) : null}
      </td>
    </tr>
  );
}

function Create({ ws, onCreated }: { ws: string; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [secret, setSecret] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function create(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await call(api.POST("/api/v1/workspaces/{ws}/constants", { params: { path: { ws } }, body: { name: name.trim(), value, secret } }));
    setBusy(false);
    if (!result.ok) return setProblem(result.problem);
    setName("");
    setValue("");
    onCreated();
  }

  return (
    <form className="panel inline-form" style={{ marginTop: 16 }} onSubmit={(e) => void create(e)} aria-label="New constant">
      <input aria-label="Constant name" className="mono" placeholder="name" value={name} onChange={(e) => setName(e.target.value)} disabled={busy} />
      <input aria-label="Constant value" type={secret ? "password" : "text"} autoComplete="off" placeholder="value" value={value} onChange={(e) => setValue(e.target.value)} disabled={busy} />
      <label>
        <input type="checkbox" checked={secret} onChange={(e) => setSecret(e.target.checked)} disabled={busy} /> Secret (write-only)
      </label>
      <BusyButton busy={busy} className="primary" type="submit">Add</BusyButton>
      <ProblemText problem={problem} />
    </form>
  );
}
