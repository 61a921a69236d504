// The administration pages, spread into the signed-in routes by routes.tsx. Workspace
// settings live under /workspaces/{ws}/settings, the instance area under /instance.
import { Navigate, useParams, type RouteObject } from "react-router-dom";
import { usePermissions } from "../apps/permissions";
import { Spinner } from "../ui/feedback";
import { workspaceAreas, WorkspaceAdmin } from "./AdminLayout";
import { AuditPage } from "./audit/AuditPage";
import { ConstantsPage } from "./constants/ConstantsPage";
import { DatasourceEditorPage } from "./datasources/DatasourceEditor";
import { DatasourcesPage } from "./datasources/DatasourcesPage";
import { GroupsPage } from "./groups/GroupsPage";
import { MembersPage } from "./people/MembersPage";
import { EgressPage } from "./plugins/EgressPage";
import { PluginsPage } from "./plugins/PluginsPage";
import { RegistriesPage } from "./plugins/RegistriesPage";
import { TrustedKeysPage } from "./plugins/TrustedKeysPage";

/** /workspaces/{ws}/settings: the first page the caller may open. */
function SettingsHome() {
  const { ws = "" } = useParams();
  const { state } = usePermissions(ws);
  if (!state.data) return state.status === "error" ? <WorkspaceAdmin area="datasources">{() => null}</WorkspaceAdmin> : <Spinner />;
  const first = workspaceAreas(state.data)[0];
  return first ? <Navigate to={`/workspaces/${ws}/settings/${first}`} replace /> : <WorkspaceAdmin area="datasources">{() => null}</WorkspaceAdmin>;
}

export const adminRoutes: RouteObject[] = [
  { path: "/workspaces/:ws/settings", element: <SettingsHome /> },
  { path: "/workspaces/:ws/settings/datasources", element: <DatasourcesPage /> },
  { path: "/workspaces/:ws/settings/datasources/new", element: <DatasourceEditorPage /> },
  { path: "/workspaces/:ws/settings/datasources/:id", element: <DatasourceEditorPage /> },
  { path: "/workspaces/:ws/settings/constants", element: <ConstantsPage /> },
  { path: "/workspaces/:ws/settings/members", element: <MembersPage /> },
  { path: "/workspaces/:ws/settings/groups", element: <GroupsPage /> },
  { path: "/workspaces/:ws/settings/audit", element: <AuditPage scope="workspace" /> },
  { path: "/instance", element: <Navigate to="/instance/plugins" replace /> },
  { path: "/instance/plugins", element: <PluginsPage /> },
  { path: "/instance/registries", element: <RegistriesPage /> },
  { path: "/instance/trusted-keys", element: <TrustedKeysPage /> },
  { path: "/instance/egress", element: <EgressPage /> },
  { path: "/instance/audit", element: <AuditPage scope="instance" /> },
];
