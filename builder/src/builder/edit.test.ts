import { describe, expect, it } from "vitest";
import { addComponent, addPage, allIds, findComponent, moveComponent, movePage, newComponent, pageNavigators, removeComponent, removePage, renamePage, resizeComponent, uniqueId, type Definition } from "./edit";

const base: Definition = {
  pages: [
    {
      id: "main",
      name: "Main",
      components: [
        { id: "title", type: "text", props: { text: "Hi" }, layout: { x: 0, y: 0, w: 24, h: 1 } },
        { id: "box", type: "container", layout: { x: 0, y: 1, w: 12, h: 4 }, children: [{ id: "inner", type: "text", layout: { x: 0, y: 0, w: 6, h: 1 } }] },
      ],
    },
  ],
};

describe("definition edits", () => {
  it("adds a component where it is dropped, pushing what it lands on down", () => {
    const next = addComponent(base, "main", null, newComponent("table", "table1", {}, { w: 24, h: 4 }), 24, { x: 0, y: 0, w: 24, h: 4 });
    expect(findComponent(next, "table1")?.component.layout).toEqual({ x: 0, y: 0, w: 24, h: 4 });
    expect(findComponent(next, "title")?.component.layout.y).toBe(4);
    expect(findComponent(next, "box")?.component.layout.y).toBe(5);
    expect(base.pages[0].components[0]?.layout.y).toBe(0);
  });

  it("adds children inside a container on the container's own grid", () => {
    const next = addComponent(base, "main", "box", newComponent("button", "button1", {}, { w: 30, h: 1 }), 12);
    const found = findComponent(next, "button1");
    expect(found?.parent?.id).toBe("box");
    expect(found?.component.layout).toEqual({ x: 0, y: 1, w: 12, h: 1 });
  });

  it("moves, resizes and removes with the grid rules", () => {
    let next = moveComponent(base, "box", 30, 0);
    expect(findComponent(next, "box")?.component.layout).toEqual({ x: 12, y: 0, w: 12, h: 4 });
    expect(findComponent(next, "title")?.component.layout.y).toBe(4);
    next = resizeComponent(next, "inner", 20, 2);
    expect(findComponent(next, "inner")?.component.layout).toEqual({ x: 0, y: 0, w: 12, h: 2 });
    next = removeComponent(next, "box");
    expect(allIds(next)).toEqual(new Set(["title"]));
  });

  it("names new things uniquely and edits pages", () => {
    expect(uniqueId(allIds(base), "text")).toBe("text1");
    expect(uniqueId(new Set(["text1"]), "text")).toBe("text2");
    const { definition, id } = addPage(base, "Second");
    expect(id).toBe("page1");
    expect(renamePage(definition, id, "Orders").pages[1]?.name).toBe("Orders");
  });
});

describe("page edits", () => {
  const three = (): Definition => ({
    pages: [
      { id: "a", name: "A", components: [{ id: "go", type: "button", layout: { x: 0, y: 0, w: 4, h: 1 }, events: [{ event: "onClick", action: "navigate", page: "c" }] }] },
      { id: "b", name: "B", components: [{ id: "box", type: "container", layout: { x: 0, y: 0, w: 8, h: 4 }, children: [{ id: "back", type: "button", layout: { x: 0, y: 0, w: 4, h: 1 }, events: [{ event: "onClick", action: "navigate", page: "a" }] }] }] },
      { id: "c", name: "C", components: [] },
    ],
    queries: [{ name: "save", datasource: "db", operation: "sql", query: {}, events: [{ event: "onSuccess", action: "navigate", page: "c" }] }],
  });

  it("removes a page but never the last one", () => {
    expect(removePage(three(), "b").pages.map((p) => p.id)).toEqual(["a", "c"]);
    const one: Definition = { pages: [{ id: "only", name: "Only", components: [] }] };
    expect(removePage(one, "only")).toBe(one);
  });

  it("moves a page up and down within the list", () => {
    expect(movePage(three(), "b", -1).pages.map((p) => p.id)).toEqual(["b", "a", "c"]);
    expect(movePage(three(), "b", 1).pages.map((p) => p.id)).toEqual(["a", "c", "b"]);
    const d = three();
    expect(movePage(d, "a", -1)).toBe(d);
    expect(movePage(d, "c", 1)).toBe(d);
  });

  it("names the component and query handlers that navigate to a page, children included", () => {
    expect(pageNavigators(three(), "c")).toEqual(["go (onClick)", "query save (onSuccess)"]);
    expect(pageNavigators(three(), "a")).toEqual(["back (onClick)"]);
    expect(pageNavigators(three(), "b")).toEqual([]);
  });
});
