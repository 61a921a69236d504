import { describe, expect, it } from "vitest";
import { evaluateExpression, type Scope } from "./evaluate";

const scope: Scope = {
  components: { search: { value: "ad" }, table: { selectedRow: { id: 2, name: "Grace" } } },
  queries: {
    list: {
      rows: [
        { id: 1, name: "Ada", email: "ada@example.com", age: 36 },
        { id: 2, name: "Grace", email: null, age: 85 },
        { id: 3, name: "Alan", email: "alan@example.com", age: 41 },
      ],
      isLoading: false,
    },
  },
  variables: { count: 3, tags: ["a", "b"], nothing: null, label: "Hi" },
  page: { name: "Main" },
  url: { params: { id: "7" } },
  user: { email: "ada@example.com" },
};

function value(source: string): unknown {
  const result = evaluateExpression(source, scope);
  if (!result.ok) throw new Error(`expected a value from ${source}, got error: ${result.error}`);
  return result.value;
}

function error(source: string): string {
  const result = evaluateExpression(source, scope);
  if (result.ok) throw new Error(`expected an error from ${source}, got ${JSON.stringify(result.value)}`);
  return result.error;
}

describe("values and members", () => {
  it("reads literals", () => {
    expect(value("42")).toBe(42);
    expect(value("'text'")).toBe("text");
    expect(value('"double"')).toBe("double");
    expect(value("true")).toBe(true);
    expect(value("null")).toBeNull();
    expect(value("undefined")).toBeUndefined();
  });

  it("reads members of every scope root", () => {
    expect(value("components.search.value")).toBe("ad");
    expect(value("queries.list.rows[1].name")).toBe("Grace");
    expect(value("variables.count")).toBe(3);
    expect(value("page.name")).toBe("Main");
    expect(value("url.params['id']")).toBe("7");
    expect(value("user.email")).toBe("ada@example.com");
  });

  it("returns raw values, arrays and objects included", () => {
    expect(value("variables.tags")).toEqual(["a", "b"]);
    expect(value("components.table.selectedRow")).toEqual({ id: 2, name: "Grace" });
  });

  it("reads missing properties as undefined and length of strings and arrays", () => {
    expect(value("variables.missing")).toBeUndefined();
    expect(value("variables.label.length")).toBe(2);
    expect(value("variables.tags.length")).toBe(2);
    expect(value("variables.label[0]")).toBe("H");
  });

  it("fails on a member of undefined, and short-circuits optional chains", () => {
    expect(error("variables.missing.deeper")).toMatch(/can't read "deeper" of undefined/);
    expect(value("variables.missing?.deeper")).toBeUndefined();
    expect(value("variables.missing?.deeper.still")).toBeUndefined();
    expect(value("variables.nothing?.toUpperCase()")).toBeUndefined();
  });

  it("refuses unknown names", () => {
    expect(error("foo")).toMatch(/unknown name "foo"/);
    expect(error("window")).toMatch(/unknown name "window"/);
  });
});

describe("operators", () => {
  it("computes arithmetic", () => {
    expect(value("1 + 2 * 3")).toBe(7);
    expect(value("(1 + 2) * 3")).toBe(9);
    expect(value("10 / 4")).toBe(2.5);
    expect(value("10 % 4")).toBe(2);
    expect(value("2 ** 10")).toBe(1024);
    expect(value("-variables.count")).toBe(-3);
    expect(value("+'5'")).toBe(5);
  });

  it("concatenates strings, showing objects as JSON", () => {
    expect(value("'n=' + variables.count")).toBe("n=3");
    expect(value("'tags: ' + variables.tags")).toBe('tags: ["a","b"]');
  });

  it("compares", () => {
    expect(value("variables.count > 2")).toBe(true);
    expect(value("variables.count === 3")).toBe(true);
    expect(value("variables.count !== '3'")).toBe(true);
    expect(value("variables.count == '3'")).toBe(true);
    expect(value("variables.nothing == undefined")).toBe(true);
    expect(value("'a' < 'b'")).toBe(true);
    expect(value("variables.tags == variables.tags")).toBe(true);
  });

  it("evaluates logical operators lazily", () => {
    expect(value("variables.nothing || 'fallback'")).toBe("fallback");
    expect(value("variables.count && 'yes'")).toBe("yes");
    expect(value("variables.nothing ?? 'default'")).toBe("default");
    expect(value("0 ?? 'default'")).toBe(0);
    // The right side would fail if evaluated.
    expect(value("true || variables.missing.x")).toBe(true);
    expect(value("false && variables.missing.x")).toBe(false);
    expect(value("!variables.nothing")).toBe(true);
  });

  it("evaluates conditionals", () => {
    expect(value("variables.count > 1 ? 'many' : 'one'")).toBe("many");
    expect(value("queries.list.isLoading ? 'Loading' : queries.list.rows.length + ' rows'")).toBe("3 rows");
  });

  it("supports typeof", () => {
    expect(value("typeof variables.count")).toBe("number");
    expect(value("typeof variables.missing === 'undefined'")).toBe(true);
  });
});

describe("literals", () => {
  it("builds arrays and objects", () => {
    expect(value("[1, variables.count, 'x']")).toEqual([1, 3, "x"]);
    expect(value("{ label: variables.label, n: 1 }")).toEqual({ label: "Hi", n: 1 });
    expect(value("{ 'quoted key': 1, [variables.label]: 2 }")).toEqual({ "quoted key": 1, Hi: 2 });
  });
});

describe("methods and helpers", () => {
  it("calls allowed string methods", () => {
    expect(value("variables.label.toUpperCase()")).toBe("HI");
    expect(value("' x '.trim()")).toBe("x");
    expect(value("'a,b'.split(',')")).toEqual(["a", "b"]);
    expect(value("'Ada'.includes(components.search.value)")).toBe(false);
    expect(value("'Ada'.toLowerCase().includes(components.search.value)")).toBe(true);
    expect(value("'abc'.replaceAll('b', '-')")).toBe("a-c");
    expect(value("'7'.padStart(3, '0')")).toBe("007");
  });

  it("calls allowed array methods with arrow functions", () => {
    expect(value("queries.list.rows.map(r => r.name)")).toEqual(["Ada", "Grace", "Alan"]);
    expect(value("queries.list.rows.filter(r => r.age > 40).length")).toBe(2);
    expect(value("queries.list.rows.find(r => r.id === 3).name")).toBe("Alan");
    expect(value("queries.list.rows.some(r => r.email === null)")).toBe(true);
    expect(value("queries.list.rows.reduce((sum, r) => sum + r.age, 0)")).toBe(162);
    expect(value("queries.list.rows.map((r, i) => i)")).toEqual([0, 1, 2]);
    expect(value("queries.list.rows.map(r => ({ label: r.name, value: r.id }))[0]")).toEqual({
      label: "Ada",
      value: 1,
    });
    expect(value("variables.tags.join('|')")).toBe("a|b");
    expect(value("queries.list.rows.toSorted((a, b) => b.age - a.age)[0].name")).toBe("Grace");
  });

  it("does not let sorting change the app's data", () => {
    value("queries.list.rows.toSorted((a, b) => b.age - a.age)");
    expect(value("queries.list.rows[0].name")).toBe("Ada");
    expect(error("queries.list.rows.sort()")).toMatch(/method "sort" is not allowed/);
    expect(error("variables.tags.push('c')")).toMatch(/method "push" is not allowed/);
  });

  it("lets arrow parameters shadow roots and capture outer parameters", () => {
    expect(value("[1, 2].map(variables => variables * 2)")).toEqual([2, 4]);
    expect(value("[1, 2].map(a => [10].map(b => a + b)[0])")).toEqual([11, 12]);
    expect(value("(x => x + 1)(41)")).toBe(42);
  });

  it("calls number methods", () => {
    expect(value("(3.14159).toFixed(2)")).toBe("3.14");
    expect(value("(255).toString(16)")).toBe("ff");
  });

  it("calls helpers", () => {
    expect(value("Math.round(2.5)")).toBe(3);
    expect(value("Math.max(1, variables.count, 2)")).toBe(3);
    expect(value("Math.PI > 3")).toBe(true);
    expect(value("JSON.stringify({ a: 1 })")).toBe('{"a":1}');
    expect(value("JSON.parse('[1,2]')")).toEqual([1, 2]);
    expect(value("Object.keys(components.table.selectedRow)")).toEqual(["id", "name"]);
    expect(value("Array.isArray(variables.tags)")).toBe(true);
    expect(value("Number('12') + 1")).toBe(13);
    expect(value("String(12) + 1")).toBe("121");
    expect(value("Number.isInteger(variables.count)")).toBe(true);
  });

  it("reports the native errors of bad arguments as values", () => {
    expect(error("(1).toFixed(1000)")).toMatch(/toFixed|digits|range/i);
    expect(error("JSON.parse('{')")).toMatch(/JSON/);
  });
});

describe("errors are values", () => {
  it("reports syntax errors", () => {
    expect(error("1 +")).toMatch(/Expected expression/i);
    expect(error("(")).toBeTruthy();
    expect(error("")).toMatch(/empty/);
    expect(error("a, b")).toMatch(/single expression/);
  });

  it("refuses functions as results", () => {
    expect(error("x => x")).toMatch(/function/);
    expect(value("variables.label.toUpperCase")).toBeUndefined();
  });

  it("refuses calling what is not callable", () => {
    expect(error("variables.count()")).toMatch(/no method "count"/);
    expect(error("variables.count.x()")).toMatch(/not allowed/);
    expect(error("variables.tags.nope()")).toMatch(/not allowed/);
    expect(error("components.table.selectedRow.name.foo()")).toMatch(/not allowed/);
    expect(error("components.table.selectedRow.hasOwnProperty('id')")).toMatch(/no method/);
    expect(error("Math.random()")).toMatch(/not available/);
    expect(error("Math")).toMatch(/can only be called/);
  });
});
