// The app editor: palette and pages on the left, the canvas in the middle (with the queries
// panel below it), the property panel on the right. The draft lives in an undo history of
// definitions (useDraft.ts); a refused save is shown next to what caused it.
import { useCallback, useEffect, useMemo, useState } from "react";
import type { Component, ComponentType, Query } from "../api/app-definition.gen";
import { Alerts } from "../viewer/AppView";
import { allComponents } from "../viewer/runtime";
import { useAppRuntime } from "../viewer/useAppRuntime";
import { QueriesPanel } from "../queries/QueriesPanel";
import { CATALOG, TYPE_INFO } from "./catalog";
import { DRAG_TYPE, EditorGrid, ModalsStrip, type CanvasActions } from "./EditorCanvas";
import * as edit from "./edit";
import { deleteShortcutApplies } from "./keys";
import { PagesList } from "./PagesPanel";
import type { SaveProblemTarget } from "./problems";
import { PropertyPanel, type PanelNames } from "./PropertyPanel";
import { renameComponent, renameQuery } from "./rename";
import type { Draft } from "./useDraft";

type Definition = edit.Definition;

/** Whether a key event belongs to a text field, whose own shortcuts win. */
function inTextField(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

export function Editor({
  draft,
  ws,
  app,
  user,
  runsAllowed,
}: {
  draft: Draft;
  ws: string;
  app: string;
  user: { id: string; email: string };
  /** Whether the preview may run queries (runConsent.ts). */
  runsAllowed: boolean;
}) {
  const definition = draft.definition;
  const [pageId, setPageId] = useState(definition.pages[0].id);
  const [selected, setSelected] = useState<string | null>(null);
  const [showQueries, setShowQueries] = useState(true);
  const page = definition.pages.find((p) => p.id === pageId) ?? definition.pages[0];
  const runtime = useAppRuntime(definition, { ws, app, version: "draft" }, user, { runsAllowed, loadKey: draft.saved, preview: true, draftRevision: draft.revision });
  useEffect(() => runtime.setPage(page.id), [page.id, runtime.setPage]);

  const found = selected ? edit.findComponent(definition, selected) : null;
  const { change } = draft;

  const addOfType = useCallback(
    (type: string, parentId: string | null, columns: number, at?: { x: number; y: number }) => {
      const info = TYPE_INFO.get(type);
      if (!info) return;
      const id = edit.uniqueId(edit.allIds(definition), type);
      const component = edit.newComponent(type as ComponentType, id, { ...info.defaults }, info.size);
      const rect = at ? { ...at, ...info.size } : undefined;
      change((d) => edit.addComponent(d, page.id, parentId, component, columns, rect));
      setSelected(id);
    },
    [definition, change, page.id],
  );

  const actions: CanvasActions = {
    selected,
    invalid: new Set(draft.save.target?.kind === "component" ? [draft.save.target.id] : []),
    select: setSelected,
    drop: (type, parentId, columns, at) => addOfType(type, parentId, columns, at),
    move: (id, x, y) => change((d) => edit.moveComponent(d, id, x, y)),
    resize: (id, w, h) => change((d) => edit.resizeComponent(d, id, w, h)),
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (inTextField(e.target)) return;
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === "z") {
        e.preventDefault();
        if (e.shiftKey) draft.redo();
        else draft.undo();
      } else if (mod && e.key.toLowerCase() === "y") {
        e.preventDefault();
        draft.redo();
      } else if ((e.key === "Delete" || e.key === "Backspace") && selected && deleteShortcutApplies(e.target)) {
        e.preventDefault();
        change((d) => edit.removeComponent(d, selected));
        setSelected(null);
      } else if (e.key === "Escape") setSelected(null);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [draft, change, selected]);

  const everything = definition.pages.flatMap((p) => allComponents(p.components));
  const names: PanelNames = useMemo(
    () => ({
      queries: (definition.queries ?? []).map((q) => q.name),
      pages: definition.pages.map((p) => p.id),
      modals: everything.filter((c) => c.type === "modal").map((c) => c.id),
      components: everything.map((c) => c.id),
      variables: Object.keys(definition.variables ?? {}),
    }),
    [definition, everything],
  );

  const modals = allComponents(page.components).filter((c) => c.type === "modal");
  const editingModal = modals.find((m) => m.id === selected || (found && edit.findComponent({ pages: [{ ...page, components: [m] }] }, found.component.id))) ?? null;

  return (
    <div className={`editor${showQueries ? " with-queries" : ""}`}>
      <aside className="editor-left">
        <h2>Components</h2>
        <p className="field-hint">Drag onto the canvas, or click to add below.</p>
        <div className="palette">
          {CATALOG.map((t) => (
            <button
              key={t.type}
              type="button"
              draggable
              data-palette={t.type}
              onDragStart={(e) => {
                e.dataTransfer.setData(DRAG_TYPE, t.type);
                e.dataTransfer.effectAllowed = "copy";
              }}
              onClick={() => {
                const container = found?.component.children ? found.component : null;
                addOfType(t.type, container?.id ?? null, container ? Math.min(container.layout.w, 24) : 24);
              }}
            >
              {t.label}
            </button>
          ))}
        </div>
        <PagesList definition={definition} current={page.id} onSwitch={(id) => (setPageId(id), setSelected(null))} change={change} />
      </aside>
      <section className="editor-center">
        <div className="canvas-scroll" onPointerDown={(e) => e.target === e.currentTarget && setSelected(null)}>
          <EditorGrid components={page.components} columns={24} parentId={null} runtime={runtime} actions={actions} />
          <ModalsStrip modals={modals} runtime={runtime} actions={actions} editing={editingModal} />
        </div>
        <div className="queries-dock">
          <button type="button" className="dock-toggle" aria-expanded={showQueries} onClick={() => setShowQueries(!showQueries)}>
            Queries ({(definition.queries ?? []).length})
          </button>
          {showQueries ? (
            <QueriesPanel
              ws={ws}
              queries={definition.queries ?? []}
              scope={runtime.scope}
              names={names}
              problem={draft.save.target}
              onChange={(queries: Query[], key) => change((d) => ({ ...d, queries }), key)}
              onRename={(from, to) => change((d) => renameQuery(d, from, to))}
            />
          ) : null}
        </div>
      </section>
      <aside className="editor-right">
        {found ? (
          <PropertyPanel
            key={found.component.id}
            component={found.component}
            scope={runtime.scope}
            names={names}
            problem={draft.save.target}
            change={(update: (c: Component) => Component, key) => change((d) => edit.updateComponent(d, found.component.id, update), key)}
            rename={(to) => {
              const from = found.component.id;
              change((d) => renameComponent(d, from, to));
              // Still selected: follow the new name. Renamed on the way out (another
              // component was clicked): keep the new selection.
              setSelected((current) => (current === from ? to : current));
            }}
            remove={() => (change((d) => edit.removeComponent(d, found.component.id)), setSelected(null))}
            setLayout={(field, value) => {
              const l = found.component.layout;
              if (field === "x" || field === "y") change((d) => edit.moveComponent(d, found.component.id, field === "x" ? value : l.x, field === "y" ? value : l.y), `${found.component.id}.layout.${field}`);
              else change((d) => edit.resizeComponent(d, found.component.id, field === "w" ? value : l.w, field === "h" ? value : l.h), `${found.component.id}.layout.${field}`);
            }}
          />
        ) : (
          <p className="muted panel-empty">Select a component to edit its properties.</p>
        )}
      </aside>
      <Alerts runtime={runtime} />
    </div>
  );
}
