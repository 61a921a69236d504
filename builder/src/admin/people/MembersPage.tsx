// Workspace members (manage_members): the list, adding by email, changing roles, removing, and
// pending invites (sent by email; revocable). Roles offered stop at the caller's own, as the
// server allows no more (docs/server.md, "Authorization").
import { useState, type FormEvent } from "react";
import { api, call, type Problem, type Schemas } from "../../api/client";
import { useLoad } from "../../api/hooks";
import { useMe } from "../../auth/session";
import { BusyButton, ProblemText, Spinner } from "../../ui/feedback";
import { WorkspaceAdmin } from "../AdminLayout";
import { ConfirmButton, When } from "../ui";

type Role = Schemas["Role"];
const ranks: Record<Role, number> = { viewer: 0, builder: 1, admin: 2 };
const roles: Role[] = ["viewer", "builder", "admin"];

/** The roles someone with `mine` may give: up to their own. */
export function assignableRoles(mine: Role): Role[] {
  return roles.filter((r) => ranks[r] <= ranks[mine]);
}

export function MembersPage() {
  return <WorkspaceAdmin area="members">{(ws, permissions) => <Members ws={ws} mine={permissions.role} />}</WorkspaceAdmin>;
}

function Members({ ws, mine }: { ws: string; mine: Role }) {
  const me = useMe();
  const members = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/members", { params: { path: { ws } } })), [ws]);
  const invites = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/invites", { params: { path: { ws } } })), [ws]);
  const offered = assignableRoles(mine);

  return (
    <>
      <div className="admin-head">
        <h1>Members</h1>
        <span className="busy-slot">{members.state.status === "loading" ? <Spinner /> : null}</span>
      </div>
      {members.state.status === "error" ? <ProblemText problem={members.state.problem} /> : null}
      <table className="list">
        <thead>
          <tr><th>Email</th><th>Role</th><th>Joined</th><th /></tr>
        </thead>
        <tbody>
          {(members.state.data ?? []).map((m) => {
            // Nobody changes their own role or someone above them; the server refuses it too.
            const editable = m.user_id !== me.user.id && ranks[m.role] <= ranks[mine];
            return (
              <tr key={m.user_id} data-testid="member-row">
                <td>{m.email}</td>
                <td>{editable ? <RoleSelect ws={ws} userId={m.user_id} role={m.role} offered={offered} onChanged={members.reload} /> : m.role}</td>
                <td><When at={m.joined_at} /></td>
                <td className="actions">
                  {editable ? (
                    <ConfirmButton label="Remove" question={`Remove ${m.email}?`} action={() => call(api.DELETE("/api/v1/workspaces/{ws}/members/{user_id}", { params: { path: { ws, user_id: m.user_id } } }))} onDone={members.reload} />
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <Invite ws={ws} offered={offered} onInvited={() => (members.reload(), invites.reload())} />
      <section className="panel">
        <h2>Pending invites</h2>
        {invites.state.status === "error" ? <ProblemText problem={invites.state.problem} /> : null}
        {invites.state.status === "ok" && invites.state.data.length === 0 ? <p className="muted">None.</p> : null}
        <table className="list">
          <tbody>
            {(invites.state.data ?? []).map((i) => (
              <tr key={i.id} data-testid="invite-row">
                <td>{i.email}</td>
                <td>{i.role}</td>
                <td>expires <When at={i.expires_at} /></td>
                <td className="actions">
                  <ConfirmButton label="Revoke" question={`Revoke the invite to ${i.email}?`} action={() => call(api.DELETE("/api/v1/workspaces/{ws}/invites/{id}", { params: { path: { ws, id: i.id } } }))} onDone={invites.reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}

function RoleSelect({ ws, userId, role, offered, onChanged }: { ws: string; userId: string; role: Role; offered: Role[]; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  async function change(next: Role) {
    setBusy(true);
    setProblem(null);
    const result = await call(api.PATCH("/api/v1/workspaces/{ws}/members/{user_id}", { params: { path: { ws, user_id: userId } }, body: { role: next } }));
    setBusy(false);
    if (result.ok) onChanged();
    else setProblem(result.problem);
  }
  return (
    <span className="inline-form">
      <select aria-label="Role" value={role} disabled={busy} onChange={(e) => void change(e.target.value as Role)}>
        {offered.map((r) => <option key={r} value={r}>{r}</option>)}
      </select>
      <span className="busy-slot">{busy ? <Spinner label="Saving" /> : null}</span>
      {problem ? <ProblemText problem={problem} /> : null}
    </span>
  );
}

/**
 * Adds an existing user at once, or emails an invite to someone without an account (the
 * server answers 409 `mail-not-configured` without SMTP; that shows beside the form).
 */
function Invite({ ws, offered, onInvited }: { ws: string; offered: Role[]; onInvited: () => void }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [busy, setBusy] = useState<"add" | "invite" | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [sent, setSent] = useState<string | null>(null);

  async function submit(event: FormEvent, how: "add" | "invite") {
    event.preventDefault();
    setBusy(how);
    setProblem(null);
    setSent(null);
    const body = { email: email.trim(), role };
    const result =
      how === "add"
        ? await call(api.POST("/api/v1/workspaces/{ws}/members", { params: { path: { ws } }, body }))
        : await call(api.POST("/api/v1/workspaces/{ws}/invites", { params: { path: { ws } }, body }));
    setBusy(null);
    if (!result.ok) return setProblem(result.problem);
    setSent(how === "add" ? `${body.email} was added.` : `An invite was sent to ${body.email}.`);
    setEmail("");
    onInvited();
  }

  return (
    <form className="panel inline-form" style={{ marginTop: 16 }} onSubmit={(e) => void submit(e, "invite")} aria-label="Invite">
      <input aria-label="Email to invite" type="email" placeholder="name@example.com" style={{ width: 280 }} value={email} onChange={(e) => setEmail(e.target.value)} disabled={busy !== null} />
      <select aria-label="Role to give" value={role} onChange={(e) => setRole(e.target.value as Role)} disabled={busy !== null}>
        {offered.map((r) => <option key={r} value={r}>{r}</option>)}
      </select>
      <BusyButton busy={busy === "invite"} className="primary" type="submit">Invite by email</BusyButton>
      <BusyButton busy={busy === "add"} type="button" onClick={(e) => void submit(e, "add")}>Add existing user</BusyButton>
      <span role="status" className="state-ok">{sent ?? ""}</span>
      <ProblemText problem={problem} />
    </form>
  );
}
