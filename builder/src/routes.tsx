// Every page of the builder and where it lives. Links the server emails point here too:
// /reset-password?token=… and /accept-invite?token=… (docs/server.md).
import { createBrowserRouter, Outlet } from "react-router-dom";
import { adminRoutes } from "./admin/routes";
import { HomePage } from "./apps/HomePage";
import { RootRedirect } from "./apps/RootRedirect";
import { InviteAcceptPage } from "./auth/InviteAcceptPage";
import { RequireSession } from "./auth/RequireSession";
import { ResetPage } from "./auth/ResetPages";
import { SignInPage } from "./auth/SignInPage";
import { DraftPage } from "./builder/DraftPage";
import { PageMessage } from "./ui/feedback";
import { RouteError } from "./ui/RouteError";
import { versionRoutes } from "./versions/routes";
import { PublicAppPage } from "./viewer/PublicAppPage";
import { ViewerPage } from "./viewer/ViewerPage";

function SignedIn() {
  return (
    <RequireSession>
      <Outlet />
    </RequireSession>
  );
}

// The root route only catches: anything a page throws (or a navigation react-router refuses)
// shows RouteError rather than react-router's developer page with a stack trace.
export const router = createBrowserRouter([
  {
    errorElement: <RouteError />,
    children: [
      { path: "/signin", element: <SignInPage /> },
      { path: "/reset", element: <ResetPage /> },
      { path: "/reset-password", element: <ResetPage /> },
      { path: "/invite", element: <InviteAcceptPage /> },
      { path: "/accept-invite", element: <InviteAcceptPage /> },
      // A public app, for anyone with the link: no session needed (the API's /public/… paths).
      { path: "/public/:ws/:app", element: <PublicAppPage /> },
      {
        element: <SignedIn />,
        children: [
          { path: "/", element: <RootRedirect /> },
          { path: "/workspaces/:ws", element: <HomePage /> },
          { path: "/apps/:ws/:app", element: <ViewerPage /> },
          { path: "/builder/:ws/:app", element: <DraftPage /> },
          ...adminRoutes,
          ...versionRoutes,
        ],
      },
      { path: "*", element: <PageMessage title="Page not found" /> },
    ],
  },
]);
