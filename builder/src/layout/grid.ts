// Placement on the app grid: 24 columns wide, rows of fixed height, unbounded downwards
// (docs/apps.md). Pure functions over lists of boxes; every result is a new list and the
// input is never changed, so the builder can keep old lists for undo.
//
// The model is free placement, as in ToolJet and Retool: a box stays where it is put, gaps
// included. A box that lands on others pushes them down (and whatever they then land on),
// never sideways and never up; `compact` closes the gaps only when asked.

export const COLUMNS = 24;

export type Rect = { x: number; y: number; w: number; h: number };
export type Box = { id: string; layout: Rect };

/** Largest row a box may start at (the definition schema's bound). */
export const MAX_Y = 10_000;
/** Tallest a box may be (the definition schema's bound). */
export const MAX_H = 1_000;

/** Integer position inside the grid: 1 ≤ w ≤ columns, 0 ≤ x ≤ columns − w, y ≥ 0, h ≥ 1. */
export function clamp(rect: Rect, columns: number = COLUMNS): Rect {
  const w = bound(Math.round(rect.w), 1, columns);
  const h = bound(Math.round(rect.h), 1, MAX_H);
  const x = bound(Math.round(rect.x), 0, columns - w);
  const y = bound(Math.round(rect.y), 0, MAX_Y);
  return { x, y, w, h };
}

function bound(n: number, min: number, max: number): number {
  if (Number.isNaN(n)) return min;
  return Math.min(Math.max(n, min), max);
}

export function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** The first row below every box: the canvas's height in rows. */
export function bottom(boxes: readonly Box[]): number {
  return boxes.reduce((max, b) => Math.max(max, b.layout.y + b.layout.h), 0);
}

// Top to bottom, then left to right: the order in which boxes settle.
function byPosition(a: Box, b: Box): number {
  return a.layout.y - b.layout.y || a.layout.x - b.layout.x;
}

/**
 * Makes room for `anchorId` where it is: every box overlapping it moves down just below it,
 * then every box overlapping a moved one, and so on. Boxes that overlap nothing stay put.
 */
export function resolveCollisions(boxes: readonly Box[], anchorId: string): Box[] {
  const anchor = boxes.find((b) => b.id === anchorId);
  if (!anchor) return boxes.map(copy);

  const settled: Box[] = [copy(anchor)];
  const others = boxes.filter((b) => b.id !== anchorId).map(copy).sort(byPosition);
  for (const box of others) {
    // Settled boxes are final; a box overlapping one moves below it and is checked again,
    // since moving may land it on another.
    let blocker = settled.find((s) => overlaps(s.layout, box.layout));
    while (blocker) {
      box.layout.y = blocker.layout.y + blocker.layout.h;
      blocker = settled.find((s) => overlaps(s.layout, box.layout));
    }
    settled.push(box);
  }

  // Keep the caller's order, so that lists stay stable for rendering and diffs.
  const moved = new Map(settled.map((b) => [b.id, b]));
  return boxes.map((b) => moved.get(b.id) as Box);
}

/** Adds a box at `rect` (clamped), pushing down what it lands on. */
export function place(boxes: readonly Box[], id: string, rect: Rect, columns: number = COLUMNS): Box[] {
  if (boxes.some((b) => b.id === id)) throw new Error(`a box "${id}" is already placed`);
  return resolveCollisions([...boxes, { id, layout: clamp(rect, columns) }], id);
}

/** Where a new box of size w×h goes when dropped without a position: below everything. */
export function nextFreeRect(boxes: readonly Box[], w: number, h: number, columns: number = COLUMNS): Rect {
  return clamp({ x: 0, y: bottom(boxes), w, h }, columns);
}

/** Moves a box to (x, y), clamped into the grid, pushing down what it lands on. */
export function move(boxes: readonly Box[], id: string, x: number, y: number, columns: number = COLUMNS): Box[] {
  return update(boxes, id, (r) => clamp({ ...r, x, y }, columns));
}

/** Resizes a box to w×h from its top-left corner, clamped, pushing down what it covers. */
export function resize(boxes: readonly Box[], id: string, w: number, h: number, columns: number = COLUMNS): Box[] {
  return update(boxes, id, (r) => {
    // Growing past the right edge keeps x and shrinks w to fit, rather than shifting the box.
    const width = Math.min(Math.max(1, Math.round(w)), columns - r.x);
    return clamp({ ...r, w: width, h }, columns);
  });
}

function update(boxes: readonly Box[], id: string, change: (r: Rect) => Rect): Box[] {
  if (!boxes.some((b) => b.id === id)) throw new Error(`no box "${id}"`);
  const next = boxes.map((b) => (b.id === id ? { id, layout: change(b.layout) } : copy(b)));
  return resolveCollisions(next, id);
}

/** Removes a box; the others stay where they are. */
export function remove(boxes: readonly Box[], id: string): Box[] {
  return boxes.filter((b) => b.id !== id).map(copy);
}

/**
 * Moves every box up as far as it can go without overlapping a box above it, top to bottom,
 * so vertical gaps close and the order of boxes in each column is kept. Overlapping boxes
 * (from a definition edited elsewhere) are separated on the way.
 */
export function compact(boxes: readonly Box[]): Box[] {
  const settled: Box[] = [];
  for (const box of boxes.map(copy).sort(byPosition)) {
    let y = 0;
    for (const s of settled) {
      const sameColumns = box.layout.x < s.layout.x + s.layout.w && s.layout.x < box.layout.x + box.layout.w;
      if (sameColumns) y = Math.max(y, s.layout.y + s.layout.h);
    }
    box.layout.y = y;
    settled.push(box);
  }
  const moved = new Map(settled.map((b) => [b.id, b]));
  return boxes.map((b) => moved.get(b.id) as Box);
}

/** Whether any two boxes overlap (a layout loaded from elsewhere may have them). */
export function hasOverlaps(boxes: readonly Box[]): boolean {
  return boxes.some((a, i) => boxes.slice(i + 1).some((b) => overlaps(a.layout, b.layout)));
}

function copy(box: Box): Box {
  return { id: box.id, layout: { ...box.layout } };
}
