// What the invite page makes of the server's answers. The server takes the token alone and
// adds the address the invite was sent to (whoever is signed in); it doesn't say which
// address that is before accepting, so the page can't either.
import type { Problem } from "../api/client";

/**
 * Whether the server refused because the invited address has no account yet and wants a
 * `password` for the new one (422, "this address has no account yet: send `password`").
 */
export function needsPassword(problem: Problem): boolean {
  const detail = problem.detail ?? "";
  return problem.status === 422 && /no account/i.test(detail) && /password/i.test(detail);
}

/** The sentence for a refused acceptance; a 404 covers unknown, used, expired and revoked. */
export function inviteProblemMessage(problem: Problem): string | null {
  if (problem.status === 404) return "This invite link is invalid: it expired, was revoked or was already used. Ask for a new invite.";
  return null;
}
