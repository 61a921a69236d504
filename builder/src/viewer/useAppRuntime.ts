// Holds a running app's state (component state, variables, query results, current page) and
// runs its queries through the API: the released version's for viewers, the draft's in the
// builder's preview. Queries marked runOnLoad start when the app opens.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useLocation } from "react-router-dom";
import { api, call, problemMessage } from "../api/client";
import type { Scope } from "../expressions";
import {
  buildScope,
  defaultInputs,
  IDLE_QUERY,
  queryResult,
  type ComponentState,
  type Definition,
  type Page,
  type QueryState,
} from "./runtime";

export type RuntimeTarget = { ws: string; app: string; version: "released" | "draft" };

export type AppRuntime = {
  page: Page;
  pages: readonly Page[];
  setPage(id: string): void;
  scope: Scope;
  componentState(id: string): ComponentState;
  setComponentState(id: string, patch: ComponentState): void;
  runQuery(name: string, inputs?: Record<string, unknown>): Promise<void>;
};

export function useAppRuntime(
  definition: Definition,
  target: RuntimeTarget,
  user: { id: string; email: string } | null,
): AppRuntime {
  const location = useLocation();
  const [pageId, setPageId] = useState(definition.pages[0].id);
  const [components, setComponents] = useState<Record<string, ComponentState>>({});
  const [variables] = useState<Record<string, unknown>>(() => ({ ...(definition.variables ?? {}) }));
  const [queries, setQueries] = useState<Record<string, QueryState>>(() =>
    Object.fromEntries((definition.queries ?? []).map((q) => [q.name, IDLE_QUERY])),
  );
  // Only the newest run of a query may write its result, so a slow older answer can't
  // replace a newer one.
  const runIds = useRef(new Map<string, number>());

  const runQuery = useCallback(
    async (name: string, inputs?: Record<string, unknown>) => {
      const query = (definition.queries ?? []).find((q) => q.name === name);
      if (!query) return;
      const runId = (runIds.current.get(name) ?? 0) + 1;
      runIds.current.set(name, runId);
      setQueries((qs) => ({ ...qs, [name]: { ...(qs[name] ?? IDLE_QUERY), isLoading: true } }));

      const result = await call(
        api.POST("/api/v1/workspaces/{ws}/apps/{app}/queries/{name}/run", {
          params: { path: { ws: target.ws, app: target.app, name, version: null } },
          body: { inputs: inputs ?? defaultInputs(query) },
          // The OpenAPI document lists `version` as a path parameter, but the server reads it
          // from the query string (`?version=draft`); it is sent there until the document is
          // corrected.
          querySerializer: () => (target.version === "draft" ? "version=draft" : ""),
        }),
      );
      if (runIds.current.get(name) !== runId) return;
      setQueries((qs) => ({
        ...qs,
        [name]: result.ok
          ? queryResult(result.data)
          : { ...(qs[name] ?? IDLE_QUERY), isLoading: false, error: problemMessage(result.problem) },
      }));
    },
    [definition, target.ws, target.app, target.version],
  );

  useEffect(() => {
    for (const query of definition.queries ?? []) {
      if (query.runOnLoad) void runQuery(query.name);
    }
  }, [definition, runQuery]);

  const page = definition.pages.find((p) => p.id === pageId) ?? definition.pages[0];
  const scope = useMemo(
    () => buildScope({ page, components, queries, variables, user, location }),
    [page, components, queries, variables, user, location],
  );

  const setComponentState = useCallback((id: string, patch: ComponentState) => {
    setComponents((all) => ({ ...all, [id]: { ...all[id], ...patch } }));
  }, []);
  const componentState = useCallback((id: string) => components[id] ?? {}, [components]);

  return { page, pages: definition.pages, setPage: setPageId, scope, componentState, setComponentState, runQuery };
}
