import { describe, expect, it, vi } from "vitest";
import type { EventHandler } from "../api/app-definition.gen";
import type { Scope } from "../expressions";
import { runHandlers, safeUrl, type ActionContext } from "./actions";

function fakeContext(initial: Partial<Record<string, unknown>> = {}) {
  const variables: Record<string, unknown> = { ...initial };
  const calls: unknown[][] = [];
  const scope = (): Scope => ({
    components: { search: { value: "ada" }, table: { selectedRow: { id: 7, name: "Ada" } } },
    queries: {},
    variables: { ...variables },
    page: { id: "main" },
    url: {},
    user: {},
  });
  const context: ActionContext = {
    scope,
    runQuery: vi.fn(async (name, inputs) => {
      calls.push(["runQuery", name, inputs]);
      return true;
    }),
    setVariable: (name, value) => {
      variables[name] = value;
      calls.push(["setVariable", name, value]);
    },
    showAlert: (message, level) => calls.push(["showAlert", message, level]),
    navigate: (page) => calls.push(["navigate", page]),
    openUrl: (url, newTab) => calls.push(["openUrl", url, newTab]),
    openModal: (id) => calls.push(["openModal", id]),
    closeModal: (id) => calls.push(["closeModal", id]),
    setComponentValue: (id, value) => calls.push(["setComponentValue", id, value]),
  };
  return { context, calls, variables };
}

const h = (handler: EventHandler) => handler;

describe("runHandlers", () => {
  it("runs only the handlers of the event, in order, with inputs resolved", async () => {
    const { context, calls } = fakeContext();
    await runHandlers(
      [
        h({ event: "onChange", action: "runQuery", query: "list", inputs: { search: "{{ components.search.value }}", n: 3 } }),
        h({ event: "onClick", action: "showAlert", message: "not me" }),
        h({ event: "onChange", action: "showAlert", message: "Found {{ components.search.value }}", level: "success" }),
      ],
      "onChange",
      context,
    );
    expect(calls).toEqual([
      ["runQuery", "list", { search: "ada", n: 3 }],
      ["showAlert", "Found ada", "success"],
    ]);
  });

  it("lets a handler read the variable the previous one set", async () => {
    const { context, calls } = fakeContext();
    await runHandlers(
      [
        h({ event: "onRowClick", action: "setVariable", variable: "selected", value: "{{ components.table.selectedRow }}" }),
        h({ event: "onRowClick", action: "setComponentValue", component: "name", value: "{{ variables.selected.name }}" }),
        h({ event: "onRowClick", action: "openModal", modal: "edit" }),
      ],
      "onRowClick",
      context,
    );
    expect(calls).toEqual([
      ["setVariable", "selected", { id: 7, name: "Ada" }],
      ["setComponentValue", "name", "Ada"],
      ["openModal", "edit"],
    ]);
  });

  it("skips a handler whose runIf is falsy, as a binding or a bare expression", async () => {
    const { context, calls } = fakeContext({ admin: false });
    const outcomes = await runHandlers(
      [
        h({ event: "onClick", action: "navigate", page: "a", runIf: "{{ variables.admin }}" }),
        h({ event: "onClick", action: "navigate", page: "b", runIf: "components.search.value === 'ada'" }),
        h({ event: "onClick", action: "closeModal", modal: "m", runIf: "" }),
      ],
      "onClick",
      context,
    );
    expect(outcomes.map((o) => o.status)).toEqual(["skipped", "ran", "ran"]);
    expect(calls).toEqual([["navigate", "b"], ["closeModal", "m"]]);
  });

  it("opens http and https URLs only, and reports a refused one as an error alert", async () => {
    const { context, calls } = fakeContext();
    await runHandlers(
      [
        h({ event: "onClick", action: "openUrl", url: "https://example.com/a?b={{ components.search.value }}", newTab: true }),
        h({ event: "onClick", action: "openUrl", url: "javascript:alert(1)" }),
        h({ event: "onClick", action: "showAlert", message: "still runs" }),
      ],
      "onClick",
      context,
    );
    expect(calls[0]).toEqual(["openUrl", "https://example.com/a?b=ada", true]);
    expect(calls[1]?.[0]).toBe("showAlert");
    expect(String(calls[1]?.[1])).toMatch(/only http and https/);
    expect(calls[1]?.[2]).toBe("error");
    expect(calls[2]).toEqual(["showAlert", "still runs", "info"]);
  });

  it("reports a binding error instead of running the handler", async () => {
    const { context, calls } = fakeContext();
    const outcomes = await runHandlers(
      [h({ event: "onClick", action: "setVariable", variable: "x", value: "{{ nope.value }}" })],
      "onClick",
      context,
    );
    expect(outcomes[0]?.status).toBe("failed");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.[0]).toBe("showAlert");
  });

  it("waits for a query before the next handler runs", async () => {
    const { context, calls } = fakeContext();
    let finish: (ok: boolean) => void = () => {};
    context.runQuery = (name) =>
      new Promise((resolve) => {
        calls.push(["start", name]);
        finish = resolve;
      });
    const done = runHandlers(
      [h({ event: "onSubmit", action: "runQuery", query: "save" }), h({ event: "onSubmit", action: "closeModal", modal: "m" })],
      "onSubmit",
      context,
    );
    await Promise.resolve();
    expect(calls).toEqual([["start", "save"]]);
    finish(true);
    await done;
    expect(calls).toEqual([["start", "save"], ["closeModal", "m"]]);
  });

  it("refuses inputs that are not an object", async () => {
    const { context } = fakeContext();
    const outcomes = await runHandlers([h({ event: "onClick", action: "runQuery", query: "q", inputs: "{{ [1] }}" })], "onClick", context);
    expect(outcomes[0]?.error).toMatch(/inputs must be an object/);
  });
});

describe("safeUrl", () => {
  it.each(["data:text/html,<b>x</b>", "file:///etc/passwd", "/relative", "vbscript:x", " JAVASCRIPT:alert(1)"])("refuses %s", (url) => {
    expect(() => safeUrl(url)).toThrow();
  });
  it("accepts http and https", () => {
    expect(safeUrl("http://a.example/x")).toBe("http://a.example/x");
    expect(safeUrl(" https://b.example ")).toBe("https://b.example/");
  });
});
