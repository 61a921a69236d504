import { describe, expect, it } from "vitest";
import { datasourceMap, documentDatasources, importProblemField } from "./download";

describe("import mapping", () => {
  it("reads the datasource names of a document", () => {
    expect(documentDatasources({ datasources: ["a", 1, "b"] })).toEqual(["a", "b"]);
    expect(documentDatasources(null)).toEqual([]);
  });

  it("maps only renamed datasources the document uses", () => {
    expect(datasourceMap(["crm", "ledger"], { crm: "crm-prod", ledger: "ledger", other: "x" })).toEqual({ crm: "crm-prod" });
    expect(datasourceMap(["crm"], {})).toBeNull();
  });
});

describe("import refusals beside their field", () => {
  it("puts a slug clash and an invalid slug beside the slug, an invalid name beside the name", () => {
    expect(importProblemField({ status: 409, detail: "another app in this workspace has this slug" })).toBe("slug");
    expect(importProblemField({ status: 422, detail: "`slug` must be 1 to 64 lower-case letters, digits and inner hyphens" })).toBe("slug");
    expect(importProblemField({ status: 422, detail: "`name` must be 1 to 100 characters with no control characters" })).toBe("name");
  });
  it("leaves the rest below the form", () => {
    expect(importProblemField({ status: 422, detail: "at /document/format: not a Lathe app export" })).toBeNull();
    expect(importProblemField({ status: 403, detail: "slug" })).toBeNull();
  });
});
