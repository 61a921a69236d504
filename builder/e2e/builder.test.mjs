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
    // An admin can create apps (the button waits for permissions/me, which may answer last).
    await page.getByTestId("new-app").waitFor();
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
    // This browser never saved or ran the seeded draft: its queries wait for a click.
    await page.getByRole("button", { name: "Run its queries" }).click();
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
    await page.getByRole("button", { name: "Run its queries" }).click();

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

  it("holds the queries of a draft someone else wrote until the admin chooses to run them", async () => {
    const author = { email: "author@example.com", password: "author-password-1" };
    const api = new LatheClient(base);
    await api.login(admin.email, admin.password);
    await api.request("POST", "/users", author);
    await api.request("POST", `/workspaces/${seeded.ws}/members`, { email: author.email, role: "builder" });
    const client = new LatheClient(base);
    await client.login(author.email, author.password);
    await client.request("POST", `/workspaces/${seeded.ws}/apps`, {
      name: "Review me",
      slug: "review-me",
      definition: {
        pages: [{ id: "page1", name: "Home", components: [{ id: "counts", type: "table", props: { data: "{{ queries.count.rows }}" }, layout: { x: 0, y: 0, w: 12, h: 4 } }] }],
        queries: [
          {
            name: "count",
            datasource: "customers-db",
            operation: "sql",
            query: { sql: "select count(*)::int as n from customers" },
            runOnLoad: true,
            events: [{ event: "onSuccess", action: "openUrl", url: "http://127.0.0.1:9/not-the-sign-in-page" }],
          },
        ],
      },
    });

    const { page } = await newPage();
    /** @type {string[]} */
    const runs = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname.includes("/queries/")) runs.push(r.url());
    });
    await signIn(page, admin);
    await open(page, `/builder/${seeded.ws}/review-me`);
    await page.getByTestId("run-consent").waitFor();
    await page.locator('[data-component="counts"]').waitFor();
    assert.deepEqual(runs, [], "nothing ran before the admin chose to");

    await page.getByRole("button", { name: "Run its queries" }).click();
    await page.locator('[data-component="counts"] tbody tr').first().waitFor();
    assert.equal(runs.length, 1);
    // The handler's address is named, not opened: the builder stays where it is.
    await page.getByText("In the released app this opens http://127.0.0.1:9/not-the-sign-in-page").waitFor();
    assert.equal(new URL(page.url()).pathname, `/builder/${seeded.ws}/review-me`);

    // Agreed once for exactly these queries: reopening runs them at once.
    await page.reload();
    await page.locator('[data-component="counts"] tbody tr').first().waitFor();
    assert.equal(await page.getByTestId("run-consent").count(), 0);

    // The author changes a query: the admin is asked again.
    const view = await client.request("GET", `/workspaces/${seeded.ws}/apps/review-me`);
    view.draft.queries[0].query.sql = "select 2 as n";
    await client.request("PATCH", `/workspaces/${seeded.ws}/apps/review-me`, { definition: view.draft });
    await page.reload();
    await page.getByTestId("run-consent").waitFor();

    // Saving the author's draft without agreeing to it (a name changed and changed back) is
    // not agreeing to run it: nothing runs, and the question stays.
    const beforeOwnSaves = runs.length;
    for (const name of ["tally", "counts"]) {
      await page.getByRole("button", { name: `Select ${name === "tally" ? "counts" : "tally"}` }).click();
      const field = page.getByTestId("property-panel").getByLabel("Name", { exact: true });
      await field.fill(name);
      await field.press("Enter");
      await page.getByRole("button", { name: "Save", exact: true }).click();
      await page.getByRole("button", { name: "Saved", exact: true }).waitFor();
      await page.getByTestId("run-consent").waitFor();
    }
    await page.waitForTimeout(500);
    assert.equal(runs.length, beforeOwnSaves, "saving someone else's draft ran its queries");

    // Agreed again; then the author saves once more while the admin edits. The admin's save
    // conflicts, and reloading brings the author's new query: it is held like any other.
    await page.getByRole("button", { name: "Run its queries" }).click();
    await page.locator('[data-component="counts"] tbody tr').first().waitFor();
    const latest = await client.request("GET", `/workspaces/${seeded.ws}/apps/review-me`);
    latest.draft.queries[0].query.sql = "select 3 as n";
    await client.request("PATCH", `/workspaces/${seeded.ws}/apps/review-me`, { definition: latest.draft });
    await page.getByRole("button", { name: "Select counts" }).click();
    const name = page.getByTestId("property-panel").getByLabel("Name", { exact: true });
    await name.fill("counts2");
    await name.press("Enter");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    const before = runs.length;
    await page.getByRole("button", { name: "Reload the draft" }).click();
    await page.getByTestId("run-consent").waitFor();
    await page.waitForTimeout(500);
    assert.equal(runs.length, before, "the reloaded draft ran before the admin agreed");
    await page.context().close();
  });

  it("stops query handlers that keep starting runs, however they branch", async () => {
    const api = new LatheClient(base);
    await api.login(admin.email, admin.password);
    await api.request("POST", `/workspaces/${seeded.ws}/apps`, {
      name: "Loop",
      slug: "loop",
      definition: {
        pages: [{ id: "page1", name: "Home", components: [] }],
        queries: [
          {
            name: "again",
            datasource: "customers-db",
            operation: "sql",
            query: { sql: "select 1 as n" },
            runOnLoad: true,
            events: [
              { event: "onSuccess", action: "runQuery", query: "again" },
              { event: "onSuccess", action: "runQuery", query: "again" },
            ],
          },
        ],
      },
    });
    await api.request("POST", `/workspaces/${seeded.ws}/apps/loop/release`, {});

    const { page } = await newPage();
    let runs = 0;
    page.on("request", (r) => {
      if (new URL(r.url()).pathname.includes("/queries/")) runs++;
    });
    await signIn(page, admin);
    await open(page, `/apps/${seeded.ws}/loop`);
    await page.getByText(/query handlers started \d+ runs/).first().waitFor();
    await page.waitForTimeout(2_000);
    // The on-load run plus at most 50 that handlers started.
    assert.ok(runs <= 51, `${runs} runs`);
    await page.context().close();
  });

  it("follows ?next= only to this site's paths, and shows a plain page when a page fails", async () => {
    const { page } = await newPage();
    await open(page, "/signin?next=%2F%09%2Fevil.example");
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`**/workspaces/${seeded.ws}`);
    assert.equal(await page.getByText("Unexpected Application Error").count(), 0);

    // A page that throws while rendering (here: an answer it can't read) shows the root's
    // error page with a way home, never a stack trace.
    await page.route("**/api/v1/auth/me", (route) => route.fulfill({ status: 200, contentType: "application/json", body: "{}" }));
    await open(page, `/workspaces/${seeded.ws}`);
    await page.getByTestId("route-error").waitFor();
    const text = (await page.getByTestId("route-error").textContent()) ?? "";
    assert.match(text, /Something went wrong/);
    assert.doesNotMatch(text, /TypeError|at \S+ \(|\.tsx?:\d+/);
    assert.equal(await page.getByRole("link", { name: "Go to the home page" }).getAttribute("href"), "/");
    await page.context().close();
  });

  it("accepts an invite for the address it was sent to, asking for a password when it has no account", async () => {
    const { page } = await newPage();
    await signIn(page, seeded.viewer);
    // No mail server here, so no real token: the server's two answers are played back.
    /** @type {unknown[]} */
    const bodies = [];
    await page.route("**/api/v1/invites/accept", async (route) => {
      const body = route.request().postDataJSON();
      bodies.push(body);
      if (!body.password) {
        await route.fulfill({ status: 422, contentType: "application/problem+json", body: JSON.stringify({ type: "urn:lathe:problem:validation", title: "Invalid input", status: 422, detail: "this address has no account yet: send `password`" }) });
      } else await route.fulfill({ status: 204 });
    });
    await open(page, "/accept-invite?token=e2e-token");
    const signedIn = (await page.getByTestId("invite-signed-in").textContent()) ?? "";
    assert.match(signedIn, /signed in as viewer@example\.com/);
    assert.match(signedIn, /not\s+your account/);
    assert.equal(await page.getByText("You will join the workspace as").count(), 0);

    await page.getByRole("button", { name: "Accept invite" }).click();
    await page.getByLabel("New password").fill("outsider-password-1");
    await page.getByLabel("Repeat the password").fill("outsider-password-1");
    await page.getByRole("button", { name: "Create the account and accept" }).click();
    await page.getByTestId("invite-accepted").waitFor();
    assert.deepEqual(bodies, [{ token: "e2e-token" }, { token: "e2e-token", password: "outsider-password-1" }]);
    await page.context().close();
  });

  it("says a used reset link is invalid with a way to a new one, and how long a rate limit lasts", async () => {
    const { page } = await newPage();
    await open(page, "/reset-password?token=not-a-real-token");
    await page.getByLabel("New password").fill("new-password-123");
    await page.getByLabel("Repeat the password").fill("new-password-123");
    await page.getByRole("button", { name: "Set password" }).click();
    const invalid = page.getByTestId("reset-link-invalid");
    await invalid.waitFor();
    assert.match((await invalid.textContent()) ?? "", /invalid, expired or was already used/);
    assert.equal(await invalid.getByRole("link", { name: "Request a new link" }).getAttribute("href"), "/reset");

    // The server's own limit takes many attempts to reach; its answer is played back.
    await page.route("**/api/v1/auth/login", (route) =>
      route.fulfill({ status: 429, headers: { "retry-after": "42", "content-type": "application/problem+json" }, body: JSON.stringify({ type: "urn:lathe:problem:rate-limited", title: "Too many requests", status: 429, detail: "wait for the time given in Retry-After" }) }),
    );
    await open(page, "/signin");
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill("whatever-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").getByText("Too many attempts. Try again in 42 seconds.").waitFor();
    await page.context().close();
  });

  it("offers a viewer no settings, no export or draft of versions, and no import form", async () => {
    const { page } = await newPage();
    await signIn(page, seeded.viewer);
    await page.waitForURL(`**/workspaces/${seeded.ws}`);
    await page.getByTestId("app-row").first().waitFor();
    await page.locator(".link-placeholder").waitFor({ state: "detached" });
    assert.equal(await page.getByRole("link", { name: "Settings" }).count(), 0);

    await open(page, `/workspaces/${seeded.ws}/apps/customers/versions`);
    await page.getByRole("heading", { name: "Versions of customers" }).waitFor();
    await page.locator(".problem[role=alert]").first().waitFor();
    for (const name of ["Export draft", "Export", "Restore"]) assert.equal(await page.getByRole("button", { name, exact: true }).count(), 0, name);
    assert.equal(await page.getByRole("link", { name: "Open draft" }).count(), 0);
    assert.equal(await page.getByRole("switch").count(), 0);

    await open(page, `/workspaces/${seeded.ws}/import`);
    await page.getByTestId("no-import-access").waitFor();
    assert.equal(await page.locator("#import-file").count(), 0);
    await page.context().close();
  });

  it("edits pages and keeps the delete key to the canvas, with the header readable at 1280 px", async () => {
    const api = new LatheClient(base);
    await api.login(admin.email, admin.password);
    /** @param {string} id @param {number} y @param {unknown[]} events */
    const button = (id, y, events) => ({ id, type: "button", props: { label: id }, layout: { x: 0, y, w: 4, h: 1 }, events });
    await api.request("POST", `/workspaces/${seeded.ws}/apps`, { name: "Pages with a rather long name for the header", slug: "pages-e2e" });
    await api.request("PATCH", `/workspaces/${seeded.ws}/apps/pages-e2e`, {
      definition: {
        pages: [
          {
            id: "page1",
            name: "Page 1",
            components: [
              button("go", 0, [{ event: "onClick", action: "navigate", page: "details" }]),
              { id: "photo", type: "image", props: { src: "http://127.0.0.1/a.png" }, layout: { x: 0, y: 1, w: 6, h: 3 } },
            ],
          },
          { id: "details", name: "Details", components: [] },
        ],
      },
    });

    const { page } = await newPage();
    await signIn(page, admin);
    await open(page, `/builder/${seeded.ws}/pages-e2e`);
    await page.getByTestId("canvas").waitFor();
    assert.equal(await page.getByTestId("draft-status").textContent(), "draft, not released yet");
    assert.equal(await page.locator('[data-component="photo"] .r-placeholder').textContent(), "Only https: and data: images can be shown");

    // Clearing the name and typing a new one gives the new one.
    const name = page.getByLabel("Page name");
    await name.click();
    await page.keyboard.press("Control+a");
    await page.keyboard.press("Backspace");
    assert.equal(await name.inputValue(), "");
    await page.keyboard.type("Orders");
    const pages = page.locator(".pages-list ul button");
    assert.deepEqual(await pages.allTextContents(), ["Orders", "Details"]);
    await name.fill("");
    await name.blur();
    assert.equal(await name.inputValue(), "Orders");

    // A page a handler navigates to can't be deleted; once moved up and freed, it can.
    await pages.filter({ hasText: "Details" }).click();
    await page.getByRole("button", { name: "Move page up" }).click();
    assert.deepEqual(await pages.allTextContents(), ["Details", "Orders"]);
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.locator(".page-refusal[role=alert]").getByText("go (onClick)").waitFor();
    await pages.filter({ hasText: "Orders" }).click();
    await page.getByRole("button", { name: "Select go" }).click();
    await page.getByTestId("property-panel").getByRole("button", { name: "Remove handler" }).first().click();

    // Backspace on a focused panel button leaves the selected component alone; Enter on its
    // overlay selects it and Delete from there removes it.
    await page.getByRole("button", { name: "Add page" }).focus();
    await page.keyboard.press("Backspace");
    await page.keyboard.press("Delete");
    assert.equal(await page.locator('[data-component="go"]').count(), 1);
    await page.keyboard.press("Escape");
    const overlay = page.getByRole("button", { name: "Select go" });
    await overlay.focus();
    await page.keyboard.press("Enter");
    assert.equal(await overlay.getAttribute("aria-pressed"), "true");
    await page.keyboard.press("Delete");
    await page.waitForFunction(() => !document.querySelector('[data-component="go"]'));

    await pages.filter({ hasText: "Details" }).click();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("group", { name: "Confirm deleting the page" }).getByRole("button", { name: "Delete page" }).click();
    assert.deepEqual(await pages.allTextContents(), ["Orders"]);
    assert.equal(await page.getByRole("button", { name: "Delete", exact: true }).isDisabled(), true);
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("button", { name: "Saved" }).waitFor();

    // A long refusal of the release wraps inside the header, beside the title.
    await page.route("**/release", (route) =>
      route.fulfill({ status: 403, contentType: "application/problem+json", body: JSON.stringify({ type: "urn:lathe:problem:forbidden", title: "Forbidden", status: 403, detail: "releasing this app needs the edit permission on it, which neither your role nor your groups give you in this workspace; ask a workspace admin" }) }),
    );
    await page.getByRole("button", { name: "Release draft" }).click();
    const refusal = page.locator(".release .problem[role=alert]");
    await refusal.waitFor();
    const bar = await page.locator(".topbar").boundingBox();
    const box = await refusal.boundingBox();
    const title = await page.locator(".builder-controls .app-title").boundingBox();
    const switcher = await page.getByLabel("Workspace").boundingBox();
    assert.ok(bar && box && title && switcher);
    assert.ok(box.y >= bar.y && box.y + box.height <= bar.y + bar.height, `refusal ${JSON.stringify(box)} outside the bar ${JSON.stringify(bar)}`);
    assert.ok(title.x >= switcher.x + switcher.width, "the title stays right of the workspace select");
    await page.screenshot({ path: path.join(screenshots, "builder-header-refusal.png"), clip: { x: 0, y: 0, width: 1280, height: 160 } });
    await page.context().close();
  });

  it("makes an app public from its versions page and shows it to someone not signed in", async () => {
    const { page } = await newPage();
    await signIn(page, admin);
    await open(page, `/workspaces/${seeded.ws}/apps/customers/versions`);
    const toggle = page.getByRole("switch", { name: "Public" });
    await toggle.waitFor();
    assert.equal(await toggle.isChecked(), false);
    await toggle.click();
    const confirm = page.getByRole("group", { name: "Make the app public?" });
    assert.match((await confirm.textContent()) ?? "", /Anyone with the link.*run its released queries/s);
    await confirm.getByRole("button", { name: "Make public" }).click();
    const link = page.getByTestId("public-link");
    await link.waitFor();
    assert.equal(await toggle.isChecked(), true);
    const href = (await link.getAttribute("href")) ?? "";
    assert.equal(new URL(href).pathname, `/public/${seeded.ws}/customers`);
    await page.context().close();

    // A fresh profile, never signed in.
    const anonymous = await newPage();
    await open(anonymous.page, new URL(href).pathname);
    await anonymous.page.locator('[data-component="customersTable"] tbody tr').nth(2).waitFor();
    assert.equal(new URL(anonymous.page.url()).pathname, `/public/${seeded.ws}/customers`);
    assert.equal(await anonymous.page.getByTestId("public-app-title").textContent(), "Customers");
    assert.deepEqual(anonymous.dialogs, []);
    await anonymous.page.context().close();

    // Private again, the same link finds nothing.
    const api = new LatheClient(base);
    await api.login(admin.email, admin.password);
    await api.request("PATCH", `/workspaces/${seeded.ws}/apps/customers`, { public: false });
    const again = await newPage();
    await open(again.page, new URL(href).pathname);
    await again.page.getByRole("heading", { name: "App not found" }).waitFor();
    await again.page.context().close();
  });

  it("shows a failed query's error in the components that read it, not an empty table", async () => {
    const api = new LatheClient(base);
    await api.login(admin.email, admin.password);
    const definition = {
      pages: [
        {
          id: "main",
          name: "Main",
          components: [
            {
              id: "ordersTable",
              type: "table",
              props: { data: "{{ queries.orders.rows }}", columns: [{ key: "id", title: "Id" }] },
              layout: { x: 0, y: 0, w: 24, h: 6 },
            },
          ],
        },
      ],
      queries: [
        {
          name: "orders",
          datasource: "customers-db",
          operation: "sql",
          query: { sql: "select id from no_such_orders" },
          runOnLoad: true,
        },
      ],
    };
    await api.request("POST", `/workspaces/${seeded.ws}/apps`, { name: "Broken orders", slug: "broken-orders", definition });
    await api.request("POST", `/workspaces/${seeded.ws}/apps/broken-orders/release`, {});

    const { page } = await newPage();
    await signIn(page, seeded.viewer);
    await open(page, `/apps/${seeded.ws}/broken-orders`);
    const alert = page.locator('[data-component="ordersTable"]').getByRole("alert");
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? "", /query orders failed: .*no_such_orders/);
    await page.context().close();
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
