import { describe, expect, it } from "vitest";
import { draftStatus } from "./DraftPage";

describe("the draft's status beside the app name", () => {
  it("says an app never released is not released yet, not that it changed since a release", () => {
    expect(draftStatus({ dirty: false, released: false, changed: true })).toBe("draft, not released yet");
  });
  it("tells a changed draft from one equal to the release, and unsaved edits first", () => {
    expect(draftStatus({ dirty: false, released: true, changed: true })).toBe("draft (changed since the release)");
    expect(draftStatus({ dirty: false, released: true, changed: false })).toBe("draft");
    expect(draftStatus({ dirty: true, released: true, changed: false })).toBe("unsaved changes");
  });
});
