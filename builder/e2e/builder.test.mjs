// @ts-check
// End-to-end tests of the builder against a real Lathe server and PostgreSQL, driven by
// playwright-core over Debian's Chromium. Started by scripts/test-builder.sh, which provides
// the server and the environment below.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import path from "node:path";
import { chromium } from "playwright-core";
import { LatheClient, seed } from "./lathe.mjs";

const env = (/** @type {string} */ name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run scripts/test-builder.sh`);
  return value;
};
const base = env("LATHE_URL");
const admin = { email: env("E2E_ADMIN_EMAIL"), password: env("E2E_ADMIN_PASSWORD") };
const screenshots = env("E2E_SCREENSHOTS");

/** @type {import("playwright-core").Browser} */
let browser;
/** @type {{ ws: string, viewer: { email: string, password: string } }} */
let seeded;

before(async () => {
  seeded = await seed({
    base,
    adminEmail: admin.email,
    adminPassword: admin.password,
    database: env("E2E_DATABASE"),
    exampleApp: env("E2E_EXAMPLE_APP"),
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    // The tests run as root in CI, where Chromium's sandbox can't start.
    args: ["--no-sandbox"],
    headless: true,
  });
});

after(async () => {
  await browser?.close();
});

/** A fresh browser profile at the size the issue asks the builder to work in. */
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  /** @type {string[]} */
  const dialogs = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return { page, dialogs };
}

/**
 * Opens a client-side route by loading it directly, as a bookmark or an emailed link does:
 * the server answers the builder's index.html for its pages.
 * @param {import("playwright-core").Page} page
 * @param {string} route
 */
async function open(page, route) {
  const response = await page.goto(base + route);
  assert.equal(response?.status(), 200, `GET ${route}`);
}

/**
 * The ids of the components on a definition's pages, sorted.
 * @param {{ pages: { components: { id: string }[] }[] }} definition
 */
function allIds(definition) {
  return definition.pages.flatMap((p) => p.components.map((c) => c.id)).sort();
}

/** @param {import("playwright-core").Page} page @param {{ email: string, password: string }} who */
async function signIn(page, who, shot = false) {
  await open(page, "/signin");
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  if (shot) await page.screenshot({ path: path.join(screenshots, "sign-in.png") });
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname !== "/signin");
}

describe("the builder", () => {
  it("refuses a wrong password with the server's message beside the form", async () => {
    const { page } = await newPage();
    await open(page, "/signin");
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
    assert.match((await page.getByRole("alert").textContent()) ?? "", /\S/);
    assert.equal(new URL(page.url()).pathname, "/signin");
    await page.context().close();
  });

  it("signs in, lists and searches the apps, and signs out", async () => {
    const { page } = await newPage();
    await signIn(page, admin, true);

    await page.waitForURL(`**/workspaces/${seeded.ws}`);
    const rows = page.getByTestId("app-row");
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    assert.ok(await page.getByTestId("new-app").isVisible(), "an admin can create apps");
    await page.screenshot({ path: path.join(screenshots, "apps.png") });

    await page.getByLabel("Search apps").fill("cust");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=app-row]").length === 1);
    assert.match((await rows.first().textContent()) ?? "", /Customers/);
    await page.getByLabel("Search apps").fill("nothing-like-this");
    await page.getByText("No app matches").waitFor();
    await page.getByLabel("Search apps").fill("");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=app-row]").length === 2);

    await page.getByRole("button", { name: "Sign out" }).click();
    // The session guard may get there first, adding `?next=` to come back after signing in.
    await page.waitForURL((url) => url.pathname === "/signin");
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await page.context().close();
  });

  it("shows a released app to a viewer read-only, without builder controls, data as text", async () => {
    const { page, dialogs } = await newPage();
    await signIn(page, seeded.viewer);

    await open(page, `/apps/${seeded.ws}/customers`);
    const table = page.locator('[data-component="customersTable"]');
    await table.locator("tbody tr").nth(2).waitFor();

    // The stored markup is shown as the characters it is made of, and never becomes an image.
    const hostile = "<img src=x onerror=alert(1)>";
    const cell = table.locator("td", { hasText: hostile });
    assert.equal(await cell.count(), 1);
    assert.equal(await cell.textContent(), hostile);
    assert.equal(await page.locator("img").count(), 0);
    assert.deepEqual(dialogs, []);

    assert.equal(await page.getByTestId("builder-controls").count(), 0);
    assert.equal(await page.getByTestId("edit-app").count(), 0);
    await page.screenshot({ path: path.join(screenshots, "viewer.png") });

    await open(page, `/builder/${seeded.ws}/customers`);
    await page.getByTestId("no-builder-access").waitFor();
    assert.equal(await page.getByTestId("builder-controls").count(), 0);
    await page.context().close();
  });

  it("gives an admin the builder controls on the same app", async () => {
    const { page } = await newPage();
    await signIn(page, admin);
    await open(page, `/apps/${seeded.ws}/customers`);
    await page.getByTestId("builder-controls").waitFor();
    await page.locator('[data-component="customersTable"] tbody tr').first().waitFor();

    await open(page, `/builder/${seeded.ws}/customers`);
    await page.getByRole("button", { name: "Release draft" }).waitFor();
    await page.locator('[data-component="customersTable"] tbody tr').first().waitFor();
    await page.screenshot({ path: path.join(screenshots, "draft-preview.png") });
    await page.context().close();
  });

  it("builds an app in the builder: drag, undo/redo, a query fed by a text input, save, release, view", async () => {
    const { page, dialogs } = await newPage();
    await signIn(page, admin);
    await open(page, `/builder/${seeded.ws}/orders-report`);
    const canvas = page.getByTestId("canvas");
    await canvas.waitFor();

    await page.locator("[data-palette=table]").dragTo(canvas, { targetPosition: { x: 20, y: 20 } });
    await page.locator('[data-component="table1"]').waitFor();
    await page.locator("[data-palette=textInput]").dragTo(canvas, { targetPosition: { x: 20, y: 10 } });
    await page.locator('[data-component="textInput1"]').waitFor();

    // Undo removes the text input again, redo brings it back (keyboard, outside text fields).
    await page.locator(".canvas-scroll").click({ position: { x: 5, y: 5 } });
    await page.keyboard.press("Control+z");
    await page.waitForFunction(() => !document.querySelector('[data-component="textInput1"]'));
    await page.keyboard.press("Control+Shift+z");
    await page.locator('[data-component="textInput1"]').waitFor();

    // A query on the seeded datasource, its input detected from the SQL.
    await page.getByRole("button", { name: "New query" }).click();
    await page.getByLabel("SQL", { exact: true }).fill("select id, name, email from customers where name ilike '%' || {{ inputs.search }} || '%' order by id");
    await page.getByRole("button", { name: "Declare detected inputs" }).click();
    await page.getByLabel("inputs.search").fill("Ada");
    await page.getByRole("button", { name: "Run preview" }).click();
    await page.getByTestId("preview-result").getByText("Ada Lovelace").waitFor();
    await page.screenshot({ path: path.join(screenshots, "builder-queries.png") });

    // The text input re-runs the query with its value.
    await page.getByRole("button", { name: "Select textInput1" }).click();
    const panel = page.getByTestId("property-panel");
    await panel.getByRole("button", { name: "Add handler" }).click();
    await panel.getByLabel("Action").selectOption("runQuery");
    await panel.getByLabel("Query", { exact: true }).selectOption("query1");
    await panel.getByLabel("Inputs", { exact: true }).fill('{"search": "{{ components.textInput1.value }}"}');

    // The table shows the query's rows, the binding completed from the keyboard; the panel
    // evaluates it under the field.
    await page.getByRole("button", { name: "Select table1" }).click();
    const data = panel.getByLabel("Data", { exact: true });
    await data.fill("{{ queries.query1.r");
    const suggestions = panel.getByRole("listbox", { name: "Suggestions for Data" });
    await suggestions.getByRole("option", { name: "queries.query1.rows", exact: true }).waitFor();
    await data.press("ArrowDown");
    await data.press("ArrowUp");
    assert.equal(await suggestions.getByRole("option", { selected: true }).textContent(), "queries.query1.rows");
    await data.press("Enter");
    await data.pressSequentially(" }}");
    assert.equal(await data.inputValue(), "{{ queries.query1.rows }}");
    await panel.locator(".field-value").first().waitFor();
    await page.screenshot({ path: path.join(screenshots, "builder-canvas.png") });

    // Renaming the input and the query carries the binding and the handler along.
    await page.getByRole("button", { name: "Select textInput1" }).click();
    await panel.getByLabel("Name", { exact: true }).fill("search");
    await panel.getByLabel("Name", { exact: true }).press("Enter");
    await page.locator('[data-component="search"]').waitFor();
    const queryName = page.getByTestId("queries-panel").getByLabel("Name", { exact: true });
    await queryName.fill("customers");
    await queryName.press("Enter");
    await page.getByTestId("queries-panel").getByRole("button", { name: "customers", exact: true }).waitFor();
    assert.equal(await panel.getByLabel("Query", { exact: true }).inputValue(), "customers");
    assert.equal(await panel.getByLabel("Inputs", { exact: true }).inputValue(), '{\n  "search": "{{ components.search.value }}"\n}');
    await page.getByRole("button", { name: "Select table1" }).click();
    assert.equal(await panel.getByLabel("Data", { exact: true }).inputValue(), "{{ queries.customers.rows }}");

    await page.getByRole("button", { name: "Save" }).click();
    await page.locator('button:text-is("Saved"), .release .problem[role=alert]').first().waitFor();
    const saveProblem = page.locator(".release .problem[role=alert]");
    assert.equal(await saveProblem.count(), 0, (await saveProblem.count()) > 0 ? await saveProblem.first().textContent() ?? "" : "");
    const released = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith("/release"));
    await page.getByRole("button", { name: "Release draft" }).click();
    const release = await released;
    assert.ok(release.ok(), `release: ${release.status()} ${await release.text()}`);
    await page.context().close();

    const viewer = await newPage();
    await signIn(viewer.page, seeded.viewer);
    await open(viewer.page, `/apps/${seeded.ws}/orders-report`);
    await viewer.page.locator("#input-search").fill("grace");
    const rows = viewer.page.locator('[data-component="table1"] tbody tr');
    await viewer.page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('[data-component="table1"] tbody tr')];
      return cells.length === 1 && /Grace Hopper/.test(cells[0]?.textContent ?? "");
    });
    assert.equal(await rows.count(), 1);
    // The hostile name is data: typing "<img" finds it and shows it as text.
    await viewer.page.locator("#input-search").fill("<img");
    await viewer.page.locator('[data-component="table1"] td', { hasText: "<img src=x onerror=alert(1)>" }).waitFor();
    assert.equal(await viewer.page.locator("img").count(), 0);
    assert.deepEqual([...dialogs, ...viewer.dialogs], []);
    await viewer.page.context().close();
  });

  // Last: it adds a workspace, and the sign-in test expects the admin's first one.
  it("shows a datasource read-only to a builder who may use it but not configure it", async () => {
    const api = new LatheClient(base);
    await api.login(admin.email, admin.password);
    const ws = (await api.request("POST", "/workspaces", { name: "Use only" })).id;
    const user = { email: "use-only@example.com", password: "use-only-password-1" };
    await api.request("POST", "/users", user);
    await api.request("POST", `/workspaces/${ws}/members`, { email: user.email, role: "builder" });
    /** @type {{ id: string, kind: string, action: string, datasource_id?: string | null }[]} */
    const grants = await api.request("GET", `/workspaces/${ws}/roles/builder/grants`);
    const configureAll = grants.find((g) => g.kind === "datasource" && g.action === "configure" && !g.datasource_id);
    assert.ok(configureAll, "a new workspace lets builders configure every datasource");
    await api.request("DELETE", `/workspaces/${ws}/roles/builder/grants/${configureAll.id}`);
    const datasource = await api.request("POST", `/workspaces/${ws}/datasources`, {
      name: "shared-db",
      plugin: "postgres",
      config: { host: "127.0.0.1", port: 5432, username: "postgres", database: env("E2E_DATABASE") },
    });

    const { page } = await newPage();
    await signIn(page, user);
    await open(page, `/workspaces/${ws}/settings/datasources/${datasource.id}`);
    await page.getByRole("note").getByText("not change its settings").waitFor();
    assert.equal(await page.locator("#ds-name").isDisabled(), true);
    assert.equal(await page.getByRole("button", { name: "Save" }).count(), 0);
    assert.equal(await page.getByRole("button", { name: "Delete" }).count(), 0);
    await page.getByRole("button", { name: "Test connection" }).click();
    await page.getByText(/Connected/).waitFor();
    await page.context().close();
  });

  // At the end: it adds a workspace.
  it("refuses a save over a draft changed in another tab, and reloads or saves over it", async () => {
    const api = new LatheClient(base);
    await api.login(admin.email, admin.password);
    const ws = (await api.request("POST", "/workspaces", { name: "Two tabs" })).id;
    await api.request("POST", `/workspaces/${ws}/apps`, { name: "Shared draft", slug: "shared" });

    // The same draft, open in two browser profiles as the same admin.
    const first = await newPage();
    const second = await newPage();
    for (const { page } of [first, second]) {
      await signIn(page, admin);
      await open(page, `/builder/${ws}/shared`);
      await page.getByTestId("canvas").waitFor();
    }

    /** Adds the first component of `type` from the palette, then presses Save. */
    const addAndSave = async (/** @type {import("playwright-core").Page} */ page, /** @type {string} */ type) => {
      await page.locator(`[data-palette=${type}]`).click();
      await page.locator(`[data-component="${type}1"]`).waitFor();
      await page.getByRole("button", { name: "Save" }).click();
    };
    const saved = (/** @type {import("playwright-core").Page} */ page) => page.locator('button:text-is("Saved")').waitFor();
    const stored = async () => allIds((await api.request("GET", `/workspaces/${ws}/apps/shared`)).draft);

    // The first tab adds a chart and saves.
    await addAndSave(first.page, "chart");
    await saved(first.page);

    // The second, stale, adds an image and saves: refused, with who changed the draft.
    await addAndSave(second.page, "image");
    const conflict = second.page.getByTestId("save-conflict");
    await conflict.waitFor();
    const message = (await conflict.getByRole("alert").textContent()) ?? "";
    assert.match(message, /changed by .*admin.*after you opened it/, message);
    await second.page.screenshot({ path: path.join(screenshots, "builder-save-conflict.png") });
    assert.deepEqual(await stored(), ["chart1"], "the refused save wrote nothing");

    // Reloading discards the image and shows the first tab's chart.
    await conflict.getByRole("button", { name: "Reload the draft" }).click();
    await second.page.locator('[data-component="chart1"]').waitFor();
    assert.equal(await second.page.locator('[data-component="image1"]').count(), 0);
    assert.equal(await conflict.count(), 0);
    await saved(second.page);

    // Based on the reloaded draft, the second tab's next save goes through; now the first
    // tab is the stale one, and it saves its copy over the draft knowingly.
    await addAndSave(second.page, "image");
    await saved(second.page);
    await addAndSave(first.page, "text");
    const again = first.page.getByTestId("save-conflict");
    await again.getByRole("button", { name: "Save mine anyway" }).click();
    await saved(first.page);
    assert.equal(await again.count(), 0);
    assert.deepEqual(await stored(), ["chart1", "text1"]);

    await first.page.context().close();
    await second.page.context().close();
  });
});
