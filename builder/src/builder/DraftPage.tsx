// `/builder/{workspace}/{app}`: the app builder. It edits the draft (Editor.tsx; its preview
// runs queries as the draft's, `?version=draft`), saves it (useDraft.ts; a save refused
// because someone changed the draft meanwhile offers to reload it or to save over it) and
// releases it. Members without `edit` on the app are refused here, as the server refuses
// their draft requests.
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, call, problemMessage, type Problem } from "../api/client";
import { useLoad } from "../api/hooks";
import { canOnApp, usePermissions } from "../apps/permissions";
import { Shell } from "../apps/Shell";
import { useMe } from "../auth/session";
import { BusyButton, PageMessage, ProblemText, Spinner } from "../ui/feedback";
import type { Definition } from "../viewer/runtime";
import { Editor } from "./Editor";
import { useDraft, type Draft } from "./useDraft";

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
      view={{ slug: view.slug, name: view.name, released: view.released !== null && view.released !== undefined, changed: view.draft_changed === true }}
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
  view: { slug: string; name: string; released: boolean; changed: boolean };
  initial: Definition;
  revision: number | null;
  user: { id: string; email: string };
  onReleased(): void;
}) {
  const draft = useDraft(initial, revision, ws, view.slug);
  const { save } = draft;
  return (
    <Shell
      ws={ws}
      actions={
        <div className="builder-controls" data-testid="builder-controls">
          <span className="app-title">
            {view.name} <span className="muted">{draft.dirty ? "unsaved changes" : view.changed ? "draft (changed since the release)" : "draft"}</span>
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
      <Editor draft={draft} ws={ws} app={view.slug} user={user} />
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
