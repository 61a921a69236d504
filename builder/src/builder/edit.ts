// Changes to a draft definition, as pure functions returning a new definition (the undo stack
// keeps the old ones). Components are addressed by id, which is unique across the whole app.
import type { Component, ComponentType, LatheAppDefinition, Page } from "../api/app-definition.gen";
import { COLUMNS, move, nextFreeRect, place, remove, resize, type Box, type Rect } from "../layout/grid";

export type Definition = LatheAppDefinition;
export const CONTAINER_TYPES: ReadonlySet<string> = new Set(["container", "form", "modal"]);

/** Every component id in the app, children and other pages included. */
export function allIds(definition: Definition): Set<string> {
  const ids = new Set<string>();
  const walk = (components: readonly Component[]) => {
    for (const c of components) {
      ids.add(c.id);
      walk(c.children ?? []);
    }
  };
  for (const page of definition.pages) walk(page.components);
  return ids;
}

/** `table1`, `table2`, …: the first free id for a new component of a type. */
export function uniqueId(taken: ReadonlySet<string>, base: string): string {
  for (let n = 1; ; n++) if (!taken.has(`${base}${n}`)) return `${base}${n}`;
}

export type Found = { component: Component; page: Page; parent: Component | null; siblings: readonly Component[]; columns: number };

export function findComponent(definition: Definition, id: string): Found | null {
  for (const page of definition.pages) {
    const found = search(page.components, id, page, null, COLUMNS);
    if (found) return found;
  }
  return null;
}

function search(list: readonly Component[], id: string, page: Page, parent: Component | null, columns: number): Found | null {
  for (const c of list) {
    if (c.id === id) return { component: c, page, parent, siblings: list, columns };
    const inner = search(c.children ?? [], id, page, c, Math.min(c.layout.w, columns));
    if (inner) return inner;
  }
  return null;
}

// Rewrites the list that holds `parentId`'s children (null: the page's top level).
function mapList(definition: Definition, pageId: string, parentId: string | null, change: (list: Component[]) => Component[]): Definition {
  const rewrite = (list: readonly Component[]): Component[] =>
    list.map((c) => (c.id === parentId ? { ...c, children: change([...(c.children ?? [])]) } : c.children ? { ...c, children: rewrite(c.children) } : c));
  return {
    ...definition,
    pages: definition.pages.map((p) =>
      p.id !== pageId ? p : { ...p, components: parentId === null ? change([...p.components]) : rewrite(p.components) },
    ) as Definition["pages"],
  };
}

/** Applies new layouts from the grid functions to a list of siblings. */
function withBoxes(list: Component[], boxes: readonly Box[]): Component[] {
  const byId = new Map(boxes.map((b) => [b.id, b.layout]));
  return list.map((c) => {
    const layout = byId.get(c.id);
    return layout && !sameRect(layout, c.layout) ? { ...c, layout } : c;
  });
}

const sameRect = (a: Rect, b: Rect) => a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h;
// Modals float over the page: they neither push nor get pushed by the grid.
const boxesOf = (list: readonly Component[]): Box[] => list.filter((c) => c.type !== "modal").map((c) => ({ id: c.id, layout: c.layout }));

export function addComponent(definition: Definition, pageId: string, parentId: string | null, component: Component, columns: number, at?: Rect): Definition {
  return mapList(definition, pageId, parentId, (list) => {
    if (component.type === "modal") return [...list, component];
    const rect = at ?? nextFreeRect(boxesOf(list), component.layout.w, component.layout.h, columns);
    const boxes = place(boxesOf(list), component.id, rect, columns);
    const layout = boxes.find((b) => b.id === component.id)?.layout ?? component.layout;
    return withBoxes([...list, { ...component, layout }], boxes);
  });
}

export function moveComponent(definition: Definition, id: string, x: number, y: number): Definition {
  const found = findComponent(definition, id);
  if (!found) return definition;
  if (found.component.type === "modal") return updateComponent(definition, id, (c) => ({ ...c, layout: { ...c.layout, x, y } }));
  const boxes = move(boxesOf(found.siblings), id, x, y, found.columns);
  return mapList(definition, found.page.id, found.parent?.id ?? null, (list) => withBoxes(list, boxes));
}

