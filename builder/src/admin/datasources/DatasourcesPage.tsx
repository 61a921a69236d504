// A workspace's datasources: the list (disabled ones with their reason), and the way to a new
// one. The form itself is DatasourceEditor.
import { Link } from "react-router-dom";
import { api, call } from "../../api/client";
import { useLoad } from "../../api/hooks";
import { canInWorkspace } from "../../apps/permissions";
import { ProblemText, Spinner } from "../../ui/feedback";
import { WorkspaceAdmin } from "../AdminLayout";
import { When } from "../ui";

export function DatasourcesPage() {
  return <WorkspaceAdmin area="datasources">{(ws, permissions) => <List ws={ws} canCreate={canInWorkspace(permissions, "build") && permissions.datasources.all.includes("configure")} />}</WorkspaceAdmin>;
}

function List({ ws, canCreate }: { ws: string; canCreate: boolean }) {
  const { state } = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/datasources", { params: { path: { ws } } })), [ws]);
  const items = state.data ?? [];
  return (
    <>
      <div className="admin-head">
        <h1>Datasources</h1>
        <span className="busy-slot">{state.status === "loading" ? <Spinner /> : null}</span>
        {canCreate ? (
          <Link className="button primary" to={`/workspaces/${ws}/settings/datasources/new`}>
            New datasource
          </Link>
        ) : null}
      </div>
      {state.status === "error" ? <ProblemText problem={state.problem} /> : null}
      <table className="list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Plugin</th>
            <th>State</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {items.map((d) => (
            <tr key={d.id} data-testid="datasource-row">
              <td>
                <Link to={`/workspaces/${ws}/settings/datasources/${d.id}`}>{d.name}</Link>
              </td>
              <td className="mono">{d.plugin}</td>
              <td>{d.disabled ? <span className="state-bad">Disabled: {d.disabled}</span> : <span className="state-ok">Enabled</span>}</td>
              <td>
                <When at={d.updated_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {state.status === "ok" && items.length === 0 ? <p className="empty">No datasource yet.</p> : null}
    </>
  );
}
