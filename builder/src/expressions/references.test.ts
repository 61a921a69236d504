import { describe, expect, it } from "vitest";
import { expressionReferences, templateReferences } from "./references";

const texts = (source: string) => expressionReferences(source).map((r) => r.text);

describe("expressionReferences", () => {
  it("lists the static paths an expression reads", () => {
    expect(texts("components.search.value")).toEqual(["components.search.value"]);
    expect(texts("queries.list.rows[0]['name']")).toEqual(["queries.list.rows.0.name"]);
    expect(texts("variables.a + variables.b * 2")).toEqual(["variables.a", "variables.b"]);
  });

  it("reads the receiver of a method, not the method name", () => {
    expect(texts("queries.list.rows.map(r => r.name)")).toEqual(["queries.list.rows"]);
    expect(texts("user.email.toLowerCase()")).toEqual(["user.email"]);
  });

  it("stops a path at a computed key and lists the key's own reads", () => {
    expect(texts("queries.list.rows[variables.i].name")).toEqual(["queries.list.rows", "variables.i"]);
    expect(texts("components[variables.which].value")).toEqual(["components", "variables.which"]);
  });

  it("looks inside arrow bodies, objects, arrays and conditionals", () => {
    expect(
      texts("queries.list.rows.filter(r => r.name.includes(components.search.value)).length"),
    ).toEqual(["queries.list.rows", "components.search.value"]);
    expect(texts("{ a: variables.a, [page.name]: 1 }")).toEqual(["variables.a", "page.name"]);
    expect(texts("[url.params.id, user.id]")).toEqual(["url.params.id", "user.id"]);
    expect(texts("variables.c ? variables.d : variables.e")).toEqual(["variables.c", "variables.d", "variables.e"]);
  });

  it("ignores arrow parameters that shadow roots, helpers and literals", () => {
    expect(texts("[1].map(components => components.x)")).toEqual([]);
    expect(texts("Math.round(variables.n)")).toEqual(["variables.n"]);
    expect(texts("'components.x'")).toEqual([]);
  });

  it("lists a bare root as the whole root", () => {
    expect(expressionReferences("variables")).toEqual([{ root: "variables", path: [], text: "variables" }]);
  });

  it("has none for an unparsable expression", () => {
    expect(texts("1 +")).toEqual([]);
  });
});

describe("templateReferences", () => {
  it("collects every binding's references once, in order", () => {
    const refs = templateReferences("{{ components.search.value }} and {{ user.email }} {{ components.search.value }}");
    expect(refs.map((r) => r.text)).toEqual(["components.search.value", "user.email"]);
  });
});
