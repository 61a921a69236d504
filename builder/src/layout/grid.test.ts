import { describe, expect, it } from "vitest";
import {
  bottom,
  clamp,
  compact,
  COLUMNS,
  hasOverlaps,
  move,
  nextFreeRect,
  overlaps,
  place,
  remove,
  resize,
  resolveCollisions,
  type Box,
} from "./grid";

const box = (id: string, x: number, y: number, w: number, h: number): Box => ({ id, layout: { x, y, w, h } });
const byId = (boxes: Box[]) => Object.fromEntries(boxes.map((b) => [b.id, b.layout]));

describe("clamp", () => {
  it("keeps boxes inside the 24 columns", () => {
    expect(clamp({ x: 20, y: 0, w: 8, h: 1 })).toEqual({ x: 16, y: 0, w: 8, h: 1 });
    expect(clamp({ x: -3, y: -2, w: 30, h: 0 })).toEqual({ x: 0, y: 0, w: COLUMNS, h: 1 });
  });

  it("rounds to whole cells and survives NaN", () => {
    expect(clamp({ x: 1.6, y: 2.4, w: 3.5, h: 1.2 })).toEqual({ x: 2, y: 2, w: 4, h: 1 });
    expect(clamp({ x: Number.NaN, y: Number.NaN, w: Number.NaN, h: Number.NaN })).toEqual({ x: 0, y: 0, w: 1, h: 1 });
  });

  it("clamps to a narrower grid, as inside a container", () => {
    expect(clamp({ x: 10, y: 0, w: 6, h: 2 }, 12)).toEqual({ x: 6, y: 0, w: 6, h: 2 });
  });
});

describe("overlaps", () => {
  it("treats touching edges as not overlapping", () => {
    expect(overlaps({ x: 0, y: 0, w: 4, h: 2 }, { x: 4, y: 0, w: 4, h: 2 })).toBe(false);
    expect(overlaps({ x: 0, y: 0, w: 4, h: 2 }, { x: 0, y: 2, w: 4, h: 2 })).toBe(false);
    expect(overlaps({ x: 0, y: 0, w: 4, h: 2 }, { x: 3, y: 1, w: 4, h: 2 })).toBe(true);
  });
});

describe("place", () => {
  it("adds a box where it is dropped when the spot is free", () => {
    const boxes = place([box("a", 0, 0, 8, 2)], "b", { x: 8, y: 0, w: 8, h: 2 });
    expect(byId(boxes)).toEqual({ a: { x: 0, y: 0, w: 8, h: 2 }, b: { x: 8, y: 0, w: 8, h: 2 } });
  });

  it("pushes down what the new box lands on, in a cascade", () => {
    const boxes = place([box("a", 0, 0, 8, 2), box("b", 0, 2, 8, 2)], "new", { x: 0, y: 0, w: 24, h: 1 });
    expect(byId(boxes)).toEqual({
      a: { x: 0, y: 1, w: 8, h: 2 },
      b: { x: 0, y: 3, w: 8, h: 2 },
      new: { x: 0, y: 0, w: 24, h: 1 },
    });
    expect(hasOverlaps(boxes)).toBe(false);
  });

  it("refuses a duplicate id", () => {
    expect(() => place([box("a", 0, 0, 1, 1)], "a", { x: 0, y: 0, w: 1, h: 1 })).toThrow(/already/);
  });

  it("suggests the first row below everything for a drop without position", () => {
    expect(nextFreeRect([box("a", 0, 0, 8, 3), box("b", 8, 1, 8, 4)], 6, 2)).toEqual({ x: 0, y: 5, w: 6, h: 2 });
    expect(nextFreeRect([], 30, 2)).toEqual({ x: 0, y: 0, w: 24, h: 2 });
  });
});

