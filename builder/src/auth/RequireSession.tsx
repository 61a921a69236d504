import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router-dom";
import { PageMessage, Spinner } from "../ui/feedback";
import { useSession } from "./session";

/** Shows its children to a signed-in user and sends anyone else to sign in, then back. */
export function RequireSession({ children }: { children: ReactNode }) {
  const { session } = useSession();
  const location = useLocation();

  if (session.status === "checking") {
    return (
      <PageMessage title="Loading">
        <Spinner />
      </PageMessage>
    );
  }
  if (session.status === "signed-out") {
    const next = location.pathname + location.search;
    return <Navigate to={`/signin?next=${encodeURIComponent(next)}`} replace />;
  }
  return <>{children}</>;
}
