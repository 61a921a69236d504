// The state of a running app and the scope its bindings read: component values, query
// results, variables, the page, the URL and the user. Pure functions; the hook that holds the
// state is useAppRuntime.ts.
import type { Component, LatheAppDefinition, Page, Query } from "../api/app-definition.gen";
import type { Schemas } from "../api/client";
import { resolveTemplate, templateReferences, type Scope } from "../expressions";

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

/** Component types whose `value` the user edits; their `props.value` is the initial value. */
export const INPUT_TYPES: ReadonlySet<string> = new Set(["textInput", "numberInput", "select", "checkbox", "datePicker"]);

/**
 * What `components.<id>` exposes for each kind of component. `initial` is the component's
 * resolved `props.value` (see buildScope), used until the user changes the value.
 */
export function exposedState(component: Component, state: ComponentState | undefined, initial?: unknown): Record<string, unknown> {
  const props = (component.props ?? {}) as Record<string, unknown>;
  const literal = typeof props.value === "string" && props.value.includes("{{") ? undefined : props.value;
  const fallback = initial !== undefined ? initial : literal;
  switch (component.type) {
    case "textInput":
    case "datePicker":
      return { value: state?.value ?? fallback ?? "" };
    case "numberInput":
      return { value: state?.value ?? fallback ?? null };
    case "select":
      return { value: state?.value ?? fallback ?? null };
    case "checkbox":
      return { value: state?.value ?? fallback === true };
    case "table": {
      const pageIndex = typeof state?.pageIndex === "number" ? state.pageIndex : 0;
      const limit = typeof props.pageSize === "number" && props.pageSize >= 1 ? Math.floor(props.pageSize) : 10;
      return {
        selectedRow: state?.selectedRow ?? null,
        selectedRowIndex: state?.selectedRowIndex ?? null,
        pageIndex,
        // For server-side pagination: the page (from 1), rows per page and the offset, which
        // a query takes as inputs (`limit {{ inputs.limit }} offset {{ inputs.offset }}`).
        page: pageIndex + 1,
        limit,
        offset: pageIndex * limit,
        searchText: state?.searchText ?? "",
        sortColumn: state?.sortColumn ?? null,
        sortDirection: state?.sortDirection ?? null,
      };
    }
    case "modal":
      return { open: state?.open === true };
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
  const all = allComponents(input.page.components);
  const components: Record<string, unknown> = {};
  for (const component of all) components[component.id] = exposedState(component, input.components[component.id]);
  const scope = {
    components,
    queries: input.queries,
    variables: input.variables,
    page: { id: input.page.id, name: input.page.name },
    url: { path: input.location.pathname, params: Object.fromEntries(new URLSearchParams(input.location.search)) },
    user: input.user ?? {},
  };

  // An input whose initial value is a binding (`{{ variables.selected.name }}`, the edit
  // form's) exposes that binding's value until the user types: resolved once against the
  // scope above, so a binding that reads another input sees that input's own value.
  for (const component of all) {
    const raw = (component.props ?? {}).value;
    if (!INPUT_TYPES.has(component.type) || typeof raw !== "string" || !raw.includes("{{")) continue;
    const resolved = resolveTemplate(raw, scope);
    components[component.id] = exposedState(component, input.components[component.id], resolved.ok ? resolved.value : undefined);
  }
  return scope;
}

/** The queries a component's props read, found from the references of their bindings. */
export function queriesReadBy(props: unknown, into: Set<string> = new Set()): Set<string> {
  if (typeof props === "string") {
    for (const ref of templateReferences(props)) {
      if (ref.root === "queries" && ref.path[0] !== undefined) into.add(ref.path[0]);
    }
  } else if (Array.isArray(props)) {
    for (const p of props) queriesReadBy(p, into);
  } else if (props !== null && typeof props === "object") {
    for (const p of Object.values(props)) queriesReadBy(p, into);
  }
  return into;
}

/**
 * Whether a component's props read a query that is running: such a component shows a
 * progress bar instead of stale data without notice.
 */
export function readsLoadingQuery(props: unknown, queries: Readonly<Record<string, QueryState>>): boolean {
  return [...queriesReadBy(props)].some((name) => queries[name]?.isLoading === true);
}

/**
 * The queries a component's props read whose last run failed, with their errors: the
 * component shows them in its cell, so that a table fed by a broken query doesn't pass for
 * an empty result.
 */
export function failedQueriesReadBy(
  props: unknown,
  queries: Readonly<Record<string, QueryState>>,
): [name: string, error: string][] {
  return [...queriesReadBy(props)].flatMap((name) => {
    const error = queries[name]?.error;
    return typeof error === "string" && !queries[name]?.isLoading ? [[name, error] as [string, string]] : [];
  });
}
