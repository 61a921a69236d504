// `/builder/{workspace}/{app}`: the app builder. It edits the draft (Editor.tsx; its preview
// runs queries as the draft's, `?version=draft`), saves it (useDraft.ts; a save refused
// because someone changed the draft meanwhile offers to reload it or to save over it) and
// releases it. Members without `edit` on the app are refused here, as the server refuses
// their draft requests.
import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useBlocker, useParams } from "react-router-dom";
import { api, call, problemMessage, type Problem } from "../api/client";
import { useLoad } from "../api/hooks";
import { canOnApp, usePermissions } from "../apps/permissions";
import { Shell } from "../apps/Shell";
import { useMe } from "../auth/session";
import { BusyButton, PageMessage, ProblemText, Spinner } from "../ui/feedback";
import type { Definition } from "../viewer/runtime";
import { Editor } from "./Editor";
import { useDraft, type Draft } from "./useDraft";
import { browserStorage, isBlank, isTrusted, trust } from "./runConsent";

export function DraftPage() {
  const { ws = "", app = "" } = useParams();
  const me = useMe();
  const permissionsLoad = usePermissions(ws).state;
  const { state, reload } = useLoad(
    () => call(api.GET("/api/v1/workspaces/{ws}/apps/{app}", { params: { path: { ws, app } } })),
    [ws, app],
  );

  if (state.status === "loading" || permissionsLoad.status === "loading") {
    return (
      <Shell ws={ws}>
        <PageMessage title="Opening the draft">
          <Spinner />
        </PageMessage>
      </Shell>
    );
  }
  const problem = state.status === "error" ? state.problem : permissionsLoad.status === "error" ? permissionsLoad.problem : null;
  if (problem || !state.data) {
    return (
      <Shell ws={ws}>
        <PageMessage title="The draft could not be opened">
          <p>{problem ? problemMessage(problem) : ""}</p>
        </PageMessage>
      </Shell>
    );
  }

  const view = state.data;
  if (!canOnApp(permissionsLoad.data, view.id, "edit") || !view.draft) {
    return (
      <Shell ws={ws}>
        <PageMessage title="You can't edit this app">
          <p data-testid="no-builder-access">
            Your role lets you use the released app. <Link to={`/apps/${ws}/${view.slug}`}>Open it</Link>
          </p>
        </PageMessage>
      </Shell>
    );
  }

  return (
    <DraftEditor
      key={view.id}
      ws={ws}
      view={{ id: view.id, slug: view.slug, name: view.name, released: view.released !== null && view.released !== undefined, changed: view.draft_changed === true }}
      initial={view.draft as unknown as Definition}
      revision={view.draft_revision ?? null}
      user={{ id: me.user.id, email: me.user.email }}
      onReleased={reload}
    />
  );
}

function DraftEditor({
  ws,
  view,
  initial,
  revision,
  user,
  onReleased,
}: {
  ws: string;
  view: { id: string; slug: string; name: string; released: boolean; changed: boolean };
  initial: Definition;
  revision: number | null;
  user: { id: string; email: string };
  onReleased(): void;
}) {
  const draft = useDraft(initial, revision, ws, view.slug);
  const { save } = draft;
  const leaving = useLeaveGuard(draft.dirty, draft.saveDraft);
  // Whether the preview may run queries is worked out from the draft it holds, in the same
  // render that brings a new one (a reload after a conflict, someone else's): an effect would
  // let the runtime's on-load runs start before it could say no.
  const [consented, setConsented] = useState<Definition | null>(null);
  const trusted = useMemo(() => isTrusted(browserStorage(), user.id, view.id, draft.saved), [draft.saved, user.id, view.id]);
  // The drafts this page let run. A save is its user's to run only when made on top of one of
  // them, or of a blank draft: saving someone else's draft, say to fix a label, is not
  // agreeing to run what they wrote. (Filled during render; adding is idempotent.)
  const agreed = useRef(new WeakSet<Definition>());
  const own = draft.ownSave;
  const ownAgreed = own !== null && draft.saved === own.definition && (agreed.current.has(own.base) || isBlank(own.base));
  const runsAllowed = trusted || draft.saved === consented || ownAgreed;
  if (runsAllowed) agreed.current.add(draft.saved);
  // What this user saves on top of what they agreed to is theirs: it runs by itself the next
  // time they open it.
  useEffect(() => {
    if (ownAgreed && own) trust(browserStorage(), user.id, view.id, own.definition);
  }, [ownAgreed, own, user.id, view.id]);
  const status = draftStatus({ dirty: draft.dirty, released: view.released, changed: view.changed });
  return (
    <Shell
      ws={ws}
      actions={
        <div className="builder-controls" data-testid="builder-controls">
          <span className="app-title" title={`${view.name}: ${status}`}>
            <span>{view.name}</span>
            <span className="muted" data-testid="draft-status">{status}</span>
          </span>
          <button type="button" aria-label="Undo" title="Undo (Ctrl+Z)" disabled={draft.history.past.length === 0} onClick={draft.undo}>
            ↶
          </button>
          <button type="button" aria-label="Redo" title="Redo (Ctrl+Shift+Z)" disabled={draft.history.future.length === 0} onClick={draft.redo}>
            ↷
          </button>
          <span className="release save-controls">
            <BusyButton busy={save.busy === "save"} disabled={!draft.dirty || save.busy !== null} onClick={() => void draft.saveDraft()}>
              {draft.dirty ? "Save" : "Saved"}
            </BusyButton>
            {save.conflict ? <SaveConflict draft={draft} /> : save.problem ? <ProblemText problem={{ ...save.problem, detail: save.target && save.target.kind !== "app" ? `${save.target.kind === "component" ? save.target.id : save.target.name}: ${save.target.message}` : save.problem.detail }} /> : null}
          </span>
          {view.released ? (
            <Link className="button" to={`/apps/${ws}/${view.slug}`}>
              Open release
            </Link>
          ) : null}
          <ReleaseButton ws={ws} app={view.slug} beforeRelease={() => (draft.dirty ? draft.saveDraft() : Promise.resolve(true))} onReleased={onReleased} />
        </div>
      }
    >
      {runsAllowed ? null : (
        <RunConsent
          onRun={() => {
            trust(browserStorage(), user.id, view.id, draft.saved);
            setConsented(draft.saved);
          }}
        />
      )}
      <Editor draft={draft} ws={ws} app={view.slug} user={user} runsAllowed={runsAllowed} />
      {leaving ? <LeaveDialog leaving={leaving} /> : null}
    </Shell>
  );
}

