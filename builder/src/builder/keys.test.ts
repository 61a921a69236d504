import { describe, expect, it } from "vitest";
import { deleteShortcutApplies, OVERLAY_CLASS, type KeyTarget } from "./keys";

const el = (tagName: string, ...classes: string[]): KeyTarget => ({ tagName, classList: { contains: (c) => classes.includes(c) } });

describe("the delete shortcut", () => {
  it("acts from the page body and from a canvas overlay", () => {
    expect(deleteShortcutApplies(el("BODY"))).toBe(true);
    expect(deleteShortcutApplies(el("HTML"))).toBe(true);
    expect(deleteShortcutApplies(null)).toBe(true);
    expect(deleteShortcutApplies(el("DIV", OVERLAY_CLASS))).toBe(true);
  });
  it("leaves the key to any other focused element", () => {
    for (const tag of ["BUTTON", "A", "SELECT", "INPUT", "TEXTAREA", "DIV", "SUMMARY"]) {
      expect(deleteShortcutApplies(el(tag)), tag).toBe(false);
    }
    expect(deleteShortcutApplies(el("BUTTON", "palette"))).toBe(false);
  });
});
