// Saves a JSON document as a file the browser downloads. The document is serialised as data
// into a Blob, never put into the page.
export function downloadJson(fileName: string, document_: unknown): void {
  const blob = new Blob([JSON.stringify(document_, null, 2)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.click();
  // The click has handed the blob to the download; the URL can go after this task.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** The datasource names an export document uses, read defensively from an uploaded file. */
export function documentDatasources(document_: unknown): string[] {
  if (document_ === null || typeof document_ !== "object") return [];
  const names = (document_ as Record<string, unknown>).datasources;
  return Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [];
}

/**
 * The `datasource_map` the import API takes: only names the admin pointed elsewhere, since a
 * key the document doesn't use, or an unchanged one, is pointless (and the former a 422).
 */
export function datasourceMap(used: readonly string[], choices: Record<string, string>): Record<string, string> | null {
  const map: Record<string, string> = {};
  for (const name of used) {
    const target = choices[name];
    if (target && target !== name) map[name] = target;
  }
  return Object.keys(map).length > 0 ? map : null;
}

/**
 * The import form's field a refusal is about, so it shows beside it: the slug when another
 * app has it (409) or it isn't a valid slug (422 naming `slug`), the name when it is invalid.
 */
export function importProblemField(problem: { status: number; detail?: string | null }): "slug" | "name" | null {
  const detail = problem.detail ?? "";
  if (problem.status === 409 && /\bslug\b/.test(detail)) return "slug";
  if (problem.status === 422 && detail.includes("`slug`")) return "slug";
  if (problem.status === 422 && detail.includes("`name`")) return "name";
  return null;
}
