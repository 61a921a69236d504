import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const builder = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

describe("generated API types", () => {
  it("match the server's OpenAPI document and app-definition schema", () => {
    // Exits non-zero, naming the stale files, when `npm run gen:api` was not re-run.
    expect(() =>
      execFileSync(process.execPath, ["scripts/gen-api.mjs", "--check"], { cwd: builder, stdio: "pipe" }),
    ).not.toThrow();
    // Formatting the generated code with prettier takes seconds on a small machine.
  }, 60_000);
});
