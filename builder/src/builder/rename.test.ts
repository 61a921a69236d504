import { describe, expect, it } from "vitest";
import type { Definition } from "./edit";
import { findComponent } from "./edit";
import { nameProblem, renameComponent, renameQuery, rewriteExpression, rewriteTemplate } from "./rename";

describe("rewriteExpression", () => {
  it("rewrites member chains rooted at the namespace", () => {
    expect(rewriteExpression("components.search.value", "components", "search", "q")).toBe("components.q.value");
    expect(rewriteExpression("components?.search?.value", "components", "search", "q")).toBe("components?.q?.value");
    expect(rewriteExpression(`components["search"].value + components['search'].x`, "components", "search", "q")).toBe(
      `components["q"].value + components['q'].x`,
    );
    expect(rewriteExpression("queries.list.rows.filter(r => r.id == components.search.value)", "components", "search", "q")).toBe(
      "queries.list.rows.filter(r => r.id == components.q.value)",
    );
  });

  it("leaves lookalikes alone", () => {
    // Another object's property, a longer name, a string's content, another namespace.
    expect(rewriteExpression("row.components.search + components.search", "components", "search", "q")).toBe("row.components.search + components.q");
    expect(rewriteExpression("components.search2.value", "components", "search", "q")).toBe("components.search2.value");
    expect(rewriteExpression(`"components.search" + components.search.value`, "components", "search", "q")).toBe(`"components.search" + components.q.value`);
    expect(rewriteExpression("queries.search.rows", "components", "search", "q")).toBe("queries.search.rows");
  });

  it("respects an arrow parameter that shadows the namespace", () => {
    const source = "[1].map(components => components.search)";
    expect(rewriteExpression(source, "components", "search", "q")).toBe(source);
  });
});

describe("rewriteTemplate", () => {
  it("rewrites only inside bindings and keeps the text around them", () => {
    expect(rewriteTemplate("Hello components.search {{ components.search.value }}!", "components", "search", "q")).toBe(
      "Hello components.search {{ components.q.value }}!",
    );
    expect(rewriteTemplate("{{ components.search.value", "components", "search", "q")).toBe("{{ components.search.value");
  });
});

const app = (): Definition => ({
  pages: [
    {
      id: "page1",
      name: "Home",
      components: [
        { id: "search", type: "textInput", props: { label: "Search" }, layout: { x: 0, y: 0, w: 6, h: 1 } },
        {
          id: "form1",
          type: "form",
          layout: { x: 0, y: 1, w: 12, h: 6 },
          props: {},
          children: [{ id: "note", type: "text", props: { text: "Looking for {{ components.search.value }}" }, layout: { x: 0, y: 0, w: 6, h: 1 } }],
          events: [{ event: "submit", action: "setComponentValue", component: "search", value: "" }],
        },
        { id: "dialog", type: "modal", props: {}, layout: { x: 0, y: 0, w: 8, h: 4 }, children: [] },
        {
          id: "go",
          type: "button",
          props: { text: "Go" },
          layout: { x: 6, y: 0, w: 2, h: 1 },
          events: [
            { event: "click", action: "runQuery", query: "list", runIf: "{{ queries.list.rowCount > 0 }}" },
            { event: "click", action: "openModal", modal: "dialog", runIf: "components.search.value !== ''" },
          ],
        },
      ],
    },
  ],
  queries: [
    {
      name: "list",
      datasource: "db",
      operation: "sql",
      query: { sql: "select * from t where name ilike {{ '%' + components.search.value + '%' }}" },
      events: [{ event: "success", action: "showAlert", message: "{{ queries.list.rowCount }} rows" }],
    },
    { name: "other", datasource: "db", operation: "sql", query: { sql: "select 1" }, events: [{ event: "success", action: "runQuery", query: "list" }] },
  ],
});

describe("renameComponent", () => {
  it("renames nested components and carries bindings, query templates and handlers along", () => {
    const next = renameComponent(app(), "search", "customerSearch");
    expect(findComponent(next, "search")).toBeNull();
    expect(findComponent(next, "customerSearch")?.component.type).toBe("textInput");
    expect(findComponent(next, "note")?.component.props?.text).toBe("Looking for {{ components.customerSearch.value }}");
    expect(findComponent(next, "form1")?.component.events?.[0]).toMatchObject({ component: "customerSearch" });
    expect(next.queries?.[0]?.query.sql).toBe("select * from t where name ilike {{ '%' + components.customerSearch.value + '%' }}");
  });

  it("rewrites a bare runIf expression too", () => {
    const next = renameComponent(app(), "search", "q");
    expect(findComponent(next, "go")?.component.events?.[1]).toMatchObject({ runIf: "components.q.value !== ''" });
  });

  it("renames a modal in the handlers that open it", () => {
    const next = renameComponent(app(), "dialog", "confirm");
    expect(findComponent(next, "go")?.component.events?.[1]).toMatchObject({ action: "openModal", modal: "confirm" });
  });

  it("refuses a taken id by changing nothing", () => {
    const before = app();
    expect(renameComponent(before, "search", "go")).toBe(before);
    expect(renameComponent(before, "missing", "x")).toBe(before);
  });
});

describe("renameQuery", () => {
  it("carries references and runQuery handlers along", () => {
    const next = renameQuery(app(), "list", "customers");
    expect(next.queries?.map((q) => q.name)).toEqual(["customers", "other"]);
    expect(next.queries?.[0]?.events?.[0]).toMatchObject({ message: "{{ queries.customers.rowCount }} rows" });
    expect(next.queries?.[1]?.events?.[0]).toMatchObject({ action: "runQuery", query: "customers" });
    expect(findComponent(next, "go")?.component.events?.[0]).toMatchObject({ query: "customers", runIf: "{{ queries.customers.rowCount > 0 }}" });
  });

  it("refuses a name another query has", () => {
    const before = app();
    expect(renameQuery(before, "list", "other")).toBe(before);
  });
});

describe("nameProblem", () => {
  it("explains what is wrong with a new name", () => {
    expect(nameProblem("ok_name1", new Set(), "component")).toBeNull();
    expect(nameProblem("1abc", new Set(), "component")).toMatch(/not starting with a digit/);
    expect(nameProblem("has space", new Set(), "component")).toMatch(/letters/);
    expect(nameProblem("taken", new Set(["taken"]), "query")).toBe("another query has this name");
  });
});
