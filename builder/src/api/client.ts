// The one way the builder talks to the server: openapi-fetch over the paths generated from the
// server's OpenAPI document, so a call to a path, a parameter or a body field the server
// doesn't have is a type error. Everything is same-origin: the session cookie goes along by
// itself, and so does the Origin header the server's CSRF check compares with its base URL.
import createClient, { type Middleware } from "openapi-fetch";
import { rateLimitedDetail, retryAfterSeconds } from "./retry";
import type { components, paths } from "./schema.gen";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });

// A 401 on any call but login means the session ended (signed out elsewhere, expired, or the
// account disabled): the auth state listens and shows the sign-in page.
type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

const sessionWatch: Middleware = {
  onResponse({ request, response }) {
    if (response.status === 401 && !new URL(request.url).pathname.endsWith("/auth/login")) {
      for (const listener of unauthorizedListeners) listener();
    }
    return undefined;
  },
};
api.use(sessionWatch);

export type ApiResult<T> = { ok: true; data: T } | { ok: false; problem: Problem };

/**
 * Awaits an openapi-fetch call and folds every failure into a problem document: the server's
 * own (`application/problem+json`), a body that isn't one (a proxy's error page), or a network
 * failure. Callers show `problem.detail ?? problem.title` next to what caused it.
 */
export async function call<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<ApiResult<T>> {
  try {
    const { data, error, response } = await request;
    if (response.ok) return { ok: true, data: data as T };
    const problem = toProblem(error, response.status, response.statusText);
    if (response.status === 429) {
      return { ok: false, problem: { ...problem, detail: rateLimitedDetail(retryAfterSeconds(response.headers.get("Retry-After"))) } };
    }
    return { ok: false, problem };
  } catch (err) {
    return {
      ok: false,
      problem: {
        type: "urn:lathe:problem:network",
        title: "The server could not be reached",
        status: 0,
        detail: err instanceof Error ? err.message : null,
      },
    };
  }
}

function toProblem(error: unknown, status: number, statusText: string): Problem {
  if (error !== null && typeof error === "object" && "title" in error && "status" in error) {
    return error as Problem;
  }
  return {
    type: "about:blank",
    title: statusText || `Request failed (${status})`,
    status,
    detail: typeof error === "string" && error.length > 0 && error.length < 300 ? error : null,
  };
}

/** The sentence to show for a problem. */
export function problemMessage(problem: Problem): string {
  return problem.detail ?? problem.title;
}
