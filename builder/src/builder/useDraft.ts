// The draft being edited: an undo history of definitions, what was last saved, and the
// server's `draft_revision` that saved copy is at. Every save sends that revision back as
// `base_revision`, so a save based on a draft someone has changed since (another tab, a
// restored version) is refused with a 409 `draft-changed` instead of overwriting their work
// (docs/apps.md, "Concurrent edits"). The refusal offers two ways on: reload the draft as it
// now is, or save this copy over it knowingly.
import { useCallback, useState } from "react";
import { api, call, problemMessage, type Problem } from "../api/client";
import type * as edit from "./edit";
import { createHistory, push, redo, undo, type History } from "./history";
import { locateProblem, type SaveProblemTarget } from "./problems";

type Definition = edit.Definition;

/** What the save controls are doing: saving, or resolving a conflict one of the two ways. */
export type SaveAction = "save" | "reload" | "overwrite";

export type SaveState = {
  busy: SaveAction | null;
  problem: Problem | null;
  target: SaveProblemTarget | null;
  /** The last save was refused because the draft changed since it was loaded. */
  conflict: boolean;
};

const IDLE: SaveState = { busy: null, problem: null, target: null, conflict: false };
const DRAFT_CHANGED = "urn:lathe:problem:draft-changed";

export function useDraft(initial: Definition, initialRevision: number | null, ws: string, app: string) {
  const [history, setHistory] = useState<History<Definition>>(() => createHistory(initial));
  const [saved, setSaved] = useState<Definition>(initial);
  // The last definition this user saved (a reload brings someone else's), with the draft it
  // was made on top of: runConsent.ts trusts a save only when its user agreed to run that.
  const [ownSave, setOwnSave] = useState<{ definition: Definition; base: Definition } | null>(null);
  const [revision, setRevision] = useState<number | null>(initialRevision);
  const [save, setSave] = useState<SaveState>(IDLE);
  const change = useCallback((next: (d: Definition) => Definition, mergeKey: string | null = null) => setHistory((h) => push(h, next(h.present), mergeKey)), []);
  const path = { params: { path: { ws, app } } };

  /** Sends `definition` as based on `base`; on success it is what is saved. */
  const send = async (definition: Definition, base: number | null): Promise<boolean> => {
    const body = { definition: definition as unknown as Record<string, never>, base_revision: base };
    const result = await call(api.PATCH("/api/v1/workspaces/{ws}/apps/{app}", { ...path, body }));
    if (result.ok) {
      setSaved(definition);
      setOwnSave({ definition, base: saved });
      setRevision(result.data.draft_revision ?? null);
      setSave(IDLE);
      return true;
    }
    const problem = result.problem;
    if (problem.type === DRAFT_CHANGED) {
      setSave({ busy: null, problem, target: { kind: "app", message: problemMessage(problem) }, conflict: true });
      return false;
    }
    const target = problem.detail ? locateProblem(problem.detail, definition) : { kind: "app" as const, message: problemMessage(problem) };
    setSave({ busy: null, problem, target, conflict: false });
    return false;
  };

  /** The draft as the server has it now, or a problem shown beside the save controls. */
  const fetchCurrent = async () => {
    const result = await call(api.GET("/api/v1/workspaces/{ws}/apps/{app}", path));
    if (result.ok && result.data.draft) return result.data;
    const problem = result.ok ? { type: "about:blank", title: "The draft could not be read", status: 403, detail: null } : result.problem;
    setSave((s) => ({ ...s, busy: null, problem, target: { kind: "app", message: problemMessage(problem) } }));
    return null;
  };

  const saveDraft = async (): Promise<boolean> => {
    setSave({ ...IDLE, busy: "save" });
    return send(history.present, revision);
  };

  /** Discards the local changes (and their undo history) for the draft as it now is. */
  const reloadDraft = async (): Promise<void> => {
    setSave((s) => ({ ...s, busy: "reload" }));
    const current = await fetchCurrent();
    if (!current) return;
    const fresh = current.draft as unknown as Definition;
    setHistory(createHistory(fresh));
    setSaved(fresh);
    setRevision(current.draft_revision ?? null);
    setSave(IDLE);
  };

  /**
   * Saves the local copy over the draft: based on the revision the server has now, so that a
   * change made after the builder saw the conflict is refused again rather than lost unseen.
   */
  const saveMineAnyway = async (): Promise<boolean> => {
    setSave((s) => ({ ...s, busy: "overwrite" }));
    const current = await fetchCurrent();
    if (!current) return false;
    return send(history.present, current.draft_revision ?? null);
  };

  return {
    definition: history.present,
    history,
    /** What the server holds: the draft as loaded, last saved or reloaded. */
    saved,
    /** The last definition this user saved here and the draft it was based on, if any. */
    ownSave,
    /** The server's `draft_revision` of `saved`. */
    revision,
    dirty: history.present !== saved,
    change,
    undo: () => setHistory(undo),
    redo: () => setHistory(redo),
    save,
    saveDraft,
    reloadDraft,
    saveMineAnyway,
  };
}

export type Draft = ReturnType<typeof useDraft>;
