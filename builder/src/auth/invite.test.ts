import { describe, expect, it } from "vitest";
import { inviteProblemMessage, needsPassword } from "./invite";

const problem = (status: number, detail: string | null) => ({ type: "urn:lathe:problem:x", title: "x", status, detail });

describe("invite answers", () => {
  it("recognises the server asking for a password for a new account", () => {
    expect(needsPassword(problem(422, "this address has no account yet: send `password`"))).toBe(true);
  });
  it("doesn't take other refusals for it", () => {
    expect(needsPassword(problem(422, "at /password: must be at least 8 characters"))).toBe(false);
    expect(needsPassword(problem(404, null))).toBe(false);
    expect(needsPassword(problem(400, "no account; password"))).toBe(false);
  });
  it("says an unknown or used invite is invalid, and leaves other problems to the server", () => {
    expect(inviteProblemMessage(problem(404, null))).toMatch(/invalid/);
    expect(inviteProblemMessage(problem(422, "x"))).toBeNull();
  });
});
