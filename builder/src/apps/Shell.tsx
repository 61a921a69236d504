// The frame of signed-in pages: the product, the workspace switcher, the user and sign-out.
import { useState, type ReactNode } from "react";
import { Link, useNavigate } from "react-router-dom";
import { api, call, type Problem } from "../api/client";
import { useLoad } from "../api/hooks";
import { useMe, useSession } from "../auth/session";
import { BusyButton, ProblemText } from "../ui/feedback";
import { usePermissions, workspaceAreas } from "./permissions";

export function Shell({ ws, children, actions }: { ws?: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <div className="shell">
      <header className="topbar">
        <Link to={ws ? `/workspaces/${ws}` : "/"} className="brand">
          Lathe
        </Link>
        <WorkspaceSwitcher ws={ws} />
        <div className="topbar-actions">{actions}</div>
        <AdminLinks ws={ws} />
        <UserMenu />
      </header>
      <main className="shell-main">{children}</main>
    </div>
  );
}

function WorkspaceSwitcher({ ws }: { ws: string | undefined }) {
  const navigate = useNavigate();
  const { state } = useLoad(() => call(api.GET("/api/v1/workspaces")), []);
  const workspaces = state.data ?? [];

  return (
    <label className="switcher">
      <span className="visually-hidden">Workspace</span>
      <select
        aria-label="Workspace"
        value={ws ?? ""}
        disabled={workspaces.length === 0}
        onChange={(e) => navigate(`/workspaces/${e.target.value}`)}
      >
        {ws === undefined || !workspaces.some((w) => w.id === ws) ? <option value="">Choose a workspace</option> : null}
        {workspaces.map((w) => (
          <option key={w.id} value={w.id}>
            {w.name} ({w.role})
          </option>
        ))}
      </select>
      {state.status === "error" ? <ProblemText problem={state.problem} /> : null}
    </label>
  );
}

/**
 * The way into workspace settings, offered only when some settings page is open to the caller
 * (a viewer has none), and, for instance admins, the instance area (src/admin).
 */
function AdminLinks({ ws }: { ws: string | undefined }) {
  const me = useMe();
  return (
    <nav className="user-menu" aria-label="Settings">
      {ws ? <SettingsLink ws={ws} /> : null}
      {me.user.instance_admin ? <Link to="/instance">Instance</Link> : null}
    </nav>
  );
}

function SettingsLink({ ws }: { ws: string }) {
  const { state } = usePermissions(ws);
  // Its place is kept while the permissions load, so the header doesn't shift if it stays.
  if (state.status === "loading" && !state.data) {
    return (
      <span className="link-placeholder" aria-hidden="true">
        Settings
      </span>
    );
  }
  if (workspaceAreas(state.data).length === 0) return null;
  return <Link to={`/workspaces/${ws}/settings`}>Settings</Link>;
}

function UserMenu() {
  const me = useMe();
  const { signOut } = useSession();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function out() {
    setBusy(true);
    const result = await signOut();
    setBusy(false);
    if (result.ok || result.problem.status === 401) navigate("/signin", { replace: true });
    else setProblem(result.problem);
  }

  return (
    <div className="user-menu">
      <span className="user-email">{me.user.email}</span>
      <BusyButton busy={busy} onClick={() => void out()}>
        Sign out
      </BusyButton>
      {problem ? <ProblemText problem={problem} /> : null}
    </div>
  );
}
