// The builder's canvas: the page drawn by the same renderers as the viewer, with an overlay on
// each component to select it, move it (drag the body) and resize it (drag the corner), and
// drop targets for new components from the palette. Positions snap to the grid: pointer
// offsets become cells, and the pure functions of src/layout settle the collisions when the
// pointer is released (edit.ts), so the preview while dragging is only a ghost.
import { useRef, useState, type CSSProperties, type DragEvent, type PointerEvent } from "react";
import type { Component } from "../api/app-definition.gen";
import { COLUMNS, bottom, clamp, type Rect } from "../layout/grid";
import { ComponentBody, GAP, ROW_HEIGHT, cellStyle } from "../viewer/Canvas";
import type { AppRuntime } from "../viewer/useAppRuntime";
import { OVERLAY_CLASS } from "./keys";

export const DRAG_TYPE = "application/x-lathe-component";
/** Empty rows below the last component, so there is always somewhere to drop. */
const SPARE_ROWS = 4;

export type CanvasActions = {
  selected: string | null;
  invalid: ReadonlySet<string>;
  select(id: string | null): void;
  drop(type: string, parentId: string | null, columns: number, at: Rect): void;
  move(id: string, x: number, y: number): void;
  resize(id: string, w: number, h: number): void;
};

type Drag = { id: string; mode: "move" | "resize"; startX: number; startY: number; origin: Rect; colPx: number; rowPx: number; columns: number };

