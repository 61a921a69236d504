// What the builder and viewer roles hold: grants given to everyone with the role (say, `view`
// on one app for every viewer). The admin role holds everything and has none; only workspace
// admins change them, as the server allows no one else.
import { api, call, type Schemas } from "../../api/client";
import { useLoad } from "../../api/hooks";
import type { Permissions } from "../../apps/permissions";
import { GrantList, type Objects } from "./GrantList";

type Role = Exclude<Schemas["Role"], "admin">;
const roles: Role[] = ["builder", "viewer"];

export function RoleGrants({ ws, permissions, objects }: { ws: string; permissions: Permissions; objects: Objects }) {
  const admin = permissions.role === "admin";
  return (
    <>
      <p className="muted">Admins hold everything. Builders and viewers hold what is granted to their role here, and what their groups grant.</p>
      {roles.map((role) => <RoleGrantList key={role} ws={ws} role={role} admin={admin} permissions={permissions} objects={objects} />)}
    </>
  );
}

function RoleGrantList({ ws, role, admin, permissions, objects }: { ws: string; role: Role; admin: boolean; permissions: Permissions; objects: Objects }) {
  const path = { ws, role };
  const grants = useLoad(() => call(api.GET("/api/v1/workspaces/{ws}/roles/{role}/grants", { params: { path } })), [ws, role]);
  return (
    <GrantList
      title={role === "builder" ? "Builders" : "Viewers"}
      label={`Grants of ${role}s`}
      grants={grants.state}
      onChanged={grants.reload}
      objects={objects}
      permissions={permissions}
      addBlocked={admin ? null : "Only workspace admins add grants to a role."}
      canRemove={admin}
      add={(body) => call(api.POST("/api/v1/workspaces/{ws}/roles/{role}/grants", { params: { path }, body }))}
      remove={(g) => call(api.DELETE("/api/v1/workspaces/{ws}/roles/{role}/grants/{grant}", { params: { path: { ...path, grant: g.id } } }))}
    />
  );
}
