// `/apps/{workspace}/{app}`: the released version of an app, read-only. Members who may edit
// the app also get a link to its draft; viewers see the app and nothing of the builder.
import { Link, useParams } from "react-router-dom";
import { api, call, problemMessage } from "../api/client";
import { useLoad } from "../api/hooks";
import { canOnApp, usePermissions } from "../apps/permissions";
import { Shell } from "../apps/Shell";
import { useMe } from "../auth/session";
import { PageMessage, Spinner } from "../ui/feedback";
import { RunningApp } from "./AppView";
import type { Definition } from "./runtime";

export function ViewerPage() {
  const { ws = "", app = "" } = useParams();
  const me = useMe();
  const permissions = usePermissions(ws).state.data;
  const { state } = useLoad(
    () => call(api.GET("/api/v1/workspaces/{ws}/apps/{app}", { params: { path: { ws, app } } })),
    [ws, app],
  );

  if (state.status === "loading") {
    return (
      <Shell ws={ws}>
        <PageMessage title="Opening the app">
          <Spinner />
        </PageMessage>
      </Shell>
    );
  }
  if (state.status === "error") {
    const title = state.problem.status === 404 ? "App not found" : "The app could not be opened";
    return (
      <Shell ws={ws}>
        <PageMessage title={title}>
          <p>{state.problem.status === 404 ? "It doesn't exist, isn't released yet, or you may not open it." : problemMessage(state.problem)}</p>
        </PageMessage>
      </Shell>
    );
  }

  const view = state.data;
  const canEdit = canOnApp(permissions, view.id, "edit");
  const builderControls = canEdit ? (
    <div className="builder-controls" data-testid="builder-controls">
      <Link className="button" to={`/builder/${ws}/${view.slug}`}>
        Edit draft
      </Link>
    </div>
  ) : null;

  if (!view.released) {
    return (
      <Shell ws={ws} actions={builderControls}>
        <PageMessage title={`${view.name} is not released yet`}>
          <p>Viewers will see it once a version is released.</p>
        </PageMessage>
      </Shell>
    );
  }

  return (
    <Shell
      ws={ws}
      actions={
        <>
          <span className="app-title">
            {view.name} <span className="muted">version {view.released.version}</span>
          </span>
          {builderControls}
        </>
      }
    >
      <RunningApp
        key={`${view.id}:${view.released.version}`}
        definition={view.released.definition as unknown as Definition}
        target={{ ws, app: view.slug, version: "released" }}
        user={{ id: me.user.id, email: me.user.email }}
      />
    </Shell>
  );
}
