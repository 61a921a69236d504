// Grants in words, and the form that gives one: which kind of object each action is on, what
// the caller may offer (the server lets nobody give what they don't hold), and the body of
// `POST …/grants`; also who may still be put into a group. Pure, so it is unit-tested.
import type { Schemas } from "../../api/client";

export type Action = Schemas["Action"];
export type Kind = Schemas["Kind"];
export type Grant = Schemas["GrantView"];
export type GrantCreate = Schemas["GrantCreate"];
type Permissions = Schemas["PermissionsView"];
type ObjectPermissions = Schemas["ObjectPermissions"];

// A Record, so that an action added to the server's enum is a type error here until it is
// given its kind (the same split as the server's `Action::kind`).
const kinds: Record<Action, Kind> = {
  view: "app",
  edit: "app",
  use: "datasource",
  configure: "datasource",
  build: "workspace",
  manage_members: "workspace",
  manage_groups: "workspace",
  manage_constants: "workspace",
  manage_workspace: "workspace",
  read_audit: "workspace",
};

/** Every action, in the order the form offers them: apps, datasources, the workspace. */
export const ACTIONS = Object.keys(kinds) as Action[];

export function actionKind(action: Action): Kind {
  return kinds[action];
}

/** `manage_members` → "manage members". */
export function actionLabel(action: Action): string {
  return action.replaceAll("_", " ");
}

/** Object names by id, for saying what a grant is on. */
export type Names = { apps: ReadonlyMap<string, string>; datasources: ReadonlyMap<string, string> };

/**
 * What a grant is on, in words: "app Customers", "every datasource", "workspace". An object
 * that isn't in `names` (deleted, or not listed to the caller) is named by its id.
 */
export function grantObject(grant: Pick<Grant, "kind" | "app_id" | "datasource_id">, names: Names): string {
  switch (grant.kind) {
    case "workspace":
      return "workspace";
    case "app":
      return grant.app_id ? `app ${names.apps.get(grant.app_id) ?? grant.app_id}` : "every app";
    case "datasource":
      return grant.datasource_id ? `datasource ${names.datasources.get(grant.datasource_id) ?? grant.datasource_id}` : "every datasource";
  }
}

/** "view · app Customers", "use · every datasource", "manage members · workspace". */
export function describeGrant(grant: Pick<Grant, "action" | "kind" | "app_id" | "datasource_id">, names: Names): string {
  return `${actionLabel(grant.action)} · ${grantObject(grant, names)}`;
}

/**
 * Grants in a reading order: by action as the form offers them, then "every" before single
 * objects, then by what the object is called.
 */
export function sortGrants<G extends Pick<Grant, "action" | "kind" | "app_id" | "datasource_id">>(grants: readonly G[], names: Names): G[] {
  const key = (g: G) => ((g.app_id ?? g.datasource_id) ? `1${grantObject(g, names)}` : "0");
  return [...grants].sort((a, b) => ACTIONS.indexOf(a.action) - ACTIONS.indexOf(b.action) || key(a).localeCompare(key(b)));
}

/** The object picker an action needs: apps, datasources, or none for a workspace action. */
export function objectPicker(action: Action): "app" | "datasource" | null {
  const kind = actionKind(action);
  return kind === "workspace" ? null : kind;
}

/** What the add-grant form holds; `object` is an app or datasource id, "" for every one. */
export type GrantDraft = { action: Action; object: string };

/** The body of `POST …/grants`: only the id the action's kind takes, none for "every". */
export function grantBody(draft: GrantDraft): GrantCreate {
  const { action, object } = draft;
  switch (actionKind(action)) {
    case "app":
      return object ? { action, app_id: object } : { action };
    case "datasource":
      return object ? { action, datasource_id: object } : { action };
    case "workspace":
      return { action };
  }
}

function heldOn(objects: ObjectPermissions, action: Action, id: string | null): boolean {
  if (objects.all.includes(action)) return true;
  return id !== null && (objects.by_id[id]?.includes(action) ?? false);
}

/**
 * Whether the caller holds `action` on an object (`null`: on every object of its kind, or on
 * the workspace), so may give it.
 */
export function holds(permissions: Permissions, action: Action, id: string | null): boolean {
  switch (actionKind(action)) {
    case "workspace":
      return permissions.workspace.includes(action);
    case "app":
      return heldOn(permissions.apps, action, id);
    case "datasource":
      return heldOn(permissions.datasources, action, id);
  }
}

/** The actions the caller holds somewhere (on the workspace, on every object or on one). */
export function grantableActions(permissions: Permissions): Action[] {
  return ACTIONS.filter((action) => {
    const kind = actionKind(action);
    if (kind === "workspace") return permissions.workspace.includes(action);
    const objects = kind === "app" ? permissions.apps : permissions.datasources;
    return objects.all.includes(action) || Object.values(objects.by_id).some((held) => held.includes(action));
  });
}

export type Choice = { id: string; label: string };

/**
 * The objects the form offers for `action`: "every app" (id "") when the caller holds it on
 * all of them, then each object they hold it on, by name. An object the caller holds it on
 * that isn't in `names` (its list could not be read) is offered by id.
 */
export function objectChoices(permissions: Permissions, action: Action, names: Names): Choice[] {
  const kind = objectPicker(action);
  if (kind === null) return [];
  const objects = kind === "app" ? permissions.apps : permissions.datasources;
  const named = kind === "app" ? names.apps : names.datasources;
  const choices: Choice[] = [];
  if (objects.all.includes(action)) choices.push({ id: "", label: kind === "app" ? "every app" : "every datasource" });

  const ids = new Set(named.keys());
  for (const [id, held] of Object.entries(objects.by_id)) if (held.includes(action)) ids.add(id);
  const each = [...ids]
    .filter((id) => heldOn(objects, action, id))
    .map((id) => ({ id, label: named.get(id) ?? id }))
    .sort((a, b) => a.label.localeCompare(b.label));
  return [...choices, ...each];
}

/**
 * The workspace members the form offers for a group: those not in it yet, and not the caller
 * (the server refuses anyone adding themselves to a group).
 */
export function membersToAdd<M extends { user_id: string; email: string }>(workspace: readonly M[], inGroup: readonly { user_id: string }[], self: string): M[] {
  const taken = new Set(inGroup.map((m) => m.user_id));
  return workspace.filter((m) => m.user_id !== self && !taken.has(m.user_id)).sort((a, b) => a.email.localeCompare(b.email));
}
