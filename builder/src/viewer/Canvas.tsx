// Draws a page's components on the 24-column grid, read-only: positions come from the
// definition, props are resolved against the runtime's scope, and a prop whose binding fails
// shows its error inside the component's own cell (so nothing around it moves).
import type { CSSProperties } from "react";
import type { Component } from "../api/app-definition.gen";
import { resolveProps } from "../expressions";
import { COLUMNS, bottom } from "../layout/grid";
import { RENDERERS } from "../renderers";
import { readsLoadingQuery, type QueryState } from "./runtime";
import type { AppRuntime } from "./useAppRuntime";

/** Height of one grid row in pixels; components' `h` counts these. */
export const ROW_HEIGHT = 44;

export function Canvas({ runtime }: { runtime: AppRuntime }) {
  return <Grid components={runtime.page.components} columns={COLUMNS} runtime={runtime} />;
}

function Grid({ components, columns, runtime }: { components: readonly Component[]; columns: number; runtime: AppRuntime }) {
  // Modals open through events (a later phase); until then they take no room on the page.
  const visible = components.filter((c) => c.type !== "modal");
  const rows = Math.max(bottom(visible), 1);
  const style: CSSProperties = {
    gridTemplateColumns: `repeat(${columns}, minmax(0, 1fr))`,
    gridTemplateRows: `repeat(${rows}, ${ROW_HEIGHT}px)`,
  };
  return (
    <div className="grid" style={style}>
      {visible.map((c) => (
        <Cell key={c.id} component={c} columns={columns} runtime={runtime} />
      ))}
    </div>
  );
}

function Cell({ component, columns, runtime }: { component: Component; columns: number; runtime: AppRuntime }) {
  const { x, y, w, h } = component.layout;
  // A layout from elsewhere may not fit a narrower container: it is clipped to the grid.
  const left = Math.min(x, columns - 1);
  const width = Math.max(1, Math.min(w, columns - left));
  const style: CSSProperties = { gridColumn: `${left + 1} / span ${width}`, gridRow: `${y + 1} / span ${h}` };

  const resolved = resolveProps((component.props ?? {}) as Record<string, unknown>, runtime.scope);
  const errors = Object.entries(resolved.errors);
  const Renderer = RENDERERS[component.type];
  const loading = readsLoadingQuery(component.props ?? {}, runtime.scope.queries as Record<string, QueryState>);

  return (
    <div className="cell" style={style} data-component={component.id} data-type={component.type}>
      <Renderer
        component={component}
        props={{ loading, ...resolved.values }}
        state={runtime.componentState(component.id)}
        setState={(patch) => runtime.setComponentState(component.id, patch)}
        renderChildren={() => <Grid components={component.children ?? []} columns={width} runtime={runtime} />}
      />
      {errors.length > 0 ? (
        <div className="cell-errors" role="alert">
          {errors.map(([prop, error]) => (
            <div key={prop}>
              <span className="mono">{prop}</span>: {error}
            </div>
          ))}
        </div>
      ) : null}
      {loading ? <div className="cell-progress" role="progressbar" aria-label={`${component.id} is loading`} /> : null}
    </div>
  );
}
