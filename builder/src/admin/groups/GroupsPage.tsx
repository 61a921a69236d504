// Groups and grants (manage_groups): the workspace's groups (create, rename, delete), the chosen
// group's members and grants, and on a second tab what the builder and viewer roles hold. The
// chosen group and the tab are in the URL (`?group=`, `?tab=roles`), so a link opens them.
// The server decides who may give what (docs/server.md, "Authorization"); the page offers only
// what the caller holds and shows the server's refusals beside the form that caused them.
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, call, type Problem, type Schemas } from "../../api/client";
import { useLoad, type Load } from "../../api/hooks";
import { canInWorkspace, type Permissions } from "../../apps/permissions";
import { useMe } from "../../auth/session";
import { BusyButton, ProblemText, Spinner } from "../../ui/feedback";
import { WorkspaceAdmin } from "../AdminLayout";
import { ConfirmButton, When } from "../ui";
import { GrantList, useObjects, type Objects } from "./GrantList";
import { membersToAdd } from "./grants";
import { RoleGrants } from "./RoleGrants";

type Group = Schemas["GroupView"];
type Member = Schemas["MemberView"];

export function GroupsPage() {
  return <WorkspaceAdmin area="groups">{(ws, permissions) => <GroupsAndGrants ws={ws} permissions={permissions} />}</WorkspaceAdmin>;
}

function GroupsAndGrants({ ws, permissions }: { ws: string; permissions: Permissions }) {
  const [params, setParams] = useSearchParams();
  const tab = params.get("tab") === "roles" ? "roles" : "groups";
  const objects = useObjects(ws, canInWorkspace(permissions, "build"));
  const tabs = [
    { id: "groups", label: "Groups", search: {} },
    { id: "roles", label: "Role grants", search: { tab: "roles" } },
  ] as const;

  return (
    <>
      <div className="admin-head">
        <h1>Groups &amp; grants</h1>
      </div>
      <nav className="page-tabs" aria-label="Groups and grants">
        {tabs.map((t) => (
          <button key={t.id} type="button" className={tab === t.id ? "active" : undefined} aria-current={tab === t.id ? "page" : undefined} onClick={() => setParams(t.search)}>
            {t.label}
          </button>
        ))}
      </nav>
      {tab === "groups" ? (
        <Groups ws={ws} permissions={permissions} objects={objects} selected={params.get("group")} select={(id) => setParams(id ? { group: id } : {})} />
      ) : (
        <RoleGrants ws={ws} permissions={permissions} objects={objects} />
      )}
    </>
  );
}

