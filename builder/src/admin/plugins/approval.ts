// What an admin must approve before a plugin is installed or updated, and how the answer of
// `POST /api/v1/plugins` moves the install dialog along. Pure, so it is unit-tested.
//
// The capabilities come from two places: the registry's index entry for the version (shown
// before the first request) and, authoritative, the 409 `approval-required` problem's
// `capabilities`, which the server sends when what was approved isn't enough (a registry
// index could be stale or lie). Installing sends exactly the list the admin ticked.
import type { Problem } from "../../api/client";

export type VersionEntry = {
  version: string;
  name?: string;
  description?: string;
  kind?: string;
  capabilities: string[];
  publisher?: string | null;
  yanked: boolean;
  published_at?: string;
};

/** Reads a registry index entry defensively: the API documents versions only as objects. */
export function parseVersion(raw: unknown): VersionEntry | null {
  if (raw === null || typeof raw !== "object") return null;
  const entry = raw as Record<string, unknown>;
  if (typeof entry.version !== "string") return null;
  const text = (key: string) => (typeof entry[key] === "string" ? (entry[key] as string) : undefined);
  return {
    version: entry.version,
    name: text("name"),
    description: text("description"),
    kind: text("kind"),
    capabilities: Array.isArray(entry.capabilities) ? entry.capabilities.filter((c): c is string => typeof c === "string") : [],
    publisher: text("publisher") ?? null,
    yanked: entry.yanked === true,
    published_at: text("published_at"),
  };
}

/** The newest version that isn't yanked (the index lists them newest last). */
export function newestInstallable(versions: readonly VersionEntry[]): VersionEntry | null {
  for (let i = versions.length - 1; i >= 0; i--) {
    const entry = versions[i];
    if (entry && !entry.yanked) return entry;
  }
  return null;
}

export type Capability = { capability: string; isNew: boolean };

/**
 * The capabilities to show for approval, marking those the installed version wasn't approved
 * for, so an update that widens what a plugin reaches stands out.
 */
export function capabilitiesToShow(requested: readonly string[], alreadyApproved: readonly string[] = []): Capability[] {
  const seen = new Set<string>();
  const out: Capability[] = [];
  for (const capability of requested) {
    if (seen.has(capability)) continue;
    seen.add(capability);
    out.push({ capability, isNew: !alreadyApproved.includes(capability) });
  }
  return out;
}

/** Whether the install button may be pressed: every listed capability is ticked. */
export function allApproved(shown: readonly Capability[], ticked: ReadonlySet<string>): boolean {
  return shown.every((c) => ticked.has(c.capability));
}

export function isApprovalRequired(problem: Problem): boolean {
  return problem.status === 409 && problem.type.endsWith(":approval-required");
}

export type InstallOutcome =
  | { kind: "installed" }
  | { kind: "needs-approval"; capabilities: string[] }
  | { kind: "failed"; problem: Problem };

/**
 * What the dialog does with an answer. A 409 `approval-required` becomes a fresh list to
 * approve (what was ticked is kept only for capabilities still on it), never a silent retry.
 */
export function outcomeOf(result: { ok: true } | { ok: false; problem: Problem }): InstallOutcome {
  if (result.ok) return { kind: "installed" };
  if (isApprovalRequired(result.problem)) return { kind: "needs-approval", capabilities: result.problem.capabilities ?? [] };
  return { kind: "failed", problem: result.problem };
}

/** Keeps the ticks that still apply to a new list of capabilities. */
export function keepTicks(ticked: ReadonlySet<string>, capabilities: readonly string[]): Set<string> {
  return new Set(capabilities.filter((c) => ticked.has(c)));
}
