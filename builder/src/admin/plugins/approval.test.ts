import { describe, expect, it } from "vitest";
import type { Problem } from "../../api/client";
import { allApproved, capabilitiesToShow, isApprovalRequired, keepTicks, newestInstallable, outcomeOf, parseVersion } from "./approval";

const approval: Problem = {
  type: "urn:lathe:problem:approval-required",
  title: "Approval required",
  status: 409,
  capabilities: ["http://{base_url}", "tcp://{host}:{port}"],
};

describe("registry index entries", () => {
  it("reads a version entry and ignores what isn't one", () => {
    expect(parseVersion({ version: "1.0.0", capabilities: ["tcp://{host}:{port}", 3], yanked: false })).toMatchObject({
      version: "1.0.0",
      capabilities: ["tcp://{host}:{port}"],
      yanked: false,
    });
    expect(parseVersion({ capabilities: [] })).toBeNull();
    expect(parseVersion("1.0.0")).toBeNull();
  });

  it("installs the newest version that isn't yanked", () => {
    const versions = [
      { version: "0.1.0", capabilities: [], yanked: false },
      { version: "0.2.0", capabilities: [], yanked: false },
      { version: "0.3.0", capabilities: [], yanked: true },
    ];
    expect(newestInstallable(versions)?.version).toBe("0.2.0");
    expect(newestInstallable([{ version: "1", capabilities: [], yanked: true }])).toBeNull();
  });
});

describe("capability approval", () => {
  it("marks what an update adds beyond what was approved", () => {
    expect(capabilitiesToShow(["tcp://{host}:{port}", "http://{base_url}", "tcp://{host}:{port}"], ["tcp://{host}:{port}"])).toEqual([
      { capability: "tcp://{host}:{port}", isNew: false },
      { capability: "http://{base_url}", isNew: true },
    ]);
  });

  it("allows installing only once every capability is ticked", () => {
    const shown = capabilitiesToShow(["a", "b"]);
    expect(allApproved(shown, new Set())).toBe(false);
    expect(allApproved(shown, new Set(["a"]))).toBe(false);
    expect(allApproved(shown, new Set(["a", "b"]))).toBe(true);
    expect(allApproved([], new Set())).toBe(true);
  });

  it("turns a 409 approval-required into a new list to approve", () => {
    expect(isApprovalRequired(approval)).toBe(true);
    expect(outcomeOf({ ok: false, problem: approval })).toEqual({ kind: "needs-approval", capabilities: approval.capabilities });
    const conflict: Problem = { type: "urn:lathe:problem:conflict", title: "Conflict", status: 409 };
    expect(isApprovalRequired(conflict)).toBe(false);
    expect(outcomeOf({ ok: false, problem: conflict })).toEqual({ kind: "failed", problem: conflict });
    expect(outcomeOf({ ok: true })).toEqual({ kind: "installed" });
  });

  it("keeps ticks only for capabilities still asked for", () => {
    expect([...keepTicks(new Set(["a", "old"]), ["a", "b"])]).toEqual(["a"]);
  });
});
