// `/public/{workspace}/{app}`: a public app's release for anyone with the link, signed in or
// not. It reads `/api/v1/public/…` only and runs queries through the public run endpoint
// (the runtime's `public` target), so it needs no session and shows nothing of the workspace.
import { useParams } from "react-router-dom";
import { api, call, problemMessage } from "../api/client";
import { useLoad } from "../api/hooks";
import { PageMessage, Spinner } from "../ui/feedback";
import { RunningApp } from "./AppView";
import type { Definition } from "./runtime";

export function PublicAppPage() {
  const { ws = "", app = "" } = useParams();
  const { state } = useLoad(() => call(api.GET("/api/v1/public/workspaces/{ws}/apps/{app}", { params: { path: { ws, app } } })), [ws, app]);

  let title = "";
  let body;
  if (state.status === "loading") {
    body = (
      <PageMessage title="Opening the app">
        <Spinner />
      </PageMessage>
    );
  } else if (state.status === "error") {
    // The server answers the same 404 for an app that doesn't exist and one that isn't public.
    body =
      state.problem.status === 404 ? (
        <PageMessage title="App not found">
          <p>There is no public app at this address. If you have an account, sign in to open it.</p>
        </PageMessage>
      ) : (
        <PageMessage title="The app could not be opened">
          <p>{problemMessage(state.problem)}</p>
        </PageMessage>
      );
  } else {
    const view = state.data;
    title = view.name;
    body = (
      <RunningApp
        key={`${view.id}:${view.version}`}
        definition={view.definition as unknown as Definition}
        target={{ ws, app: view.slug, version: "public" }}
        user={null}
      />
    );
  }

  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Lathe</span>
        <div className="topbar-actions" style={{ justifyContent: "flex-start" }}>
          <span className="app-title" data-testid="public-app-title">
            {title}
          </span>
        </div>
        <a href="/signin">Sign in</a>
      </header>
      <main className="shell-main">{body}</main>
    </div>
  );
}
