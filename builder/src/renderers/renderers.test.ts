import { describe, expect, it } from "vitest";
import { bars, niceMax, seriesOf, slices } from "./chart";
import { optionsOf, safeImageSource } from "./inputs";
import { filterRows, sortRows } from "./Table";

describe("table", () => {
  const rows = [
    { id: 2, name: "grace", total: "10.5" },
    { id: 10, name: "Ada", total: null },
    { id: 1, name: "<b>x</b>", total: "9" },
  ];
  it("sorts numbers by value, text by locale, empty cells last", () => {
    expect(sortRows(rows, "id", "asc").map((r) => (r as { id: number }).id)).toEqual([1, 2, 10]);
    expect(sortRows(rows, "id", "desc").map((r) => (r as { id: number }).id)).toEqual([10, 2, 1]);
    expect(sortRows(rows, "total", "desc").map((r) => (r as { id: number }).id)).toEqual([2, 1, 10]);
    expect(sortRows(rows, "name", "asc").map((r) => (r as { name: string }).name)).toEqual(["<b>x</b>", "Ada", "grace"]);
  });
  it("filters on any shown column, ignoring case", () => {
    const columns = [{ key: "name", title: "Name" }];
    expect(filterRows(rows, columns, "ADA")).toEqual([rows[1]]);
    expect(filterRows(rows, columns, "  ")).toEqual(rows);
    expect(filterRows(rows, [{ key: "id", title: "Id" }], "10")).toEqual([rows[1]]);
  });
});

describe("chart geometry", () => {
  it("takes labels and values from rows, numeric text included", () => {
    expect(seriesOf([{ m: "Jan", v: "3" }, { m: "Feb", v: 5 }, { m: "Mar", v: "n/a" }])).toEqual([
      { label: "Jan", value: 3 },
      { label: "Feb", value: 5 },
    ]);
    expect(seriesOf([{ a: 1, b: 2 }], "b", "a")).toEqual([{ label: "2", value: 1 }]);
    expect(seriesOf("nope")).toEqual([]);
  });
  it("rounds the axis and scales bars into the frame", () => {
    expect(niceMax([{ label: "", value: 37 }])).toBe(50);
    const [bar] = bars([{ label: "a", value: 50 }], { width: 140, height: 124, left: 40, bottom: 24 });
    expect(bar?.height).toBe(100);
    expect(bar?.y).toBe(0);
  });
  it("splits a pie by share and skips non-positive values", () => {
    const parts = slices([{ label: "a", value: 1 }, { label: "b", value: 3 }, { label: "c", value: -2 }], 0, 0, 10);
    expect(parts.map((p) => p.share)).toEqual([0.25, 0.75]);
  });
});

describe("inputs", () => {
  it("reads options in three shapes", () => {
    expect(optionsOf(["a", { label: "B", value: 2 }, 3])).toEqual([
      { label: "a", value: "a" },
      { label: "B", value: 2 },
      { label: "3", value: 3 },
    ]);
  });
  it("shows images from https and data:image only, as the server's CSP allows", () => {
    expect(safeImageSource("https://example.com/a.png")).toBe("https://example.com/a.png");
    expect(safeImageSource("http://example.com/a.png")).toBeNull();
    expect(safeImageSource("data:image/png;base64,AAAA")).toBe("data:image/png;base64,AAAA");
    expect(safeImageSource("javascript:alert(1)")).toBeNull();
    expect(safeImageSource("data:text/html;base64,AAAA")).toBeNull();
    expect(safeImageSource("x")).toBeNull();
  });
});
