// Loading state for reads: what a page shows while a call is in flight, after it failed, and
// once it answered. Stale answers (a search typed faster than the server replies) are dropped.
import { useCallback, useEffect, useRef, useState } from "react";
import type { ApiResult, Problem } from "./client";

export type Load<T> =
  | { status: "loading"; data?: T }
  | { status: "error"; problem: Problem; data?: T }
  | { status: "ok"; data: T };

/**
 * Runs `fetcher` now and whenever `deps` change. While reloading, the previous data stays
 * available (`data` on the loading state), so lists don't collapse and jump.
 */
export function useLoad<T>(fetcher: () => Promise<ApiResult<T>>, deps: readonly unknown[]) {
  const [state, setState] = useState<Load<T>>({ status: "loading" });
  const generation = useRef(0);

  // The caller's deps decide when to fetch again; fetcher itself is a fresh closure each render.
  const run = useCallback(fetcher, deps);

  const reload = useCallback(() => {
    const mine = ++generation.current;
    setState((previous) => ({ status: "loading", data: previous.data }));
    void run().then((result) => {
      if (mine !== generation.current) return;
      setState((previous) =>
        result.ok
          ? { status: "ok", data: result.data }
          : { status: "error", problem: result.problem, data: previous.data },
      );
    });
  }, [run]);

  useEffect(() => {
    reload();
    return () => {
      // A late answer for an unmounted page is ignored.
      generation.current++;
    };
  }, [reload]);

  return { state, reload };
}
