import { describe, expect, it } from "vitest";
import { detectInputs, detectStateReads, withDetectedInputs } from "./detect";
import { tokenize } from "./sql";

describe("query inputs", () => {
  it("finds inputs and state reads in every string of the template", () => {
    const query = { sql: "select * from t where a = {{ inputs.search }} and b = {{ inputs['limit'] + 1 }} or c = {{ components.x.value }}", extra: ["{{ inputs.search }}"] };
    expect(detectInputs(query)).toEqual(["search", "limit"]);
    expect(detectStateReads(query)).toEqual(["components.x.value"]);
    expect(detectInputs({ sql: "{{ broken(" })).toEqual([]);
  });
  it("adds missing inputs to the schema and keeps declared ones", () => {
    const schema = { type: "object", properties: { limit: { type: "integer" } } };
    expect(withDetectedInputs(schema, ["search", "limit"])).toEqual({ type: "object", properties: { limit: { type: "integer" }, search: { type: "string" } } });
    expect(withDetectedInputs(undefined, [])).toEqual({ type: "object" });
  });
});

describe("sql highlighting", () => {
  it("keeps the text and marks keywords, strings, comments and bindings", () => {
    const sql = "select name from t where x = 'a''b' -- c\nand y = {{ inputs.y }} limit 10";
    const tokens = tokenize(sql);
    expect(tokens.map((t) => t.text).join("")).toBe(sql);
    expect(tokens.filter((t) => t.kind === "keyword").map((t) => t.text)).toEqual(["select", "from", "where", "and", "limit"]);
    expect(tokens.find((t) => t.kind === "string")?.text).toBe("'a''b'");
    expect(tokens.find((t) => t.kind === "comment")?.text).toBe("-- c");
    expect(tokens.find((t) => t.kind === "binding")?.text).toBe("{{ inputs.y }}");
    expect(tokens.find((t) => t.kind === "number")?.text).toBe("10");
  });
});
