import { describe, expect, it } from "vitest";
import { fromText, scopeNames, suggestionKey, suggestions, typedName } from "./BindableField";

describe("property fields", () => {
  const scope = { components: { search: { value: "" } }, queries: { list: { rows: [] } }, variables: { sel: null }, page: {}, url: {}, user: {} };
  it("suggests scope names only inside an open binding", () => {
    const names = scopeNames(scope);
    expect(names).toContain("components.search.value");
    expect(names).toContain("queries.list.rows");
    expect(suggestions(names, typedName("{{ comp", 7))).toEqual(["components", "components.search", "components.search.value"].filter((n) => n !== "comp"));
    expect(typedName("{{ a }} comp", 12)).toBeNull();
    expect(suggestions(names, typedName("{{ queries.li", 13))).toEqual(["queries.list", "queries.list.rows"]);
  });
  it("parses numbers and JSON but keeps bindings as text", () => {
    expect(fromText("12", "number")).toBe(12);
    expect(fromText("{{ 1 + 1 }}", "number")).toBe("{{ 1 + 1 }}");
    expect(fromText('[{"key":"a"}]', "json")).toEqual([{ key: "a" }]);
    expect(fromText('{"q": "{{ components.a.value }}"}', "json")).toEqual({ q: "{{ components.a.value }}" });
    expect(fromText("{{ queries.list.rows }}", "json")).toBe("{{ queries.list.rows }}");
    expect(fromText("", "text")).toBeUndefined();
  });
  it("moves through suggestions with the keyboard only while they are open", () => {
    expect(suggestionKey("ArrowDown", true)).toEqual({ move: 1 });
    expect(suggestionKey("ArrowUp", true)).toEqual({ move: -1 });
    expect(suggestionKey("Enter", true)).toEqual({ pick: true });
    expect(suggestionKey("Tab", true)).toEqual({ pick: true });
    expect(suggestionKey("Escape", true)).toEqual({ close: true });
    expect(suggestionKey("a", true)).toBeNull();
    // Closed: Enter and Tab keep their usual meaning (submit, next field).
    expect(suggestionKey("Enter", false)).toBeNull();
    expect(suggestionKey("Tab", false)).toBeNull();
  });
});
