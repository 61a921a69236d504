// The state of a running app and the scope its bindings read: component values, query
// results, variables, the page, the URL and the user. Pure functions; the hook that holds the
// state is useAppRuntime.ts.
import type { Component, LatheAppDefinition, Page, Query } from "../api/app-definition.gen";
import type { Schemas } from "../api/client";
import { templateReferences, type Scope } from "../expressions";

export type Definition = LatheAppDefinition;
export type { Component, Page, Query };

/** What `queries.<name>` holds. */
export type QueryState = {
  isLoading: boolean;
  /** Rows as objects keyed by column name, which is how bindings use them (`rows[0].name`). */
  rows: Record<string, unknown>[];
  /** The same rows; the name ToolJet users reach for. */
  data: Record<string, unknown>[];
  columns: { name: string; type?: string }[];
  rowCount: number;
  truncated: boolean;
  durationMs: number | null;
  /** The problem's detail when the last run failed, else null. */
  error: string | null;
};

export const IDLE_QUERY: QueryState = {
  isLoading: false,
  rows: [],
  data: [],
  columns: [],
  rowCount: 0,
  truncated: false,
  durationMs: null,
  error: null,
};

/** Per component: what the user did to it (typed text, selected row, page of a table). */
export type ComponentState = Record<string, unknown>;

/**
 * The server answers rows as arrays in column order (compact on the wire); bindings want
 * objects. A column named twice (`select a.id, b.id`) keeps its first value under the plain
 * name and the others under `name_2`, `name_3`, so no value is lost silently.
 */
export function rowsAsObjects(result: Schemas["RunResponse"]): QueryState["rows"] {
  const names: string[] = [];
  const seen = new Map<string, number>();
  for (const column of result.columns) {
    const base = typeof column.name === "string" ? column.name : `column${names.length + 1}`;
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    names.push(count === 1 ? base : `${base}_${count}`);
  }
  return result.rows.map((row) => {
    const object: Record<string, unknown> = {};
    names.forEach((name, i) => {
      Object.defineProperty(object, name, { value: row[i], enumerable: true, writable: true, configurable: true });
    });
    return object;
  });
}

export function queryResult(result: Schemas["RunResponse"]): QueryState {
  const rows = rowsAsObjects(result);
  return {
    isLoading: false,
    rows,
    data: rows,
    columns: result.columns.map((c) => ({ name: String(c.name), type: typeof c.type === "string" ? c.type : undefined })),
    rowCount: result.rowCount,
    truncated: result.truncated,
    durationMs: result.durationMs,
    error: null,
  };
}

/** The defaults the query's inputs schema declares, sent when nothing else gives a value. */
export function defaultInputs(query: Query): Record<string, unknown> {
  const schema = query.inputs as { properties?: Record<string, { default?: unknown }> } | undefined;
  const inputs: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(schema?.properties ?? {})) {
    if (property && typeof property === "object" && "default" in property) inputs[name] = property.default;
  }
  return inputs;
}

/** Every component of a page, children of containers, forms and modals included. */
export function allComponents(components: readonly Component[]): Component[] {
  return components.flatMap((c) => [c, ...allComponents(c.children ?? [])]);
}

/** What `components.<id>` exposes for each kind of component. */
export function exposedState(component: Component, state: ComponentState | undefined): Record<string, unknown> {
  const props = (component.props ?? {}) as Record<string, unknown>;
  const initial = typeof props.value === "string" && props.value.includes("{{") ? "" : (props.value ?? "");
  switch (component.type) {
    case "textInput":
      return { value: state?.value ?? initial };
    case "table":
      return {
        selectedRow: state?.selectedRow ?? null,
        selectedRowIndex: state?.selectedRowIndex ?? null,
        pageIndex: state?.pageIndex ?? 0,
      };
    default:
      return { ...state };
  }
}

export type ScopeInput = {
  page: Page;
  components: Record<string, ComponentState>;
  queries: Record<string, QueryState>;
  variables: Record<string, unknown>;
  user: { id: string; email: string } | null;
  location: { pathname: string; search: string };
};

export function buildScope(input: ScopeInput): Scope {
  const components: Record<string, unknown> = {};
  for (const component of allComponents(input.page.components)) {
    components[component.id] = exposedState(component, input.components[component.id]);
  }
  return {
    components,
    queries: input.queries,
    variables: input.variables,
    page: { id: input.page.id, name: input.page.name },
    url: { path: input.location.pathname, params: Object.fromEntries(new URLSearchParams(input.location.search)) },
    user: input.user ?? {},
  };
}

/**
 * Whether a component's props read a query that is running, found from the references of
 * their bindings: such a component shows a progress bar instead of stale data without notice.
 */
export function readsLoadingQuery(props: unknown, queries: Readonly<Record<string, QueryState>>): boolean {
  if (typeof props === "string") {
    return templateReferences(props).some(
      (ref) => ref.root === "queries" && ref.path[0] !== undefined && queries[ref.path[0]]?.isLoading === true,
    );
  }
  if (Array.isArray(props)) return props.some((p) => readsLoadingQuery(p, queries));
  if (props !== null && typeof props === "object") {
    return Object.values(props).some((p) => readsLoadingQuery(p, queries));
  }
  return false;
}
