import { describe, expect, it } from "vitest";
import { safeNext } from "./next";

const origin = "http://127.0.0.1:8080";

describe("safeNext", () => {
  it("keeps a path of this site with its query", () => {
    expect(safeNext("/apps/ws1/customers?x=1", origin)).toBe("/apps/ws1/customers?x=1");
    expect(safeNext("/invite?token=a%2Fb", origin)).toBe("/invite?token=a%2Fb");
  });
  it("goes home for anything that could leave the site", () => {
    for (const next of [
      null,
      "",
      "https://evil.example/",
      "//evil.example",
      "/\\evil.example",
      "/\t/evil.example",
      "/\n/evil.example",
      "/\u0000x",
      "\\\\evil.example",
      "javascript:alert(1)",
      "evil",
    ]) {
      expect(safeNext(next, origin), JSON.stringify(next)).toBe("/");
    }
  });
  it("keeps an encoded tab as the harmless path it is", () => {
    // `%09` stays encoded in the path; it names a page of this site (which doesn't exist).
    expect(safeNext("/%09/evil.example", origin)).toBe("/%09/evil.example");
  });
});
