// The root route's error element: whatever a page throws while rendering (or react-router
// refuses) ends here, as a plain page with a way home. The error itself goes to the console
// for whoever debugs; the page never shows a message or a stack trace from it.
import { useEffect } from "react";
import { isRouteErrorResponse, useRouteError } from "react-router-dom";
import { PageMessage } from "./feedback";

export function RouteError() {
  const error = useRouteError();
  useEffect(() => console.error(error), [error]);
  const notFound = isRouteErrorResponse(error) && error.status === 404;
  return (
    <main data-testid="route-error">
      <PageMessage title={notFound ? "Page not found" : "Something went wrong"}>
        <p>{notFound ? "There is no page at this address." : "This page could not be shown. Going back home usually helps; if it happens again, tell your administrator what you were doing."}</p>
        {/* A full load, not a client-side navigation: it starts the app afresh. */}
        <p>
          <a href="/">Go to the home page</a>
        </p>
      </PageMessage>
    </main>
  );
}
