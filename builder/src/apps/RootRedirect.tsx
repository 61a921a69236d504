import { Navigate } from "react-router-dom";
import { useMe } from "../auth/session";
import { Shell } from "./Shell";
import { PageMessage } from "../ui/feedback";
import { lastWorkspace } from "./lastWorkspace";

/** `/`: the workspace last opened if the user is still in it, else their first one. */
export function RootRedirect() {
  const me = useMe();
  const last = lastWorkspace();
  const target = me.workspaces.find((w) => w.id === last) ?? me.workspaces[0];
  if (target) return <Navigate to={`/workspaces/${target.id}`} replace />;

  return (
    <Shell>
      <PageMessage title="No workspace yet">
        <p>You are not a member of any workspace. Ask a workspace admin to invite you.</p>
      </PageMessage>
    </Shell>
  );
}
