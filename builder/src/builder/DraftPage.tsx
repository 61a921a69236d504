// `/builder/{workspace}/{app}`: where the app builder will live. In this phase it previews the
// draft (its queries run as the draft's, `?version=draft`) and releases it; the canvas
// editing, property panel and queries panel build on this page. Members without `edit` on
// the app are refused here, as the server refuses their draft requests.
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, call, problemMessage, type Problem } from "../api/client";
import { useLoad } from "../api/hooks";
import { canOnApp, usePermissions } from "../apps/permissions";
import { Shell } from "../apps/Shell";
import { useMe } from "../auth/session";
import { BusyButton, PageMessage, ProblemText, Spinner } from "../ui/feedback";
import { RunningApp } from "../viewer/AppView";
import type { Definition } from "../viewer/runtime";

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
    <Shell
      ws={ws}
      actions={
        <div className="builder-controls" data-testid="builder-controls">
          <span className="app-title">
            {view.name} <span className="muted">draft{view.draft_changed ? " (changed since the release)" : ""}</span>
          </span>
          {view.released ? (
            <Link className="button" to={`/apps/${ws}/${view.slug}`}>
              Open release
            </Link>
          ) : null}
          <ReleaseButton ws={ws} app={view.slug} onReleased={reload} />
        </div>
      }
    >
      <RunningApp
        key={view.updated_at}
        definition={view.draft as unknown as Definition}
        target={{ ws, app: view.slug, version: "draft" }}
        user={{ id: me.user.id, email: me.user.email }}
      />
    </Shell>
  );
}

function ReleaseButton({ ws, app, onReleased }: { ws: string; app: string; onReleased(): void }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function release() {
    setBusy(true);
    setProblem(null);
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