export function resizeComponent(definition: Definition, id: string, w: number, h: number): Definition {
  const found = findComponent(definition, id);
  if (!found) return definition;
  if (found.component.type === "modal") return updateComponent(definition, id, (c) => ({ ...c, layout: { ...c.layout, w: Math.min(w, COLUMNS), h } }));
  const boxes = resize(boxesOf(found.siblings), id, w, h, found.columns);
  return mapList(definition, found.page.id, found.parent?.id ?? null, (list) => withBoxes(list, boxes));
}

export function removeComponent(definition: Definition, id: string): Definition {
  const found = findComponent(definition, id);
  if (!found) return definition;
  const kept = new Set(remove(boxesOf(found.siblings), id).map((b) => b.id));
  return mapList(definition, found.page.id, found.parent?.id ?? null, (list) => list.filter((c) => c.id !== id && (c.type === "modal" || kept.has(c.id))));
}

export function updateComponent(definition: Definition, id: string, change: (c: Component) => Component): Definition {
  const found = findComponent(definition, id);
  if (!found) return definition;
  return mapList(definition, found.page.id, found.parent?.id ?? null, (list) => list.map((c) => (c.id === id ? change(c) : c)));
}

export function addPage(definition: Definition, name: string): { definition: Definition; id: string } {
  const taken = new Set(definition.pages.map((p) => p.id));
  const id = uniqueId(taken, "page");
  return { id, definition: { ...definition, pages: [...definition.pages, { id, name, components: [] }] as Definition["pages"] } };
}

export function renamePage(definition: Definition, id: string, name: string): Definition {
  return { ...definition, pages: definition.pages.map((p) => (p.id === id ? { ...p, name } : p)) as Definition["pages"] };
}

export function newComponent(type: ComponentType, id: string, props: Record<string, unknown>, size: { w: number; h: number }): Component {
  return { id, type, props, layout: { x: 0, y: 0, ...size }, ...(CONTAINER_TYPES.has(type) ? { children: [] } : {}) };
}

/** Removes a page; the last page stays (an app has at least one). */
export function removePage(definition: Definition, id: string): Definition {
  if (definition.pages.length <= 1) return definition;
  return { ...definition, pages: definition.pages.filter((p) => p.id !== id) as Definition["pages"] };
}

/** Moves a page one place up (-1) or down (+1) in the order the viewer shows them. */
export function movePage(definition: Definition, id: string, by: -1 | 1): Definition {
  const from = definition.pages.findIndex((p) => p.id === id);
  const to = from + by;
  if (from < 0 || to < 0 || to >= definition.pages.length) return definition;
  const pages = [...definition.pages];
  [pages[from], pages[to]] = [pages[to]!, pages[from]!];
  return { ...definition, pages: pages as Definition["pages"] };
}

/**
 * The handlers that navigate to a page, as "button1 (onClick)" or "query customers
 * (onSuccess)": a page they name can't be deleted, since the server refuses a handler whose
 * page doesn't exist.
 */
export function pageNavigators(definition: Definition, pageId: string): string[] {
  const found: string[] = [];
  const handlers = (events: unknown) => (Array.isArray(events) ? (events as { event?: unknown; action?: unknown; page?: unknown }[]) : []);
  const visit = (components: readonly Component[]) => {
    for (const c of components) {
      for (const h of handlers(c.events)) if (h.action === "navigate" && h.page === pageId) found.push(`${c.id} (${String(h.event)})`);
      visit(c.children ?? []);
    }
  };
  for (const page of definition.pages) visit(page.components);
  for (const query of definition.queries ?? []) {
    for (const h of handlers(query.events)) if (h.action === "navigate" && h.page === pageId) found.push(`query ${query.name} (${String(h.event)})`);
  }
  return found;
}
