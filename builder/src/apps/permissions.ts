// What the caller may do in a workspace, from `GET …/permissions/me`, for hiding the controls
// they can't use. The server checks every request anyway; this only keeps the UI honest.
import { api, call, type Schemas } from "../api/client";
import { useLoad } from "../api/hooks";

export type Permissions = Schemas["PermissionsView"];
export type Action = Schemas["Action"];

export function usePermissions(ws: string) {
  return useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/permissions/me", { params: { path: { ws } } })), [ws]);
}

export function canInWorkspace(permissions: Permissions | undefined, action: Action): boolean {
  return permissions?.workspace.includes(action) ?? false;
}

export function canOnApp(permissions: Permissions | undefined, appId: string, action: Action): boolean {
  if (!permissions) return false;
  return permissions.apps.all.includes(action) || (permissions.apps.by_id[appId]?.includes(action) ?? false);
}

export function canOnDatasource(permissions: Permissions | undefined, datasourceId: string, action: Action): boolean {
  if (!permissions) return false;
  return permissions.datasources.all.includes(action) || (permissions.datasources.by_id[datasourceId]?.includes(action) ?? false);
}

export type WorkspaceArea = "datasources" | "constants" | "members" | "groups" | "audit";

/** Which workspace settings pages the caller may open. */
export function workspaceAreas(permissions: Permissions | undefined): WorkspaceArea[] {
  if (!permissions) return [];
  const areas: WorkspaceArea[] = [];
  if (canInWorkspace(permissions, "build")) areas.push("datasources");
  if (canInWorkspace(permissions, "build") || canInWorkspace(permissions, "manage_constants")) areas.push("constants");
  if (canInWorkspace(permissions, "manage_members")) areas.push("members");
  if (canInWorkspace(permissions, "manage_groups")) areas.push("groups");
  if (canInWorkspace(permissions, "read_audit")) areas.push("audit");
  return areas;
}
