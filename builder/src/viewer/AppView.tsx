// A running app, full-width: page tabs when it has several pages, then the page's grid.
import type { Definition } from "./runtime";
import { Canvas } from "./Canvas";
import { useAppRuntime, type RuntimeTarget } from "./useAppRuntime";

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
    </div>
  );
}
