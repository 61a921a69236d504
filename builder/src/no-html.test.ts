// Rendering rule: text from app data is never parsed as HTML. This fails the build when any
// source reaches for the APIs that would parse it, or for the ones that run strings as code.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const SRC = path.dirname(new URL(import.meta.url).pathname);
const THIS_FILE = path.basename(new URL(import.meta.url).pathname);

// [name, pattern, whether tests are checked too]: the expression tests hold hostile strings
// like "eval('1')" on purpose, so the code-from-strings patterns skip test files.
const FORBIDDEN: [string, RegExp, boolean][] = [
  ["dangerouslySetInnerHTML", /dangerouslySetInnerHTML/, true],
  ["innerHTML / outerHTML", /\.(inner|outer)HTML\b/, true],
  ["insertAdjacentHTML", /insertAdjacentHTML/, true],
  ["document.write", /document\.write/, true],
  ["createContextualFragment", /createContextualFragment/, true],
  ["eval", /(^|[^.\w])eval\s*\(/, false],
  ["new Function", /new\s+Function\s*\(/, false],
];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return /\.(ts|tsx)$/.test(name) && name !== THIS_FILE && !name.endsWith(".gen.ts") ? [full] : [];
  });
}

describe("no HTML from strings, no code from strings", () => {
  const files = sources(SRC);

  it("finds the sources", () => {
    expect(files.length).toBeGreaterThan(10);
  });

  for (const [name, pattern, inTests] of FORBIDDEN) {
    it(`no source uses ${name}`, () => {
      const checked = inTests ? files : files.filter((f) => !/\.test\.tsx?$/.test(f));
      const offenders = checked.filter((f) => pattern.test(readFileSync(f, "utf8")));
      expect(offenders.map((f) => path.relative(SRC, f))).toEqual([]);
    });
  }
});