export function EditorGrid({
  components,
  columns,
  parentId,
  runtime,
  actions,
}: {
  components: readonly Component[];
  columns: number;
  parentId: string | null;
  runtime: AppRuntime;
  actions: CanvasActions;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  const [ghost, setGhost] = useState<Rect | null>(null);
  const [dropping, setDropping] = useState(false);
  const visible = components.filter((c) => c.type !== "modal");
  const rows = bottom(visible) + SPARE_ROWS;
  const style: CSSProperties = {
    gridTemplateColumns: `repeat(${columns}, minmax(0, 1fr))`,
    gridTemplateRows: `repeat(${rows}, ${ROW_HEIGHT}px)`,
  };

  const pitch = () => {
    const width = ref.current?.getBoundingClientRect().width ?? 0;
    return { colPx: (width + GAP) / columns, rowPx: ROW_HEIGHT + GAP };
  };

  const onDrop = (e: DragEvent) => {
    const type = e.dataTransfer.getData(DRAG_TYPE);
    setDropping(false);
    if (!type || !ref.current) return;
    e.preventDefault();
    e.stopPropagation();
    const box = ref.current.getBoundingClientRect();
    const { colPx, rowPx } = pitch();
    const x = Math.floor((e.clientX - box.left) / colPx);
    const y = Math.floor((e.clientY - box.top) / rowPx);
    actions.drop(type, parentId, columns, { x, y, w: 0, h: 0 });
  };

  const start = (e: PointerEvent, component: Component, mode: Drag["mode"]) => {
    if (e.button !== 0) return;
    e.stopPropagation();
    actions.select(component.id);
    (e.target as Element).setPointerCapture(e.pointerId);
    setDrag({ id: component.id, mode, startX: e.clientX, startY: e.clientY, origin: component.layout, columns, ...pitch() });
  };
  const moveTo = (e: PointerEvent) => {
    if (!drag) return;
    const dx = Math.round((e.clientX - drag.startX) / drag.colPx);
    const dy = Math.round((e.clientY - drag.startY) / drag.rowPx);
    const o = drag.origin;
    setGhost(
      drag.mode === "move"
        ? clamp({ ...o, x: o.x + dx, y: o.y + dy }, drag.columns)
        : clamp({ ...o, w: Math.min(o.w + dx, drag.columns - o.x), h: o.h + dy }, drag.columns),
    );
  };
  const end = () => {
    if (drag && ghost) {
      if (drag.mode === "move" && (ghost.x !== drag.origin.x || ghost.y !== drag.origin.y)) actions.move(drag.id, ghost.x, ghost.y);
      if (drag.mode === "resize" && (ghost.w !== drag.origin.w || ghost.h !== drag.origin.h)) actions.resize(drag.id, ghost.w, ghost.h);
    }
    setDrag(null);
    setGhost(null);
  };

  return (
    <div
      ref={ref}
      className={`grid editor-grid${dropping ? " dropping" : ""}`}
      style={style}
      data-testid={parentId === null ? "canvas" : `children-of-${parentId}`}
      onDragOver={(e) => {
        if (!e.dataTransfer.types.includes(DRAG_TYPE)) return;
        e.preventDefault();
        e.stopPropagation();
        setDropping(true);
      }}
      onDragLeave={() => setDropping(false)}
      onDrop={onDrop}
      onPointerDown={(e) => e.target === e.currentTarget && actions.select(parentId)}
    >
      {visible.map((c) => {
        const width = Math.max(1, Math.min(c.layout.w, columns - Math.min(c.layout.x, columns - 1)));
        const selected = actions.selected === c.id;
        return (
          <div
            key={c.id}
            className={`cell editor-cell${selected ? " selected" : ""}${actions.invalid.has(c.id) ? " invalid" : ""}${drag?.id === c.id ? " dragging" : ""}`}
            style={cellStyle(c, columns)}
            data-component={c.id}
            data-type={c.type}
          >
            <div className="editor-body">
              <ComponentBody
                component={c}
                width={width}
                runtime={runtime}
                childGrid={(children, cols) => <EditorGrid components={children} columns={cols} parentId={c.id} runtime={runtime} actions={actions} />}
              />
            </div>
            {/* Containers let pointer events through to their children's cells. */}
            <div
              className={`${OVERLAY_CLASS}${c.children ? " frame" : ""}`}
              role="button"
              tabIndex={0}
              aria-label={`Select ${c.id}`}
              aria-pressed={selected}
              onPointerDown={(e) => start(e, c, "move")}
              onKeyDown={(e) => {
                // A role=button answers Enter and Space like one: they select the component.
                if (e.key !== "Enter" && e.key !== " ") return;
                e.preventDefault();
                e.stopPropagation();
                actions.select(c.id);
              }}
              onPointerMove={moveTo}
              onPointerUp={end}
              onPointerCancel={end}
            >
              <span className="editor-tag">{c.id}</span>
            </div>
            {selected ? (
              <div
                className="resize-handle"
                aria-label={`Resize ${c.id}`}
                onPointerDown={(e) => start(e, c, "resize")}
                onPointerMove={moveTo}
                onPointerUp={end}
                onPointerCancel={end}
              />
            ) : null}
          </div>
        );
      })}
      {ghost ? <div className="editor-ghost" style={{ gridColumn: `${ghost.x + 1} / span ${ghost.w}`, gridRow: `${ghost.y + 1} / span ${ghost.h}` }} /> : null}
    </div>
  );
}

/** Modals of the page as a strip of tabs; the open one is edited in a frame of its width. */
export function ModalsStrip({
  modals,
  runtime,
  actions,
  editing,
}: {
  modals: readonly Component[];
  runtime: AppRuntime;
  actions: CanvasActions;
  editing: Component | null;
}) {
  if (modals.length === 0) return null;
  return (
    <div className="modals-strip">
      <div className="modals-tabs">
        <span className="muted">Modals:</span>
        {modals.map((m) => (
          <button key={m.id} type="button" className={editing?.id === m.id ? "active" : undefined} onClick={() => actions.select(m.id)}>
            {m.id}
          </button>
        ))}
      </div>
      {editing ? (
        <div className="modal-edit" style={{ width: `${(Math.min(editing.layout.w, COLUMNS) / COLUMNS) * 100}%` }} data-component={editing.id}>
          <div className="modal-head">{String((editing.props ?? {}).title ?? editing.id)}</div>
          <EditorGrid components={editing.children ?? []} columns={Math.min(editing.layout.w, COLUMNS)} parentId={editing.id} runtime={runtime} actions={actions} />
        </div>
      ) : null}
    </div>
  );
}
