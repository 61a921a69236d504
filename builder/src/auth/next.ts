// Where to go after signing in (`/signin?next=…`). Only a path of this site is followed, never
// a URL someone put in the link: react-router refuses to navigate elsewhere by throwing, so a
// crafted `next` must be turned away here, not there.

// Control characters are dropped by URL parsing (`/\t/evil.example` becomes `//evil.example`).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** `next` when it is a same-origin path starting with a single `/`; otherwise `/`. */
export function safeNext(next: string | null, origin: string = window.location.origin): string {
  if (!next || !next.startsWith("/") || next.startsWith("//")) return "/";
  if (CONTROL.test(next) || next.includes("\\")) return "/";
  try {
    const url = new URL(next, origin);
    if (url.origin !== origin) return "/";
    return url.pathname + url.search + url.hash;
  } catch {
    return "/";
  }
}
