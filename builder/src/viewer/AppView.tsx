// A running app, full-width: page tabs when it has several pages, then the page's grid, and
// the notifications its handlers show.
import type { Definition } from "./runtime";
import { Canvas } from "./Canvas";
import { useAppRuntime, type AppRuntime, type RuntimeTarget } from "./useAppRuntime";

/** Notifications from showAlert handlers, in a fixed corner so the page doesn't move. */
export function Alerts({ runtime }: { runtime: AppRuntime }) {
  return (
    <div className="alerts" aria-live="polite">
      {runtime.alerts.map((a) => (
        <div key={a.id} className={`alert alert-${a.level}`} role={a.level === "error" ? "alert" : "status"}>
          <span>{a.message}</span>
          <button type="button" aria-label="Dismiss" onClick={() => runtime.dismissAlert(a.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

export function RunningApp({
  definition,
  target,
  user,
}: {
  definition: Definition;
  target: RuntimeTarget;
  user: { id: string; email: string } | null;
}) {
  const runtime = useAppRuntime(definition, target, user);
  return (
    <div className="running-app">
      {runtime.pages.length > 1 ? (
        <nav className="page-tabs" aria-label="Pages">
          {runtime.pages.map((p) => (
            <button
              key={p.id}
              type="button"
              className={p.id === runtime.page.id ? "active" : undefined}
              aria-current={p.id === runtime.page.id ? "page" : undefined}
              onClick={() => runtime.setPage(p.id)}
            >
              {p.name}
            </button>
          ))}
        </nav>
      ) : null}
      <Canvas runtime={runtime} />
      <Alerts runtime={runtime} />
    </div>
  );
}
