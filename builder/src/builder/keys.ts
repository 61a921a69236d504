// Which focused element the editor's Delete/Backspace shortcut may act from. It deletes the
// selected component only when focus is on the page itself (nothing focused) or on a
// component's overlay in the canvas: on a button, link, select or input of a panel, the key
// belongs to that control (or does nothing), never to the selection.

/** The little of a DOM element this needs, so it is testable without a DOM. */
export type KeyTarget = {
  tagName: string;
  classList?: { contains(name: string): boolean };
};

/** The class of the canvas overlays (EditorCanvas.tsx) that select a component. */
export const OVERLAY_CLASS = "editor-overlay";

export function deleteShortcutApplies(target: EventTarget | KeyTarget | null): boolean {
  if (!target || !("tagName" in target)) return true;
  const el = target as KeyTarget;
  const tag = el.tagName.toUpperCase();
  if (tag === "BODY" || tag === "HTML") return true;
  return el.classList?.contains(OVERLAY_CLASS) ?? false;
}
