// Where a refused save points: the server's 422 `detail` starts with a JSON pointer into the
// request body (`at /definition/pages/0/components/2/props: …`, docs/apps.md). This finds
// the component or query it names, so the builder shows the error next to it.
import type { Component } from "../api/app-definition.gen";
import type { Definition } from "./edit";

export type SaveProblemTarget =
  | { kind: "component"; id: string; field: string | null; message: string }
  | { kind: "query"; name: string; field: string | null; message: string }
  | { kind: "app"; message: string };

export function locateProblem(detail: string, definition: Definition): SaveProblemTarget {
  const match = /^at (\/\S*?):?\s(.*)$/s.exec(detail);
  if (!match) return { kind: "app", message: detail };
  const message = (match[2] ?? "").trim() || detail;
  const tokens = (match[1] ?? "").split("/").slice(1).map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (tokens[0] !== "definition") return { kind: "app", message: detail };

  if (tokens[1] === "queries") {
    const query = definition.queries?.[Number(tokens[2])];
    return query ? { kind: "query", name: query.name, field: tokens[3] ?? null, message } : { kind: "app", message: detail };
  }
  if (tokens[1] !== "pages") return { kind: "app", message: detail };

  // /pages/i/components/j/children/k/…: follow the components down as far as they go.
  const page = definition.pages[Number(tokens[2])];
  let list: readonly Component[] | undefined = page?.components;
  let found: Component | null = null;
  let i = 3;
  while (list && (tokens[i] === "components" || tokens[i] === "children") && tokens[i + 1] !== undefined) {
    const next: Component | undefined = list[Number(tokens[i + 1])];
    if (!next) break;
    found = next;
    list = next.children;
    i += 2;
  }
  if (!found) return { kind: "app", message: detail };
  return { kind: "component", id: found.id, field: tokens.slice(i).join(".") || null, message };
}
