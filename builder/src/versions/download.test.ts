import { describe, expect, it } from "vitest";
import { datasourceMap, documentDatasources } from "./download";

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
