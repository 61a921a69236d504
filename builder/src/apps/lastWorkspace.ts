// The workspace a user last opened, so that `/` returns there. Only an id is kept, and only
// as a preference: it is checked against the user's workspaces before use.
const KEY = "lathe.lastWorkspace";

export function rememberWorkspace(ws: string): void {
  try {
    localStorage.setItem(KEY, ws);
  } catch {
    // Storage may be disabled (private mode, policy): the preference is simply not kept.
  }
}

export function lastWorkspace(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}
