// @ts-check
// End-to-end tests of the administration pages and app versions against a real Lathe server
// and PostgreSQL. Started by scripts/test-builder.sh, which provides the server, a PostgreSQL
// role with a password (E2E_PG_ROLE, E2E_PG_PASSWORD) and database, and the lathe binary.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { LatheClient } from "./lathe.mjs";

const env = (/** @type {string} */ name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run scripts/test-builder.sh`);
  return value;
};
const base = env("LATHE_URL");
const admin = { email: env("E2E_ADMIN_EMAIL"), password: env("E2E_ADMIN_PASSWORD") };
const screenshots = env("E2E_SCREENSHOTS");
const lathe = env("E2E_LATHE_BIN");
const repo = path.resolve(import.meta.dirname, "../..");

/** @type {import("playwright-core").Browser} */
let browser;
const api = new LatheClient(base);
let ws = "";
const builderUser = { email: "builder-admin-e2e@example.com", password: "builder-password-1" };
const work = mkdtempSync(path.join(tmpdir(), "lathe-admin-e2e-"));

before(async () => {
  await api.login(admin.email, admin.password);
  ws = (await api.request("POST", "/workspaces", { name: "Admin E2E" })).id;
  await api.request("POST", "/users", builderUser);
  await api.request("POST", `/workspaces/${ws}/members`, { email: builderUser.email, role: "builder" });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"], headless: true });
});

after(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  return context.newPage();
}

/** @param {import("playwright-core").Page} page @param {string} route */
async function open(page, route) {
  const response = await page.goto(base + route);
  assert.equal(response?.status(), 200, `GET ${route}`);
}

/** @param {import("playwright-core").Page} page @param {{ email: string, password: string }} who */
async function signIn(page, who) {
  await open(page, "/signin");
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname !== "/signin");
}

/** Polls `check` until it holds, for state the page changes in the background. */
async function waitUntil(/** @type {() => Promise<boolean>} */ check, timeout = 10_000) {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** @param {import("playwright-core").Page} page @param {string} name */
const shot = (page, name) => page.screenshot({ path: path.join(screenshots, name) });

describe("administration", () => {
  it("creates a PostgreSQL datasource with a write-only password and tests the connection", async () => {
    const password = `pw-${Date.now()}-secret`;
    const page = await newPage();
    await signIn(page, admin);
    await open(page, `/workspaces/${ws}/settings/datasources/new`);
    await page.locator("#ds-name").fill("warehouse");
    await page.locator("#ds-plugin").selectOption("postgres");
    await page.locator("#field-host").fill("127.0.0.1");
    await page.locator("#field-username").fill(env("E2E_PG_ROLE"));
    await page.locator("#field-database").fill(env("E2E_DATABASE"));
    await page.locator("#field-password").fill(password);
    assert.equal(await page.locator("#field-password").getAttribute("type"), "password");
    await shot(page, "admin-datasource-new.png");
    await page.getByRole("button", { name: "Create datasource" }).click();
    await page.waitForURL(/\/settings\/datasources\/[0-9a-f-]{36}$/);

    await page.getByTestId("secret-password").getByTestId("secret-state").waitFor();
    assert.equal(await page.getByTestId("secret-password").getByTestId("secret-state").textContent(), "set");
    await page.getByRole("button", { name: "Test connection" }).click();
    await page.getByText(/Connected in \d+ ms/).waitFor({ timeout: 30_000 });
    await shot(page, "admin-datasource.png");

    // The password is nowhere on the page, in its inputs or in what the API returns.
    const html = await page.content();
    assert.ok(!html.includes(password), "the page holds the password");
    const values = await page.locator("input").evaluateAll((inputs) => inputs.map((i) => /** @type {HTMLInputElement} */ (i).value));
    assert.ok(!values.includes(password));
    const id = new URL(page.url()).pathname.split("/").pop();
    const view = await api.request("GET", `/workspaces/${ws}/datasources/${id}`);
    assert.ok(!JSON.stringify(view).includes(password));
    assert.equal(view.secrets.password, "set");

    // A bad port is refused beside its field, before any request.
    await page.locator("#field-port").fill("70000");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Port must be at most 65535.").waitFor();

    // A new host would drop the stored password: the form says so beside the host, until the
    // password is being entered again.
    await page.locator("#field-host").fill("127.0.0.2");
    assert.equal(await page.getByTestId("warning-host").textContent(), "Saving with a new host drops the stored password unless you enter it again.");
    await page.getByTestId("secret-password").getByRole("button", { name: "Replace" }).click();
    assert.equal(await page.getByTestId("warning-host").count(), 0);
    await page.context().close();
  });

  it("installs a plugin from a registry after the admin approves its capabilities", async () => {
    // A re-identified copy of the rest connector, signed by a key of this test's own, in a
    // directory registry.
    const key = path.join(work, "publisher");
    const publicKey = execFileSync(lathe, ["plugin", "keygen", "--out", key], { encoding: "utf8" }).trim().split(/\s+/).find((w) => w.startsWith("ed25519:"));
    assert.ok(publicKey, "keygen prints the public key");
    const dir = path.join(work, "e2e-rest");
    mkdirSync(dir);
    const manifest = JSON.parse(readFileSync(path.join(repo, "plugins/rest/lathe-plugin.json"), "utf8"));
    manifest.id = "e2e-rest";
    manifest.name = "E2E REST";
    manifest.version = "0.2.0";
    writeFileSync(path.join(dir, "lathe-plugin.json"), JSON.stringify(manifest));
    copyFileSync(path.join(repo, "target/wasm32-wasip2/wasm/lathe_plugin_rest.wasm"), path.join(dir, "component.wasm"));
    const pkg = path.join(work, "e2e-rest.lpkg");
    execFileSync(lathe, ["plugin", "pack", dir, "--no-build", "--key", `${key}.key`, "--out", pkg]);
    const registry = path.join(work, "registry");
    execFileSync(lathe, ["plugin", "publish", pkg, "--registry", registry]);

    const page = await newPage();
    await signIn(page, admin);
    await open(page, "/instance/registries");
    await page.getByLabel("Registry name").fill("e2e");
    await page.getByLabel("Registry URL").fill(registry);
    await page.getByRole("button", { name: "Add registry" }).click();
    await page.getByTestId("registry-row").filter({ hasText: "e2e" }).waitFor();
    await shot(page, "admin-registries.png");

    await open(page, "/instance/trusted-keys");
    await page.getByLabel("Publisher name").fill("E2E publisher");
    await page.getByLabel("Public key").fill(publicKey);
    await page.getByRole("button", { name: "Trust key" }).click();
    await page.getByTestId("key-row").filter({ hasText: "E2E publisher" }).waitFor();

    await open(page, "/instance/plugins");
    await page.getByTestId("plugin-row").first().waitFor();
    await page.getByRole("combobox", { name: "Registry" }).selectOption({ label: "e2e" });
    await page.getByLabel("Search packages").fill("e2e");
    const row = page.locator('[data-testid=package-row][data-package="e2e-rest"]');
    await row.getByRole("button", { name: "Install" }).click();

    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    const install = dialog.getByRole("button", { name: "Approve and install" });
    assert.ok(await install.isDisabled(), "nothing installs before the capabilities are approved");
    await dialog.getByText("http://{base_url}").waitFor();
    await shot(page, "admin-plugin-install.png");
    for (const box of await dialog.getByRole("checkbox").all()) await box.check();
    await install.click();
    await dialog.waitFor({ state: "detached" });
    await page.locator('[data-testid=plugin-row][data-plugin="e2e-rest"]').waitFor();
    assert.match((await page.locator('[data-testid=plugin-row][data-plugin="e2e-rest"]').textContent()) ?? "", /0\.2\.0/);
    await shot(page, "admin-plugins.png");

    const plugins = await api.request("GET", "/plugins");
    const installed = plugins.find((/** @type {any} */ p) => p.manifest.id === "e2e-rest");
    assert.deepEqual(installed.installed.approved_capabilities, ["http://{base_url}"]);

    // Removing it again, through the confirmation.
    const installedRow = page.locator('[data-testid=plugin-row][data-plugin="e2e-rest"]');
    await installedRow.getByRole("button", { name: "Remove" }).click();
    await installedRow.getByRole("button", { name: "Remove" }).click();
    await installedRow.waitFor({ state: "detached" });
    await page.context().close();
  });

  it("keeps instance pages from a builder", async () => {
    const page = await newPage();
    await signIn(page, builderUser);
    await page.waitForURL(`**/workspaces/${ws}`);
    assert.equal(await page.getByRole("link", { name: "Instance" }).count(), 0);
    await page.getByRole("link", { name: "Settings" }).click();
    await page.waitForURL(`**/workspaces/${ws}/settings/datasources`);
    assert.equal(await page.getByRole("link", { name: "Plugins" }).count(), 0);
    assert.equal(await page.getByRole("link", { name: "Members" }).count(), 0);
    await page.getByRole("link", { name: "Datasources" }).waitFor();
    assert.equal(await page.getByRole("link", { name: "Groups & grants" }).count(), 0);
    await open(page, "/instance/plugins");
    await page.getByTestId("no-instance-access").waitFor();
    await page.context().close();
  });

  it("shows constants with secrets write-only and the audit log", async () => {
    const page = await newPage();
    await signIn(page, admin);
    await open(page, `/workspaces/${ws}/settings/constants`);
    await page.getByLabel("Constant name").fill("api_key");
    await page.getByLabel("Constant value").fill("very-secret-value");
    await page.getByLabel("Secret (write-only)").check();
    await page.getByRole("button", { name: "Add" }).click();
    await page.getByTestId("constant-row").filter({ hasText: "api_key" }).waitFor();
    assert.ok(!(await page.content()).includes("very-secret-value"));
    await shot(page, "admin-constants.png");

    await open(page, `/workspaces/${ws}/settings/audit`);
    await page.getByTestId("audit-row").first().waitFor();
    await page.getByRole("textbox", { name: "Action" }).fill("member.add");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=audit-row]")].every((r) => r.textContent?.includes("member.add")));
    await shot(page, "admin-audit.png");
    await page.context().close();
  });

  it("manages a group: a member, a grant on one app in words, rename, delete, and a refusal beside its form", async () => {
    const app = await api.request("POST", `/workspaces/${ws}/apps`, { name: "Invoices", slug: "invoices" });
    const builder = new LatheClient(base);
    await builder.login(builderUser.email, builderUser.password);
    const before = await builder.request("GET", `/workspaces/${ws}/permissions/me`);
    assert.deepEqual(before.groups, []);
    assert.ok(!before.workspace.includes("read_audit"), "builders don't read the audit log by default");

    const page = await newPage();
    await signIn(page, admin);
    await open(page, `/workspaces/${ws}/settings`);
    await page.getByRole("link", { name: "Groups & grants" }).click();
    await page.waitForURL(`**/workspaces/${ws}/settings/groups`);
    await page.getByLabel("Group name", { exact: true }).fill("Finance");
    await page.getByRole("button", { name: "Create group" }).click();
    const group = page.getByRole("region", { name: "Group Finance", exact: true });
    await group.waitFor();
    await page.getByTestId("group-row").filter({ hasText: "Finance" }).waitFor();

    await group.getByLabel("Member to add").selectOption({ label: builderUser.email });
    await group.getByRole("button", { name: "Add to group" }).click();
    await group.getByTestId("group-member-row").filter({ hasText: builderUser.email }).waitFor();

    // `view` on one app, named in the list; and a workspace action builders don't hold, so
    // the API shows the group's grants reached its member.
    const grants = page.getByRole("region", { name: "Grants of Finance", exact: true });
    await grants.getByLabel("Action", { exact: true }).selectOption("view");
    await grants.getByLabel("On", { exact: true }).selectOption({ label: "Invoices" });
    await grants.getByRole("button", { name: "Grant", exact: true }).click();
    await grants.getByTestId("grant-row").filter({ hasText: "view · app Invoices" }).waitFor();
    await grants.getByLabel("Action", { exact: true }).selectOption("read_audit");
    await grants.getByRole("button", { name: "Grant", exact: true }).click();
    await grants.getByTestId("grant-row").filter({ hasText: "read audit · workspace" }).waitFor();
    await shot(page, "admin-groups.png");

    const id = (await api.request("GET", `/workspaces/${ws}/groups`)).find((/** @type {any} */ g) => g.name === "Finance").id;
    const stored = await api.request("GET", `/workspaces/${ws}/groups/${id}/grants`);
    assert.ok(stored.some((/** @type {any} */ g) => g.action === "view" && g.kind === "app" && g.app_id === app.id));
    const granted = await builder.request("GET", `/workspaces/${ws}/permissions/me`);
    assert.deepEqual(granted.groups.map((/** @type {any} */ g) => g.name), ["Finance"]);
    assert.ok(granted.apps.by_id[app.id]?.includes("view"));
    assert.ok(granted.workspace.includes("read_audit"));

    // A second group of the same name: the server's refusal, beside the form that asked.
    const refusal = await api.request("POST", `/workspaces/${ws}/groups`, { name: "Finance" }).then(
      () => assert.fail("a duplicate group name was accepted"),
      (/** @type {Error} */ e) => e.message,
    );
    const detail = JSON.parse(refusal.slice(refusal.indexOf("{"))).detail;
    assert.ok(detail, `a problem with a detail: ${refusal}`);
    await page.getByLabel("Group name", { exact: true }).fill("Finance");
    await page.getByRole("button", { name: "Create group" }).click();
    await page.getByRole("form", { name: "New group" }).getByRole("alert").filter({ hasText: detail }).waitFor();
    assert.equal(await page.getByTestId("group-row").filter({ hasText: "Finance" }).count(), 1);

    await group.getByRole("button", { name: "Rename" }).click();
    await page.getByLabel("New group name").fill("Finance team");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    const renamed = page.getByRole("region", { name: "Group Finance team", exact: true });
    await renamed.getByTestId("group-name").filter({ hasText: "Finance team" }).waitFor();
    await page.getByTestId("group-row").filter({ hasText: "Finance team" }).waitFor();

    await renamed.getByRole("button", { name: "Delete group" }).click();
    await renamed.getByRole("button", { name: "Delete group" }).click();
    await page.getByTestId("group-row").filter({ hasText: "Finance" }).waitFor({ state: "detached" });
    const after = await builder.request("GET", `/workspaces/${ws}/permissions/me`);
    assert.deepEqual(after.groups, []);
    assert.ok(!after.workspace.includes("read_audit"), "the group's grants went with it");
    await page.context().close();
  });
});

describe("versions", () => {
  it("adds a member, changes their role, and shows a refusal beside the form", async () => {
    const member = { email: "member-e2e@example.com", password: "member-password-1" };
    await api.request("POST", "/users", member);
    const page = await newPage();
    await signIn(page, admin);
    await open(page, `/workspaces/${ws}/settings/members`);
    const form = page.getByRole("form", { name: "Invite" });
    await form.getByLabel("Email to invite").fill(member.email);
    await form.getByLabel("Role to give").selectOption("viewer");
    await form.getByRole("button", { name: "Add existing user" }).click();
    await form.getByRole("status").getByText(`${member.email} was added.`).waitFor();

    const row = page.getByRole("row").filter({ hasText: member.email });
    await row.getByLabel("Role").selectOption("builder");
    await page.waitForFunction(() => !document.querySelector("select[aria-label=Role]:disabled"));
    await waitUntil(async () => {
      const now = /** @type {{ email: string, role: string }[]} */ (await api.request("GET", `/workspaces/${ws}/members`));
      return now.find((m) => m.email === member.email)?.role === "builder";
    });

    // Someone who has no account can't be added: the server's reason shows under the form.
    await form.getByLabel("Email to invite").fill("nobody-e2e@example.com");
    await form.getByRole("button", { name: "Add existing user" }).click();
    await form.getByRole("alert").waitFor();
    assert.match((await form.getByRole("alert").textContent()) ?? "", /\S/);
    await page.context().close();
  });

  it("exports a released version without secrets and imports it elsewhere with its datasource mapped", async () => {
    const secret = `export-secret-${Date.now()}`;
    const pgConfig = { host: "127.0.0.1", port: 5432, username: env("E2E_PG_ROLE"), database: env("E2E_DATABASE") };
    await api.request("POST", `/workspaces/${ws}/datasources`, { name: "export-src", plugin: "postgres", config: { ...pgConfig, password: secret } });
    const app = await api.request("POST", `/workspaces/${ws}/apps`, { name: "Exported", slug: "exported" });
    const definition = structuredClone(app.draft);
    definition.queries = [{ name: "one", datasource: "export-src", operation: "sql", query: { sql: "select 1 as one" } }];
    await api.request("PATCH", `/workspaces/${ws}/apps/exported`, { definition });
    await api.request("POST", `/workspaces/${ws}/apps/exported/release`, { note: "to export" });
    const other = (await api.request("POST", "/workspaces", { name: "Import target" })).id;
    await api.request("POST", `/workspaces/${other}/datasources`, { name: "target-db", plugin: "postgres", config: pgConfig });

    const page = await newPage();
    await signIn(page, admin);
    await open(page, `/workspaces/${ws}/apps/exported/versions`);
    const row = page.getByTestId("version-row").filter({ hasText: "v1" });
    const downloading = page.waitForEvent("download");
    await row.getByRole("button", { name: "Export" }).click();
    const file = path.join(work, "exported.lathe.json");
    await (await downloading).saveAs(file);
    const text = readFileSync(file, "utf8");
    assert.ok(!text.includes(secret), "the export holds the datasource's password");
    assert.deepEqual(JSON.parse(text).datasources, ["export-src"]);

    await open(page, `/workspaces/${other}/import`);
    await page.locator("#import-file").setInputFiles(file);
    await page.locator("#map-export-src").selectOption("target-db");
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.getByRole("status").getByText("as a draft").waitFor();
    const imported = await api.request("GET", `/workspaces/${other}/apps/exported`);
    assert.equal(imported.draft.queries[0].datasource, "target-db");

    // The same file again: its slug is taken now, and the refusal sits beside the slug field.
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.locator("#import-slug-problem[role=alert]").waitFor();
    assert.match((await page.locator("#import-slug-problem").textContent()) ?? "", /slug/);
    await page.context().close();
  });

  it("restores a released version as the draft", async () => {
    const app = await api.request("POST", `/workspaces/${ws}/apps`, { name: "Versioned", slug: "versioned" });
    await api.request("POST", `/workspaces/${ws}/apps/versioned/release`, { note: "first" });
    const changed = structuredClone(app.draft);
    changed.pages[0].name = "Changed";
    await api.request("PATCH", `/workspaces/${ws}/apps/versioned`, { definition: changed });
    await api.request("POST", `/workspaces/${ws}/apps/versioned/release`, { note: "second" });

    const page = await newPage();
    await signIn(page, admin);
    await open(page, `/workspaces/${ws}/apps/versioned/versions`);
    const first = page.getByTestId("version-row").filter({ hasText: "v1" });
    await first.waitFor();
    assert.equal(await page.getByTestId("version-row").count(), 2);
    await first.getByRole("button", { name: "View" }).click();
    await page.getByRole("region", { name: "Version 1" }).waitFor();
    await shot(page, "versions.png");
    await first.getByRole("button", { name: "Restore" }).click();
    await first.getByRole("button", { name: "Restore as draft" }).click();
    await page.getByText("Version 1 is now the draft.").waitFor();

    const after = await api.request("GET", `/workspaces/${ws}/apps/versioned`);
    assert.equal(after.draft.pages[0].name, app.draft.pages[0].name);
    assert.equal(after.released.version, 2);
    await page.context().close();
  });
});
