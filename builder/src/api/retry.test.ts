import { describe, expect, it } from "vitest";
import { rateLimitedDetail, retryAfterSeconds } from "./retry";

describe("Retry-After", () => {
  it("reads delay-seconds and HTTP dates", () => {
    expect(retryAfterSeconds("42")).toBe(42);
    expect(retryAfterSeconds(" 7 ")).toBe(7);
    const now = Date.parse("Wed, 21 Oct 2026 07:28:00 GMT");
    expect(retryAfterSeconds("Wed, 21 Oct 2026 07:28:30 GMT", now)).toBe(30);
    expect(retryAfterSeconds("Wed, 21 Oct 2026 07:27:00 GMT", now)).toBe(0);
  });
  it("has no answer for a missing or unreadable header", () => {
    expect(retryAfterSeconds(null)).toBeNull();
    expect(retryAfterSeconds("soon")).toBeNull();
    expect(retryAfterSeconds("-5")).toBeNull();
  });
  it("says how many seconds to wait", () => {
    expect(rateLimitedDetail(42)).toBe("Too many attempts. Try again in 42 seconds.");
    expect(rateLimitedDetail(1)).toBe("Too many attempts. Try again in a second.");
    expect(rateLimitedDetail(null)).toMatch(/try again/);
  });
});
