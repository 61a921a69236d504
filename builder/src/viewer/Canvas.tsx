// Draws a page's components on the 24-column grid, read-only: positions come from the
// definition, props are resolved against the runtime's scope, and a prop whose binding fails,
// or a query the component reads whose last run failed, shows its error inside the
// component's own cell (so nothing around it moves). Modals take no room on the page; an
// open one is drawn over it.
import type { CSSProperties } from "react";
import type { Component } from "../api/app-definition.gen";
import { displayText, resolveProps } from "../expressions";
import { COLUMNS, bottom } from "../layout/grid";
import { RENDERERS } from "../renderers";
import { allComponents, failedQueriesReadBy, readsLoadingQuery, type QueryState } from "./runtime";
import type { AppRuntime } from "./useAppRuntime";

/** Height of one grid row in pixels; components' `h` counts these. */
export const ROW_HEIGHT = 44;
/** Space between cells, in pixels (the `.grid` gap). */
export const GAP = 8;

export function Canvas({ runtime }: { runtime: AppRuntime }) {
  const modals = allComponents(runtime.page.components).filter((c) => c.type === "modal" && runtime.openModals.has(c.id));
  return (
    <>
      <Grid components={runtime.page.components} columns={COLUMNS} runtime={runtime} />
      {modals.map((modal) => (
        <ModalFrame key={modal.id} modal={modal} runtime={runtime} />
      ))}
    </>
  );
}

function ModalFrame({ modal, runtime }: { modal: Component; runtime: AppRuntime }) {
  const resolved = resolveProps((modal.props ?? {}) as Record<string, unknown>, runtime.scope);
  const width = Math.max(1, Math.min(modal.layout.w, COLUMNS));
  const close = () => {
    runtime.closeModal(modal.id);
    void runtime.fire(modal.events, "onClose");
  };
  return (
    <div className="modal-backdrop" onClick={(e) => e.target === e.currentTarget && close()}>
      <div
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-label={displayText(resolved.values.title) || modal.id}
        data-component={modal.id}
        style={{ width: `${(width / COLUMNS) * 100}%` }}
        onKeyDown={(e) => e.key === "Escape" && close()}
      >
        <div className="modal-head">
          <span>{displayText(resolved.values.title)}</span>
          <button type="button" aria-label="Close" onClick={close}>
            ×
          </button>
        </div>
        <Grid components={modal.children ?? []} columns={width} runtime={runtime} />
      </div>
    </div>
  );
}

function Grid({ components, columns, runtime }: { components: readonly Component[]; columns: number; runtime: AppRuntime }) {
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

/** Grid placement of a component; a layout from elsewhere that doesn't fit is clipped. */
export function cellStyle(component: Component, columns: number): CSSProperties {
  const { x, y, w, h } = component.layout;
  const left = Math.min(x, columns - 1);
  const width = Math.max(1, Math.min(w, columns - left));
  return { gridColumn: `${left + 1} / span ${width}`, gridRow: `${y + 1} / span ${h}` };
}

export function Cell({ component, columns, runtime }: { component: Component; columns: number; runtime: AppRuntime }) {
  const width = Math.max(1, Math.min(component.layout.w, columns - Math.min(component.layout.x, columns - 1)));
  return (
    <div className="cell" style={cellStyle(component, columns)} data-component={component.id} data-type={component.type}>
      <ComponentBody component={component} width={width} runtime={runtime} childGrid={(children, cols) => <Grid components={children} columns={cols} runtime={runtime} />} />
    </div>
  );
}

/**
 * A component drawn by its renderer, with its binding errors and progress bar. The builder
 * passes its own `childGrid` so children of containers are editable there.
 */
export function ComponentBody({
  component,
  width,
  runtime,
  childGrid,
}: {
  component: Component;
  width: number;
  runtime: AppRuntime;
  childGrid(children: readonly Component[], columns: number): React.ReactNode;
}) {
  const resolved = resolveProps((component.props ?? {}) as Record<string, unknown>, runtime.scope);
  const errors = Object.entries(resolved.errors);
  const Renderer = RENDERERS[component.type];
  const queries = runtime.scope.queries as Record<string, QueryState>;
  const loading = readsLoadingQuery(component.props ?? {}, queries);
  const failed = failedQueriesReadBy(component.props ?? {}, queries);

  return (
    <>
      <Renderer
        component={component}
        props={{ loading, ...resolved.values }}
        state={runtime.componentState(component.id)}
        setState={(patch) => runtime.setComponentState(component.id, patch)}
        fire={(event) => void runtime.fire(component.events, event)}
        renderChildren={() => childGrid(component.children ?? [], width)}
      />
      {errors.length + failed.length > 0 ? (
        <div className="cell-errors" role="alert">
          {failed.map(([name, error]) => (
            <div key={`query:${name}`}>
              query <span className="mono">{name}</span> failed: {error}
            </div>
          ))}
          {errors.map(([prop, error]) => (
            <div key={prop}>
              <span className="mono">{prop}</span>: {error}
            </div>
          ))}
        </div>
      ) : null}
      {loading ? <div className="cell-progress" role="progressbar" aria-label={`${component.id} is loading`} /> : null}
    </>
  );
}