/**
 * A save refused because the draft changed since it was loaded: the server's message (who
 * changed it, when) and the two ways on. It hangs below the Save button, over the canvas, so
 * nothing in the top bar moves.
 */
function SaveConflict({ draft }: { draft: Draft }) {
  const { save } = draft;
  return (
    <div className="save-conflict" role="group" aria-labelledby="save-conflict-title" data-testid="save-conflict">
      <p id="save-conflict-title" className="save-conflict-title">
        {save.problem?.title ?? "The draft was changed since it was opened"}
      </p>
      <p role="alert">{save.problem ? problemMessage(save.problem) : ""}</p>
      <div className="save-conflict-actions">
        <BusyButton busy={save.busy === "reload"} disabled={save.busy !== null} onClick={() => void draft.reloadDraft()} title="Discard your unsaved changes and load the draft as it is now">
          Reload the draft
        </BusyButton>
        <BusyButton busy={save.busy === "overwrite"} disabled={save.busy !== null} onClick={() => void draft.saveMineAnyway()} title="Replace the draft with your copy">
          Save mine anyway
        </BusyButton>
      </div>
    </div>
  );
}

function ReleaseButton({ ws, app, beforeRelease, onReleased }: { ws: string; app: string; beforeRelease(): Promise<boolean>; onReleased(): void }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function release() {
    setBusy(true);
    setProblem(null);
    // Unsaved edits are saved first, so what is released is what the builder shows.
    if (!(await beforeRelease())) {
      setBusy(false);
      return;
    }
    const result = await call(
      api.POST("/api/v1/workspaces/{ws}/apps/{app}/release", { params: { path: { ws, app } }, body: {} }),
    );
    setBusy(false);
    if (result.ok) onReleased();
    else setProblem(result.problem);
  }

  return (
    <span className="release">
      <BusyButton className="primary" busy={busy} onClick={() => void release()}>
        Release draft
      </BusyButton>
      {problem ? <ProblemText problem={problem} /> : null}
    </span>
  );
}

// Shown instead of running a draft this user has not saved or agreed to run (runConsent.ts).
function RunConsent({ onRun }: { onRun(): void }) {
  return (
    <div className="run-consent" role="status" data-testid="run-consent">
      <p>
        <strong>This draft's queries have not run.</strong> It was changed by someone else since you last saved or ran it here. In the
        builder, queries run with your access: your datasources, your name in <code>{"{{ user }}"}</code>, and workspace secrets if you
        are an admin. Read its queries and event handlers before running them.
      </p>
      <button type="button" className="primary" onClick={onRun}>
        Run its queries
      </button>
    </div>
  );
}

// Unsaved changes are not dropped silently: closing or reloading the tab asks the browser's
// question, and leaving for another page of the builder asks ours.
function useLeaveGuard(dirty: boolean, save: () => Promise<boolean>) {
  useEffect(() => {
    if (!dirty) return;
    const ask = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", ask);
    return () => window.removeEventListener("beforeunload", ask);
  }, [dirty]);
  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirty && currentLocation.pathname !== nextLocation.pathname);
  const [saving, setSaving] = useState(false);
  if (blocker.state !== "blocked") return null;
  return {
    saving,
    stay: () => blocker.reset(),
    leave: () => blocker.proceed(),
    saveAndLeave: async () => {
      setSaving(true);
      const saved = await save();
      setSaving(false);
      // A refused save stays here, where its error shows beside the Save button.
      if (saved) blocker.proceed();
      else blocker.reset();
    },
  };
}

function LeaveDialog({ leaving }: { leaving: NonNullable<ReturnType<typeof useLeaveGuard>> }) {
  return (
    <div className="modal-backdrop">
      <div className="modal leave-dialog" role="alertdialog" aria-modal="true" aria-labelledby="leave-title">
        <h2 id="leave-title">Leave with unsaved changes?</h2>
        <p>The changes since your last save are only in this tab.</p>
        <div className="actions-row">
          <BusyButton busy={leaving.saving} className="primary" onClick={() => void leaving.saveAndLeave()}>
            Save and leave
          </BusyButton>
          <button type="button" onClick={leaving.leave} disabled={leaving.saving}>
            Leave without saving
          </button>
          <button type="button" onClick={leaving.stay} disabled={leaving.saving}>
            Stay
          </button>
        </div>
      </div>
    </div>
  );
}

/** The words beside the app's name: an app never released has no release to differ from. */
export function draftStatus({ dirty, released, changed }: { dirty: boolean; released: boolean; changed: boolean }): string {
  if (dirty) return "unsaved changes";
  if (!released) return "draft, not released yet";
  return changed ? "draft (changed since the release)" : "draft";
}
