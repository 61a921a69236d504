import { describe, expect, it } from "vitest";
import type { Scope } from "./evaluate";
import { displayText, parseTemplate, resolveProps, resolveTemplate } from "./template";

const scope: Scope = {
  components: { search: { value: "ad" } },
  queries: { list: { rows: [{ id: 1, name: "Ada" }], isLoading: false } },
  variables: { n: 3, obj: { a: 1 }, nothing: null },
  page: {},
  url: {},
  user: { email: "ada@example.com" },
};

describe("parseTemplate", () => {
  it("splits text and expressions", () => {
    expect(parseTemplate("Hi {{ user.email }}!")).toEqual({
      ok: true,
      parts: [
        { kind: "text", text: "Hi " },
        { kind: "expression", source: " user.email " },
        { kind: "text", text: "!" },
      ],
    });
  });

  it("ends an expression at the first }} outside its own braces and strings", () => {
    const parsed = parseTemplate("{{ {a: {b: '}}'}} }}");
    expect(parsed).toEqual({ ok: true, parts: [{ kind: "expression", source: " {a: {b: '}}'}} " }] });
  });

  it("reports an unclosed binding", () => {
    const parsed = parseTemplate("a {{ b");
    expect(parsed.ok).toBe(false);
  });
});

describe("resolveTemplate", () => {
  it("returns plain text unchanged", () => {
    expect(resolveTemplate("just text", scope)).toEqual({ ok: true, value: "just text" });
  });

  it("returns the raw value of a lone binding", () => {
    expect(resolveTemplate("{{ queries.list.rows }}", scope)).toEqual({
      ok: true,
      value: [{ id: 1, name: "Ada" }],
    });
    expect(resolveTemplate("  {{variables.n}} ", scope)).toEqual({ ok: true, value: 3 });
    expect(resolveTemplate("{{ variables.nothing }}", scope)).toEqual({ ok: true, value: null });
  });

  it("returns a string for mixed text", () => {
    expect(resolveTemplate("n = {{ variables.n }}", scope)).toEqual({ ok: true, value: "n = 3" });
    expect(resolveTemplate("{{ variables.n }}{{ variables.n }}", scope)).toEqual({ ok: true, value: "33" });
    expect(resolveTemplate("obj: {{ variables.obj }}; none: '{{ variables.nothing }}'", scope)).toEqual({
      ok: true,
      value: "obj: {\"a\":1}; none: ''",
    });
  });

  it("names the failing binding in its error", () => {
    const result = resolveTemplate("Hello {{ nope.x }}", scope);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/\{\{ nope\.x \}\}: unknown name "nope"/);
  });

  it("keeps markup as text", () => {
    expect(resolveTemplate("<b>{{ '<img src=x onerror=alert(1)>' }}</b>", scope)).toEqual({
      ok: true,
      value: "<b><img src=x onerror=alert(1)></b>",
    });
  });
});

describe("resolveProps", () => {
  it("resolves nested bindings and reports errors per property", () => {
    const resolved = resolveProps(
      {
        data: "{{ queries.list.rows }}",
        columns: [{ key: "name", title: "{{ 'Name' + '!' }}" }],
        label: "Search {{ components.search.value }}",
        broken: "{{ 1 + }}",
        count: 5,
      },
      scope,
    );
    expect(resolved.values).toEqual({
      data: [{ id: 1, name: "Ada" }],
      columns: [{ key: "name", title: "Name!" }],
      label: "Search ad",
      broken: undefined,
      count: 5,
    });
    expect(Object.keys(resolved.errors)).toEqual(["broken"]);
  });
});

describe("displayText", () => {
  it("shows values as text", () => {
    expect(displayText(null)).toBe("");
    expect(displayText(undefined)).toBe("");
    expect(displayText(3)).toBe("3");
    expect(displayText(false)).toBe("false");
    expect(displayText({ a: [1] })).toBe('{"a":[1]}');
  });
});
