import { describe, expect, it } from "vitest";
import { createHistory, HISTORY_LIMIT, push, redo, undo } from "./history";

describe("undo history", () => {
  it("undoes and redoes in order, and a new edit drops the redo branch", () => {
    let h = createHistory("a");
    h = push(h, "b");
    h = push(h, "c");
    h = undo(h);
    expect(h.present).toBe("b");
    h = undo(h);
    expect(h.present).toBe("a");
    expect(undo(h)).toBe(h);
    h = redo(h);
    expect(h.present).toBe("b");
    h = push(h, "d");
    expect(h.future).toEqual([]);
    expect(redo(h)).toBe(h);
    expect(undo(h).present).toBe("b");
  });

  it("merges consecutive edits of one field into one step", () => {
    let h = createHistory("");
    h = push(h, "a", "props.text");
    h = push(h, "ab", "props.text");
    h = push(h, "abc", "props.text");
    h = push(h, "abc!", "props.label");
    expect(undo(h).present).toBe("abc");
    expect(undo(undo(h)).present).toBe("");
  });

  it("ignores a push of the same value and keeps a bounded past", () => {
    let h = createHistory(0);
    expect(push(h, 0)).toBe(h);
    for (let i = 1; i <= HISTORY_LIMIT + 10; i++) h = push(h, i);
    expect(h.past).toHaveLength(HISTORY_LIMIT);
  });
});