describe("move", () => {
  const layout = [box("title", 0, 0, 24, 1), box("search", 0, 1, 8, 1), box("table", 0, 2, 24, 10)];

  it("moves into free space without touching others", () => {
    const moved = move(layout, "search", 16, 1);
    expect(byId(moved).search).toEqual({ x: 16, y: 1, w: 8, h: 1 });
    expect(byId(moved).table).toEqual({ x: 0, y: 2, w: 24, h: 10 });
  });

  it("pushes what it lands on down, cascading, and leaves the rest", () => {
    const moved = move(layout, "search", 0, 0);
    expect(byId(moved)).toEqual({
      title: { x: 0, y: 1, w: 24, h: 1 },
      search: { x: 0, y: 0, w: 8, h: 1 },
      table: { x: 0, y: 2, w: 24, h: 10 },
    });
    expect(hasOverlaps(moved)).toBe(false);
  });

  it("clamps a move past the right edge or above the top", () => {
    expect(byId(move(layout, "search", 30, -5)).search).toEqual({ x: 16, y: 0, w: 8, h: 1 });
  });

  it("does not change its input", () => {
    const before = JSON.stringify(layout);
    move(layout, "search", 0, 0);
    expect(JSON.stringify(layout)).toBe(before);
  });

  it("keeps the list order", () => {
    expect(move(layout, "table", 0, 0).map((b) => b.id)).toEqual(["title", "search", "table"]);
  });

  it("refuses an unknown id", () => {
    expect(() => move(layout, "nope", 0, 0)).toThrow(/no box/);
  });
});

describe("resize", () => {
  it("grows over a neighbour below and pushes it down", () => {
    const resized = resize([box("a", 0, 0, 8, 2), box("b", 0, 2, 8, 2)], "a", 8, 4);
    expect(byId(resized)).toEqual({ a: { x: 0, y: 0, w: 8, h: 4 }, b: { x: 0, y: 4, w: 8, h: 2 } });
  });

  it("widening over a neighbour on the right pushes it down, not sideways", () => {
    const resized = resize([box("a", 0, 0, 8, 2), box("b", 8, 0, 8, 2)], "a", 12, 2);
    expect(byId(resized).b).toEqual({ x: 8, y: 2, w: 8, h: 2 });
  });

  it("keeps x and shrinks the width at the right edge", () => {
    expect(byId(resize([box("a", 20, 0, 4, 1)], "a", 10, 1)).a).toEqual({ x: 20, y: 0, w: 4, h: 1 });
  });

  it("never goes below one cell", () => {
    expect(byId(resize([box("a", 0, 0, 4, 4)], "a", 0, -1)).a).toEqual({ x: 0, y: 0, w: 1, h: 1 });
  });
});

describe("resolveCollisions", () => {
  it("separates a pile of overlapping boxes around the anchor", () => {
    const pile = [box("a", 0, 0, 6, 2), box("b", 0, 0, 6, 2), box("c", 2, 1, 6, 2)];
    const resolved = resolveCollisions(pile, "b");
    expect(byId(resolved).b).toEqual({ x: 0, y: 0, w: 6, h: 2 });
    expect(hasOverlaps(resolved)).toBe(false);
  });

  it("returns a copy when the anchor is unknown", () => {
    const boxes = [box("a", 0, 0, 1, 1)];
    expect(resolveCollisions(boxes, "x")).toEqual(boxes);
  });
});

describe("compact", () => {
  it("closes vertical gaps, keeping column order", () => {
    const compacted = compact([box("a", 0, 3, 8, 2), box("b", 0, 9, 8, 1), box("c", 10, 4, 4, 1)]);
    expect(byId(compacted)).toEqual({
      a: { x: 0, y: 0, w: 8, h: 2 },
      b: { x: 0, y: 2, w: 8, h: 1 },
      c: { x: 10, y: 0, w: 4, h: 1 },
    });
  });

  it("stacks a wide box under everything it spans", () => {
    const compacted = compact([box("left", 0, 0, 8, 3), box("right", 8, 0, 8, 1), box("wide", 0, 10, 24, 1)]);
    expect(byId(compacted).wide).toEqual({ x: 0, y: 3, w: 24, h: 1 });
  });

  it("separates overlapping boxes", () => {
    expect(hasOverlaps(compact([box("a", 0, 0, 4, 4), box("b", 0, 1, 4, 1)]))).toBe(false);
  });
});

describe("remove and bottom", () => {
  it("removes a box and leaves the others in place", () => {
    const left = remove([box("a", 0, 0, 4, 4), box("b", 0, 4, 4, 1)], "a");
    expect(left).toEqual([box("b", 0, 4, 4, 1)]);
    expect(bottom(left)).toBe(5);
    expect(bottom([])).toBe(0);
  });
});
