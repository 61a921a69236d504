// The frame of the administration pages: the workspace's settings (what the caller's
// permissions allow, from `permissions/me`) and the instance area (instance admins only, from
// `auth/me`). Links to what the user can't do are not shown; the server refuses anyway.
import type { ReactNode } from "react";
import { NavLink, useParams } from "react-router-dom";
import { usePermissions, workspaceAreas, type Permissions, type WorkspaceArea } from "../apps/permissions";
import { Shell } from "../apps/Shell";
import { useMe } from "../auth/session";
import { PageMessage, ProblemText, Spinner } from "../ui/feedback";
import { lastWorkspace } from "../apps/lastWorkspace";
import "./admin.css";

export { workspaceAreas, type WorkspaceArea };

const workspaceLabels: Record<WorkspaceArea, string> = {
  datasources: "Datasources",
  constants: "Constants & secrets",
  members: "Members",
  groups: "Groups & grants",
  audit: "Audit log",
};

function Nav({ ws, areas }: { ws: string | undefined; areas: WorkspaceArea[] }) {
  const me = useMe();
  return (
    <nav className="admin-nav" aria-label="Administration">
      {ws && areas.length === 0 ? (
        <NavLink to={`/workspaces/${ws}/settings`} end>
          Workspace settings
        </NavLink>
      ) : null}
      {ws && areas.length > 0 ? (
        <>
          <h2>Workspace</h2>
          {areas.map((area) => (
            <NavLink key={area} to={`/workspaces/${ws}/settings/${area}`}>
              {workspaceLabels[area]}
            </NavLink>
          ))}
        </>
      ) : null}
      {me.user.instance_admin ? (
        <>
          <h2>Instance</h2>
          <NavLink to="/instance/plugins">Plugins</NavLink>
          <NavLink to="/instance/registries">Registries</NavLink>
          <NavLink to="/instance/trusted-keys">Trusted keys</NavLink>
          <NavLink to="/instance/egress">Egress</NavLink>
          <NavLink to="/instance/audit">Instance audit log</NavLink>
        </>
      ) : null}
    </nav>
  );
}

/** A workspace settings page; shows "no access" when the caller can't open `area`. */
export function WorkspaceAdmin({ area, children }: { area: WorkspaceArea; children: (ws: string, permissions: Permissions) => ReactNode }) {
  const { ws = "" } = useParams();
  const { state } = usePermissions(ws);
  const permissions = state.data;
  const areas = workspaceAreas(permissions);

  let body: ReactNode;
  if (state.status === "error" && !permissions) body = <ProblemText problem={state.problem} />;
  else if (!permissions) body = <Spinner />;
  else if (!areas.includes(area)) body = <PageMessage title="You can't manage this here" />;
  else body = children(ws, permissions);

  return (
    <Shell ws={ws}>
      <div className="admin">
        <Nav ws={ws} areas={areas} />
        <section className="admin-main">{body}</section>
      </div>
    </Shell>
  );
}

/** An instance page: only for instance admins. */
export function InstanceAdmin({ children }: { children: ReactNode }) {
  const me = useMe();
  const last = lastWorkspace();
  const ws = me.workspaces.some((w) => w.id === last) ? (last ?? undefined) : me.workspaces[0]?.id;
  if (!me.user.instance_admin) {
    return (
      <Shell ws={ws}>
        <div data-testid="no-instance-access">
          <PageMessage title="Only instance administrators can open this page" />
        </div>
      </Shell>
    );
  }
  return (
    <Shell ws={ws}>
      <div className="admin">
        <Nav ws={ws} areas={[]} />
        <section className="admin-main">{children}</section>
      </div>
    </Shell>
  );
}
