import { describe, expect, it } from "vitest";
import {
  buildScope,
  defaultInputs,
  failedQueriesReadBy,
  IDLE_QUERY,
  readsLoadingQuery,
  rowsAsObjects,
  type Page,
} from "./runtime";

describe("rowsAsObjects", () => {
  it("names values by column and keeps repeated column names apart", () => {
    const rows = rowsAsObjects({
      columns: [{ name: "id" }, { name: "name" }, { name: "id" }],
      rows: [[1, "Ada", 10]] as unknown as Record<string, unknown>[][],
      rowCount: 1,
      truncated: false,
      durationMs: 1,
      metadata: {},
    });
    expect(rows).toEqual([{ id: 1, name: "Ada", id_2: 10 }]);
  });

  it("keeps a column named __proto__ as plain data", () => {
    const rows = rowsAsObjects({
      columns: [{ name: "__proto__" }],
      rows: [[{ polluted: true }]],
      rowCount: 1,
      truncated: false,
      durationMs: 1,
      metadata: {},
    });
    expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("defaultInputs", () => {
  it("takes the defaults of the inputs schema", () => {
    expect(
      defaultInputs({
        name: "q",
        datasource: "db",
        operation: "sql",
        query: {},
        inputs: { type: "object", properties: { search: { type: "string", default: "" }, id: { type: "integer" } } },
      }),
    ).toEqual({ search: "" });
  });
});

describe("buildScope", () => {
  const page: Page = {
    id: "main",
    name: "Main",
    components: [
      { id: "search", type: "textInput", props: { value: "start" }, layout: { x: 0, y: 0, w: 8, h: 1 } },
      {
        id: "box",
        type: "container",
        layout: { x: 0, y: 1, w: 24, h: 4 },
        children: [{ id: "inner", type: "textInput", props: { value: "{{ variables.x }}" }, layout: { x: 0, y: 0, w: 4, h: 1 } }],
      },
    ],
  };

  it("exposes component values, nested ones included, and the URL", () => {
    const scope = buildScope({
      page,
      components: { search: { value: "typed" } },
      queries: {},
      variables: { x: 1 },
      user: { id: "u1", email: "a@example.com" },
      location: { pathname: "/apps/w/a", search: "?id=7" },
    });
    // `inner` has not been typed in: it exposes its bound initial value.
    expect(scope.components).toEqual({ search: { value: "typed" }, box: {}, inner: { value: 1 } });
    expect(scope.url).toEqual({ path: "/apps/w/a", params: { id: "7" } });
    expect(scope.page).toEqual({ id: "main", name: "Main" });
  });
});

describe("readsLoadingQuery", () => {
  it("finds a running query among nested bindings", () => {
    const queries = { list: { ...IDLE_QUERY, isLoading: true }, other: IDLE_QUERY };
    expect(readsLoadingQuery({ data: "{{ queries.list.rows }}" }, queries)).toBe(true);
    expect(readsLoadingQuery({ columns: [{ title: "{{ queries.list.rowCount }} rows" }] }, queries)).toBe(true);
    expect(readsLoadingQuery({ data: "{{ queries.other.rows }}", text: "queries.list" }, queries)).toBe(false);
  });
});

describe("failedQueriesReadBy", () => {
  const queries = {
    broken: { ...IDLE_QUERY, error: 'relation "customerz" does not exist' },
    rerunning: { ...IDLE_QUERY, error: "timed out", isLoading: true },
    fine: IDLE_QUERY,
  };

  it("names each failed query the props read, once, with its error", () => {
    const props = { data: "{{ queries.broken.rows }}", title: "{{ queries.broken.rowCount }} of {{ queries.fine.rowCount }}" };
    expect(failedQueriesReadBy(props, queries)).toEqual([["broken", 'relation "customerz" does not exist']]);
  });

  it("ignores queries that succeeded, are running again, or are only named in plain text", () => {
    expect(failedQueriesReadBy({ data: "{{ queries.fine.rows }}" }, queries)).toEqual([]);
    expect(failedQueriesReadBy({ data: "{{ queries.rerunning.rows }}" }, queries)).toEqual([]);
    expect(failedQueriesReadBy({ text: "queries.broken failed before" }, queries)).toEqual([]);
  });
});
