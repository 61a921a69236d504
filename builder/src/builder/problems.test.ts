import { describe, expect, it } from "vitest";
import { locateProblem } from "./problems";
import type { Definition } from "./edit";

const definition: Definition = {
  pages: [
    {
      id: "p",
      name: "P",
      components: [
        { id: "a", type: "text", layout: { x: 0, y: 0, w: 1, h: 1 } },
        { id: "m", type: "modal", layout: { x: 0, y: 0, w: 1, h: 1 }, children: [{ id: "f", type: "form", layout: { x: 0, y: 0, w: 1, h: 1 } }] },
      ],
    },
  ],
  queries: [{ name: "list", datasource: "db", operation: "sql", query: {} }],
};

describe("locateProblem", () => {
  it("maps a pointer to the component and field it names, children included", () => {
    expect(locateProblem("at /definition/pages/0/components/1/children/0/events/0: no query \"x\"", definition)).toEqual({
      kind: "component",
      id: "f",
      field: "events.0",
      message: 'no query "x"',
    });
    expect(locateProblem("at /definition/pages/0/components/0/layout: x + w is past 24 columns", definition)).toMatchObject({ id: "a", field: "layout" });
  });
  it("maps queries and falls back to the app", () => {
    expect(locateProblem("at /definition/queries/0/inputs: not an object schema", definition)).toMatchObject({ kind: "query", name: "list", field: "inputs" });
    expect(locateProblem("at /definition/pages/9/components/0: x", definition).kind).toBe("app");
    expect(locateProblem("something else", definition)).toEqual({ kind: "app", message: "something else" });
  });
});
