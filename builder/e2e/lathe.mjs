// @ts-check
// Seeding for the end-to-end tests, through Lathe's public API as any client would: a
// session cookie from login and the Origin header the CSRF check wants.
import { readFile } from "node:fs/promises";

export class LatheClient {
  /** @param {string} base */
  constructor(base) {
    this.base = base;
    /** @type {string | null} */
    this.cookie = null;
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @returns {Promise<any>}
   */
  async request(method, path, body) {
    /** @type {Record<string, string>} */
    const headers = { origin: this.base };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.cookie) headers.cookie = this.cookie;
    const response = await fetch(`${this.base}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const session = response.headers.getSetCookie().find((c) => c.startsWith("lathe_session="));
    if (session) this.cookie = session.split(";")[0] ?? null;
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** @param {string} email @param {string} password */
  login(email, password) {
    return this.request("POST", "/auth/login", { email, password });
  }
}

/**
 * A workspace with a viewer, a PostgreSQL datasource on the test's own database holding a
 * customers table (one name is an HTML injection attempt), the example app imported and
 * released, and a second app that is only a draft.
 * @param {{ base: string, adminEmail: string, adminPassword: string, database: string, exampleApp: string }} options
 */
export async function seed(options) {
  const admin = new LatheClient(options.base);
  await admin.login(options.adminEmail, options.adminPassword);

  const ws = await admin.request("POST", "/workspaces", { name: "E2E workspace" });
  const viewer = { email: "viewer@example.com", password: "viewer-password-1" };
  await admin.request("POST", "/users", viewer);
  await admin.request("POST", `/workspaces/${ws.id}/members`, { email: viewer.email, role: "viewer" });

  const datasource = await admin.request("POST", `/workspaces/${ws.id}/datasources`, {
    name: "customers-db",
    plugin: "postgres",
    config: { host: "127.0.0.1", port: 5432, username: "postgres", database: options.database },
  });
  /** @param {string} sql */
  const run = (sql) => admin.request("POST", `/workspaces/${ws.id}/datasources/${datasource.id}/run`, { operation: "sql", query: { sql } });
  await run("create table customers (id serial primary key, name text not null, email text)");
  await run(`insert into customers (name, email) values
    ('Ada Lovelace', 'ada@example.com'),
    ('<img src=x onerror=alert(1)>', 'mallory@example.com'),
    ('Grace Hopper', 'grace@example.com')`);

  const definition = JSON.parse(await readFile(options.exampleApp, "utf8"));
  await admin.request("POST", `/workspaces/${ws.id}/apps/import`, {
    document: {
      format: "lathe.app",
      formatVersion: 1,
      exportedAt: new Date().toISOString(),
      app: { name: "Customers", slug: "customers" },
      version: "draft",
      definition,
      datasources: ["customers-db"],
    },
  });
  await admin.request("POST", `/workspaces/${ws.id}/apps/customers/release`, { note: "e2e" });
  await admin.request("POST", `/workspaces/${ws.id}/apps`, { name: "Orders report", slug: "orders-report" });

  return { ws: ws.id, viewer };
}
