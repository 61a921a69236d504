// Holds a running app's state (component state, variables, query results, open modals,
// alerts, current page) and runs its queries through the API: the released version's for
// viewers, the draft's in the builder's preview. Queries marked runOnLoad start when the app
// opens. Event handlers run through actions.ts against this state.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useLocation } from "react-router-dom";
import type { EventHandler } from "../api/app-definition.gen";
import { api, call, problemMessage } from "../api/client";
import type { Scope } from "../expressions";
import { runHandlers, type ActionContext, type AlertLevel } from "./actions";
import {
  allComponents,
  buildScope,
  defaultInputs,
  IDLE_QUERY,
  queryResult,
  type ComponentState,
  type Definition,
  type Page,
  type Query,
  type QueryState,
} from "./runtime";

/** `public`: a public app's release, run anonymously through `/api/v1/public/…`. */
export type RuntimeTarget = { ws: string; app: string; version: "released" | "draft" | "public" };

/** How the builder's preview differs from the viewer. The viewer passes none. */
export type RuntimeOptions = {
  /** False holds every query run (the builder, until its user agrees to run a draft). */
  runsAllowed?: boolean;
  /**
   * The on-load queries run when the app opens, when runs become allowed, and whenever this
   * changes (the builder passes the saved draft: its preview runs what the server holds, so
   * editing alone runs nothing).
   */
  loadKey?: unknown;
  /** The builder's preview: `openUrl` names the address instead of leaving the builder. */
  preview?: boolean;
  /**
   * The draft revision the preview holds: draft runs send it, and the server refuses them
   * (409) once someone saved a newer draft, so what runs is what its user agreed to.
   */
  draftRevision?: number | null;
};

/**
 * How many query runs may wait on each other's handlers at once: a query whose onSuccess
 * runs itself (directly or round a cycle) stops here instead of running forever.
 */
export const MAX_HANDLER_CHAIN = 20;
/**
 * Runs that query handlers may start in any 10 seconds: handlers that each start several
 * runs branch, so the depth limit alone would allow millions. A person's clicks and typing
 * are not counted, only runs started while query handlers run.
 */
export const MAX_HANDLER_RUNS = 50;
const HANDLER_RUNS_WINDOW_MS = 10_000;
export const HELD_MESSAGE = "not run: this draft's queries run only after you choose to run them";
export type Alert = { id: number; message: string; level: AlertLevel };

export type AppRuntime = {
  page: Page;
  pages: readonly Page[];
  setPage(id: string): void;
  scope: Scope;
  componentState(id: string): ComponentState;
  setComponentState(id: string, patch: ComponentState): void;
  runQuery(name: string, inputs?: Record<string, unknown>): Promise<boolean>;
  /** Runs the handlers a component (or query) declares for `event`. */
  fire(handlers: readonly EventHandler[] | undefined, event: string): Promise<void>;
  openModals: ReadonlySet<string>;
  closeModal(id: string): void;
  alerts: readonly Alert[];
  dismissAlert(id: number): void;
};

/** Success and failure handlers of a query (`onSuccess`, `onFailure`); see docs in the README. */
export function queryHandlers(query: Query): EventHandler[] {
  const events = (query as Query & { events?: unknown }).events;
  return Array.isArray(events) ? (events as EventHandler[]) : [];
}

type State = {
  components: Record<string, ComponentState>;
  variables: Record<string, unknown>;
  queries: Record<string, QueryState>;
};

const ALERT_MS = 6000;

