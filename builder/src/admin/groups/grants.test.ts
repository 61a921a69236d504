import { describe, expect, it } from "vitest";
import type { Schemas } from "../../api/client";
import { ACTIONS, describeGrant, sortGrants, grantableActions, grantBody, holds, membersToAdd, objectChoices, objectPicker, type Names } from "./grants";

const names: Names = {
  apps: new Map([
    ["app-1", "Customers"],
    ["app-2", "Orders report"],
  ]),
  datasources: new Map([["ds-1", "warehouse"]]),
};

const none: Schemas["ObjectPermissions"] = { all: [], by_id: {} };
const permissions = (over: Partial<Schemas["PermissionsView"]>): Schemas["PermissionsView"] => ({
  role: "builder",
  groups: [],
  workspace: [],
  apps: none,
  datasources: none,
  ...over,
});

describe("grants in words", () => {
  it("names the app, the datasource or the workspace", () => {
    expect(describeGrant({ action: "view", kind: "app", app_id: "app-1" }, names)).toBe("view · app Customers");
    expect(describeGrant({ action: "use", kind: "datasource", datasource_id: "ds-1" }, names)).toBe("use · datasource warehouse");
    expect(describeGrant({ action: "manage_members", kind: "workspace" }, names)).toBe("manage members · workspace");
  });

  it("says every app or every datasource when the grant names none", () => {
    expect(describeGrant({ action: "edit", kind: "app", app_id: null }, names)).toBe("edit · every app");
    expect(describeGrant({ action: "use", kind: "datasource" }, names)).toBe("use · every datasource");
  });

  it("falls back to the id of an object that is gone", () => {
    expect(describeGrant({ action: "view", kind: "app", app_id: "app-9" }, names)).toBe("view · app app-9");
    expect(describeGrant({ action: "configure", kind: "datasource", datasource_id: "ds-9" }, names)).toBe("configure · datasource ds-9");
  });
});

describe("the order of grants", () => {
  it("follows the actions, every object first, then objects by name", () => {
    const grants = [
      { action: "build", kind: "workspace" },
      { action: "view", kind: "app", app_id: "app-2" },
      { action: "use", kind: "datasource" },
      { action: "view", kind: "app", app_id: "app-1" },
      { action: "view", kind: "app" },
    ] as const;
    expect(sortGrants(grants, names).map((g) => describeGrant(g, names))).toEqual([
      "view · every app",
      "view · app Customers",
      "view · app Orders report",
      "use · every datasource",
      "build · workspace",
    ]);
  });
});

describe("the add-grant form", () => {
  it("offers an app picker for app actions, a datasource picker for datasource actions, none else", () => {
    expect(objectPicker("view")).toBe("app");
    expect(objectPicker("edit")).toBe("app");
    expect(objectPicker("use")).toBe("datasource");
    expect(objectPicker("configure")).toBe("datasource");
    for (const action of ["build", "manage_members", "manage_groups", "manage_constants", "manage_workspace", "read_audit"] as const) {
      expect(objectPicker(action)).toBeNull();
    }
  });

  it("knows every action of the server's enum", () => {
    expect(ACTIONS).toHaveLength(10);
    expect(ACTIONS.slice(0, 4)).toEqual(["view", "edit", "use", "configure"]);
  });

  it("sends only the id the action's kind takes, and none for every object", () => {
    expect(grantBody({ action: "view", object: "app-1" })).toEqual({ action: "view", app_id: "app-1" });
    expect(grantBody({ action: "view", object: "" })).toEqual({ action: "view" });
    expect(grantBody({ action: "use", object: "ds-1" })).toEqual({ action: "use", datasource_id: "ds-1" });
    expect(grantBody({ action: "configure", object: "" })).toEqual({ action: "configure" });
    // A leftover app choice doesn't leak into a workspace grant.
    expect(grantBody({ action: "read_audit", object: "app-1" })).toEqual({ action: "read_audit" });
  });
});

describe("what the caller may give", () => {
  const admin = permissions({
    role: "admin",
    workspace: ["build", "manage_members", "manage_groups", "manage_constants", "manage_workspace", "read_audit"],
    apps: { all: ["view", "edit"], by_id: {} },
    datasources: { all: ["use", "configure"], by_id: {} },
  });
  const partial = permissions({
    workspace: ["manage_groups"],
    apps: { all: [], by_id: { "app-2": ["view"], "app-3": ["view", "edit"] } },
    datasources: { all: ["use"], by_id: {} },
  });

  it("offers the actions held somewhere", () => {
    expect(grantableActions(admin)).toEqual(ACTIONS);
    expect(grantableActions(partial)).toEqual(["view", "edit", "use", "manage_groups"]);
  });

  it("offers every object when held on all, else only those held, by name", () => {
    expect(objectChoices(admin, "view", names)).toEqual([
      { id: "", label: "every app" },
      { id: "app-1", label: "Customers" },
      { id: "app-2", label: "Orders report" },
    ]);
    // app-3 isn't in the names (its list failed): offered by id.
    expect(objectChoices(partial, "view", names)).toEqual([
      { id: "app-3", label: "app-3" },
      { id: "app-2", label: "Orders report" },
    ]);
    expect(objectChoices(partial, "edit", names)).toEqual([{ id: "app-3", label: "app-3" }]);
    expect(objectChoices(partial, "use", names)).toEqual([
      { id: "", label: "every datasource" },
      { id: "ds-1", label: "warehouse" },
    ]);
    expect(objectChoices(admin, "read_audit", names)).toEqual([]);
  });

  it("holds an action on one object through a grant on all of them", () => {
    expect(holds(partial, "use", "ds-1")).toBe(true);
    expect(holds(partial, "view", "app-2")).toBe(true);
    expect(holds(partial, "view", null)).toBe(false);
    expect(holds(partial, "configure", "ds-1")).toBe(false);
    expect(holds(partial, "manage_groups", null)).toBe(true);
    expect(holds(partial, "read_audit", null)).toBe(false);
  });
});

describe("group members", () => {
  it("offers the workspace members not in the group, never the caller", () => {
    const workspace = [
      { user_id: "u3", email: "zed@example.com" },
      { user_id: "u1", email: "me@example.com" },
      { user_id: "u2", email: "ada@example.com" },
      { user_id: "u4", email: "bob@example.com" },
    ];
    expect(membersToAdd(workspace, [{ user_id: "u4" }], "u1").map((m) => m.email)).toEqual(["ada@example.com", "zed@example.com"]);
  });
});
