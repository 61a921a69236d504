// An app's versions and importing apps, spread into the signed-in routes by routes.tsx.
import type { RouteObject } from "react-router-dom";
import { ImportPage } from "./ImportPage";
import { VersionsPage } from "./VersionsPage";

export const versionRoutes: RouteObject[] = [
  { path: "/workspaces/:ws/apps/:app/versions", element: <VersionsPage /> },
  { path: "/workspaces/:ws/import", element: <ImportPage /> },
];