function Groups({ ws, permissions, objects, selected, select }: { ws: string; permissions: Permissions; objects: Objects; selected: string | null; select: (id: string | null) => void }) {
  const groups = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/groups", { params: { path: { ws } } })), [ws]);
  const members = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/members", { params: { path: { ws } } })), [ws]);
  // A group just created is shown before the list has reloaded with it.
  const [created, setCreated] = useState<Group | null>(null);
  const items = groups.state.data ?? [];
  const current = items.find((g) => g.id === selected) ?? (created?.id === selected ? created : undefined);

  return (
    <div className="groups">
      <div>
        <table className="list">
          <thead>
            <tr>
              <th>Group</th>
              <th className="actions"><span className="busy-slot">{groups.state.status === "loading" ? <Spinner label="Loading groups" /> : null}</span></th>
            </tr>
          </thead>
          <tbody>
            {items.map((g) => (
              <tr key={g.id} data-testid="group-row" className={g.id === selected ? "selected" : undefined}>
                <td colSpan={2}>
                  <Link to={{ search: `?group=${encodeURIComponent(g.id)}` }} aria-current={g.id === selected ? "true" : undefined}>{g.name}</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {groups.state.status === "error" ? <ProblemText problem={groups.state.problem} /> : null}
        {groups.state.status === "ok" && items.length === 0 ? <p className="empty">No group yet.</p> : null}
        <CreateGroup ws={ws} onCreated={(g) => (setCreated(g), select(g.id), groups.reload())} />
      </div>
      {current ? (
        <GroupDetail
          key={current.id}
          ws={ws}
          group={current}
          permissions={permissions}
          objects={objects}
          workspaceMembers={members.state}
          onRenamed={groups.reload}
          onDeleted={() => (select(null), groups.reload())}
        />
      ) : (
        <div className="panel group-placeholder">
          <p className="muted">{groups.state.status === "loading" && selected ? "Loading…" : "Choose a group to see its members and grants, or create one."}</p>
        </div>
      )}
    </div>
  );
}

function CreateGroup({ ws, onCreated }: { ws: string; onCreated: (group: Group) => void }) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function create(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await call(api.POST("/api/v1/workspaces/{ws}/groups", { params: { path: { ws } }, body: { name: name.trim() } }));
    setBusy(false);
    if (!result.ok) return setProblem(result.problem);
    setName("");
    onCreated(result.data);
  }

  return (
    <form className="panel inline-form create-group" onSubmit={(e) => void create(e)} aria-label="New group">
      <input aria-label="Group name" placeholder="Group name" maxLength={100} value={name} onChange={(e) => setName(e.target.value)} disabled={busy} />
      <BusyButton busy={busy} className="primary" type="submit" disabled={name.trim() === ""}>Create group</BusyButton>
      <ProblemText problem={problem} />
    </form>
  );
}

function GroupDetail({
  ws,
  group,
  permissions,
  objects,
  workspaceMembers,
  onRenamed,
  onDeleted,
}: {
  ws: string;
  group: Group;
  permissions: Permissions;
  objects: Objects;
  workspaceMembers: Load<Member[]>;
  onRenamed: () => void;
  onDeleted: () => void;
}) {
  const path = { ws, group: group.id };
  const grants = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/groups/{group}/grants", { params: { path } })), [ws, group.id]);
  // The server refuses anyone widening a group they are in (docs/server.md, "Authorization").
  const mine = permissions.groups.some((g) => g.id === group.id);

  return (
    <section className="group-detail" aria-label={`Group ${group.name}`}>
      <GroupHead ws={ws} group={group} onRenamed={onRenamed} onDeleted={onDeleted} />
      <GroupMembers ws={ws} group={group} workspaceMembers={workspaceMembers} />
      <GrantList
        title="Grants"
        label={`Grants of ${group.name}`}
        grants={grants.state}
        onChanged={grants.reload}
        objects={objects}
        permissions={permissions}
        addBlocked={mine ? "You are in this group, so another member who manages groups gives it grants." : null}
        canRemove
        add={(body) => call(api.POST("/api/v1/workspaces/{ws}/groups/{group}/grants", { params: { path }, body }))}
        remove={(g) => call(api.DELETE("/api/v1/workspaces/{ws}/groups/{group}/grants/{grant}", { params: { path: { ...path, grant: g.id } } }))}
      />
    </section>
  );
}

function GroupHead({ ws, group, onRenamed, onDeleted }: { ws: string; group: Group; onRenamed: () => void; onDeleted: () => void }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(group.name);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function rename(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await call(api.PATCH("/api/v1/workspaces/{ws}/groups/{group}", { params: { path: { ws, group: group.id } }, body: { name: name.trim() } }));
    setBusy(false);
    if (!result.ok) return setProblem(result.problem);
    setEditing(false);
    onRenamed();
  }

  return (
    <div className="panel">
      {editing ? (
        <form className="inline-form section-head" onSubmit={(e) => void rename(e)} aria-label="Rename group">
          <input aria-label="New group name" maxLength={100} value={name} onChange={(e) => setName(e.target.value)} disabled={busy} autoFocus />
          <BusyButton busy={busy} className="primary" type="submit" disabled={name.trim() === ""}>Save</BusyButton>
          <button type="button" onClick={() => (setEditing(false), setProblem(null))} disabled={busy}>Cancel</button>
        </form>
      ) : (
        <div className="section-head">
          <h2 data-testid="group-name">{group.name}</h2>
          <button onClick={() => (setName(group.name), setEditing(true))}>Rename</button>
          <ConfirmButton
            label="Delete group"
            question={`Delete ${group.name}? Its members lose what it grants.`}
            action={() => call(api.DELETE("/api/v1/workspaces/{ws}/groups/{group}", { params: { path: { ws, group: group.id } } }))}
            onDone={onDeleted}
          />
        </div>
      )}
      <p className="muted created">
        Created <When at={group.created_at} />
      </p>
      <ProblemText problem={problem} />
    </div>
  );
}

function GroupMembers({ ws, group, workspaceMembers }: { ws: string; group: Group; workspaceMembers: Load<Member[]> }) {
  const me = useMe();
  const path = { ws, group: group.id };
  const members = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/groups/{group}/members", { params: { path } })), [ws, group.id]);
  const items = members.state.data ?? [];

  return (
    <section className="panel" aria-label={`Members of ${group.name}`}>
      <div className="section-head">
        <h2>Members</h2>
        <span className="busy-slot">{members.state.status === "loading" ? <Spinner label="Loading members" /> : null}</span>
      </div>
      {members.state.status === "error" ? <ProblemText problem={members.state.problem} /> : null}
      <table className="list">
        <tbody>
          {items.map((m) => (
            <tr key={m.user_id} data-testid="group-member-row">
              <td>{m.email}</td>
              <td className="muted when">added <When at={m.added_at} /></td>
              <td className="actions">
                <ConfirmButton
                  label="Remove"
                  question={`Take ${m.email} out of ${group.name}?`}
                  action={() => call(api.DELETE("/api/v1/workspaces/{ws}/groups/{group}/members/{user_id}", { params: { path: { ...path, user_id: m.user_id } } }))}
                  onDone={members.reload}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {members.state.status === "ok" && items.length === 0 ? <p className="empty">No member yet.</p> : null}
      <AddMember ws={ws} group={group} candidates={membersToAdd(workspaceMembers.data ?? [], items, me.user.id)} workspaceMembers={workspaceMembers} onAdded={members.reload} />
    </section>
  );
}

function AddMember({ ws, group, candidates, workspaceMembers, onAdded }: { ws: string; group: Group; candidates: Member[]; workspaceMembers: Load<Member[]>; onAdded: () => void }) {
  const [userId, setUserId] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  // A member just added leaves the candidates; the choice doesn't stay on them.
  const chosen = candidates.some((m) => m.user_id === userId) ? userId : "";

  async function add(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await call(api.POST("/api/v1/workspaces/{ws}/groups/{group}/members", { params: { path: { ws, group: group.id } }, body: { user_id: chosen } }));
    setBusy(false);
    if (!result.ok) return setProblem(result.problem);
    setUserId("");
    onAdded();
  }

  return (
    <form className="inline-form" onSubmit={(e) => void add(e)} aria-label={`Add to ${group.name}`}>
      <select aria-label="Member to add" className="grant-object" value={chosen} onChange={(e) => (setUserId(e.target.value), setProblem(null))} disabled={busy}>
        <option value="">{workspaceMembers.status === "loading" ? "Loading…" : candidates.length === 0 ? "No one left to add" : "Choose a member"}</option>
        {candidates.map((m) => <option key={m.user_id} value={m.user_id}>{m.email}</option>)}
      </select>
      <BusyButton busy={busy} className="primary" type="submit" disabled={chosen === ""}>Add to group</BusyButton>
      <ProblemText problem={problem ?? (workspaceMembers.status === "error" ? workspaceMembers.problem : null)} />
    </form>
  );
}