export function useAppRuntime(
  definition: Definition,
  target: RuntimeTarget,
  user: { id: string; email: string } | null,
  options: RuntimeOptions = {},
): AppRuntime {
  const { runsAllowed = true, loadKey, preview = false, draftRevision = null } = options;
  const location = useLocation();
  const [pageId, setPageId] = useState(definition.pages[0].id);
  // The state is kept in a ref and mirrored into React state to render: handlers of one event
  // run in a row (a row click sets the selected row, then a variable from it, then opens a
  // modal), and each must read what the previous one wrote before React renders again.
  const stateRef = useRef<State>({
    components: {},
    variables: { ...(definition.variables ?? {}) },
    queries: Object.fromEntries((definition.queries ?? []).map((q) => [q.name, IDLE_QUERY])),
  });
  const [state, setState] = useState<State>(stateRef.current);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const alertIds = useRef(0);
  // Only the newest run of a query may write its result, so a slow older answer can't
  // replace a newer one.
  const runIds = useRef(new Map<string, number>());
  // Runs whose handlers are still running; see MAX_HANDLER_CHAIN.
  const chain = useRef(0);
  // When the runs that query handlers started began; see MAX_HANDLER_RUNS.
  const handlerRuns = useRef<number[]>([]);

  const write = useCallback((change: (s: State) => State) => {
    stateRef.current = change(stateRef.current);
    setState(stateRef.current);
  }, []);

  // Read through a ref so that runQuery keeps its identity while the builder edits the
  // definition: runOnLoad queries then re-run only when the queries change, not on every edit.
  const definitionRef = useRef(definition);
  definitionRef.current = definition;

  const page = definition.pages.find((p) => p.id === pageId) ?? definition.pages[0];
  const pageRef = useRef(page);
  pageRef.current = page;
  const locationRef = useRef(location);
  locationRef.current = location;

  // A query added in the builder after the app opened reads as idle until it runs.
  const withIdle = (queries: Record<string, QueryState>) => {
    const missing = (definitionRef.current.queries ?? []).filter((q) => !(q.name in queries));
    return missing.length === 0 ? queries : { ...Object.fromEntries(missing.map((q) => [q.name, IDLE_QUERY])), ...queries };
  };

  const currentScope = useCallback(
    () => buildScope({ page: pageRef.current, ...stateRef.current, queries: withIdle(stateRef.current.queries), user, location: locationRef.current }),
    [user],
  );

  const showAlert = useCallback((message: string, level: AlertLevel) => {
    const id = ++alertIds.current;
    setAlerts((list) => [...list.slice(-4), { id, message, level }]);
    window.setTimeout(() => setAlerts((list) => list.filter((a) => a.id !== id)), ALERT_MS);
  }, []);

  const setComponentState = useCallback(
    (id: string, patch: ComponentState) => write((s) => ({ ...s, components: { ...s.components, [id]: { ...s.components[id], ...patch } } })),
    [write],
  );

  const setModal = useCallback(
    (id: string, open: boolean) => {
      write((s) => {
        const components = { ...s.components, [id]: { ...s.components[id], open } };
        // Opening a modal starts its inputs afresh from their bindings, so an edit form shows
        // the row just selected rather than what was typed for the previous one.
        if (open) {
          const modal = allComponents(pageRef.current.components).find((c) => c.id === id);
          for (const child of allComponents(modal?.children ?? [])) delete components[child.id];
        }
        return { ...s, components };
      });
    },
    [write],
  );

  const contextRef = useRef<ActionContext | null>(null);

  const runQuery = useCallback(
    async (name: string, inputs?: Record<string, unknown>): Promise<boolean> => {
      const query = (definitionRef.current.queries ?? []).find((q) => q.name === name);
      if (!query) return false;
      if (!runsAllowed) {
        write((s) => ({ ...s, queries: { ...s.queries, [name]: { ...(s.queries[name] ?? IDLE_QUERY), isLoading: false, error: HELD_MESSAGE } } }));
        return false;
      }
      if (chain.current >= MAX_HANDLER_CHAIN) {
        showAlert(`Stopped before running "${name}": query handlers started ${MAX_HANDLER_CHAIN} runs that wait on each other (a loop?)`, "error");
        return false;
      }
      if (chain.current > 0) {
        const now = Date.now();
        handlerRuns.current = handlerRuns.current.filter((t) => now - t < HANDLER_RUNS_WINDOW_MS);
        if (handlerRuns.current.length >= MAX_HANDLER_RUNS) {
          showAlert(`Stopped before running "${name}": query handlers started ${MAX_HANDLER_RUNS} runs within 10 seconds (a loop?)`, "error");
          return false;
        }
        handlerRuns.current.push(now);
      }
      const runId = (runIds.current.get(name) ?? 0) + 1;
      runIds.current.set(name, runId);
      write((s) => ({ ...s, queries: { ...s.queries, [name]: { ...(s.queries[name] ?? IDLE_QUERY), isLoading: true } } }));

      const body = { inputs: { ...defaultInputs(query), ...inputs } };
      const result = await call(
        target.version === "public"
          ? api.POST("/api/v1/public/workspaces/{ws}/apps/{app}/queries/{name}/run", { params: { path: { ws: target.ws, app: target.app, name } }, body })
          : api.POST("/api/v1/workspaces/{ws}/apps/{app}/queries/{name}/run", {
          params: { path: { ws: target.ws, app: target.app, name, version: null } },
          body,
          // The OpenAPI document lists `version` as a path parameter, but the server reads it
          // from the query string (`?version=draft`); it is sent there until the document is
          // corrected.
          querySerializer: () => (target.version !== "draft" ? "" : draftRevision === null ? "version=draft" : `version=draft&revision=${draftRevision}`),
        }),
      );
      if (runIds.current.get(name) !== runId) return result.ok;
      write((s) => ({
        ...s,
        queries: {
          ...s.queries,
          [name]: result.ok
            ? queryResult(result.data)
            : { ...(s.queries[name] ?? IDLE_QUERY), isLoading: false, error: problemMessage(result.problem) },
        },
      }));
      const context = contextRef.current;
      if (context) {
        chain.current++;
        try {
          await runHandlers(queryHandlers(query), result.ok ? "onSuccess" : "onFailure", context);
        } finally {
          chain.current--;
        }
      }
      return result.ok;
    },
    [target.ws, target.app, target.version, write, runsAllowed, showAlert, draftRevision],
  );

  const context: ActionContext = useMemo(
    () => ({
      scope: currentScope,
      runQuery,
      setVariable: (name, value) => write((s) => ({ ...s, variables: { ...s.variables, [name]: value } })),
      showAlert,
      navigate: (id) => {
        if (definition.pages.some((p) => p.id === id)) setPageId(id);
        else throw new Error(`no page "${id}"`);
      },
      openUrl: (url, newTab) => {
        // The builder stays where it is: leaving it would drop unsaved work, and a draft
        // someone else wrote must not send its reviewer elsewhere.
        if (preview) showAlert(`In the released app this opens ${url}`, "info");
        // noopener: the opened page gets no handle on the app's window.
        else if (newTab) window.open(url, "_blank", "noopener,noreferrer");
        else window.location.assign(url);
      },
      openModal: (id) => setModal(id, true),
      closeModal: (id) => setModal(id, false),
      setComponentValue: (id, value) => setComponentState(id, { value }),
    }),
    [currentScope, runQuery, showAlert, definition.pages, write, setModal, setComponentState, preview],
  );
  contextRef.current = context;

  const fire = useCallback(
    async (handlers: readonly EventHandler[] | undefined, event: string) => {
      await runHandlers(handlers, event, context);
    },
    [context],
  );

  useEffect(() => {
    if (!runsAllowed) return;
    for (const query of definitionRef.current.queries ?? []) {
      if (query.runOnLoad) void runQuery(query.name);
    }
  }, [loadKey, runsAllowed, runQuery]);

  const scope = useMemo(
    () => buildScope({ page, ...state, queries: withIdle(state.queries), user, location }),
    // withIdle reads the definition through its ref; the definition is a dependency here.
    [page, state, user, location, definition],
  );
  const openModals = useMemo(
    () => new Set(Object.entries(state.components).filter(([, c]) => c.open === true).map(([id]) => id)),
    [state.components],
  );
  const componentState = useCallback((id: string) => state.components[id] ?? {}, [state.components]);

  return {
    page,
    pages: definition.pages,
    setPage: setPageId,
    scope,
    componentState,
    setComponentState,
    runQuery,
    fire,
    openModals,
    closeModal: (id) => setModal(id, false),
    alerts,
    dismissAlert: (id) => setAlerts((list) => list.filter((a) => a.id !== id)),
  };
}
