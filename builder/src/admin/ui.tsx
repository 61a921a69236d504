// Pieces the administration pages share: an inline confirmation (a browser `confirm()` can't
// show a progress indicator or an error beside the button), a modal dialog, and the time format.
import { useState, type ReactNode } from "react";
import type { ApiResult, Problem } from "../api/client";
import { BusyButton, ProblemText } from "../ui/feedback";

/**
 * A button that asks once more in place before it acts, then shows the action's progress and
 * error beside itself.
 */
export function ConfirmButton({
  label,
  question,
  confirmLabel = label,
  action,
  onDone,
}: {
  label: string;
  question: string;
  confirmLabel?: string;
  action: () => Promise<ApiResult<unknown>>;
  onDone: () => void;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function confirm() {
    setBusy(true);
    setProblem(null);
    const result = await action();
    setBusy(false);
    if (result.ok) {
      setAsking(false);
      onDone();
    } else setProblem(result.problem);
  }

  if (!asking) return <button onClick={() => setAsking(true)}>{label}</button>;
  return (
    <span className="inline-form" role="group" aria-label={question}>
      <span>{question}</span>
      <BusyButton busy={busy} className="primary" onClick={() => void confirm()}>
        {confirmLabel}
      </BusyButton>
      <button onClick={() => setAsking(false)} disabled={busy}>
        Cancel
      </button>
      {problem ? <ProblemText problem={problem} /> : null}
    </span>
  );
}

/** A modal dialog over the page; Escape and the backdrop don't close it while it works. */
export function Dialog({ title, children, onClose }: { title: string; children: ReactNode; onClose: () => void }) {
  return (
    <div className="overlay" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div className="dialog" role="dialog" aria-modal="true" aria-label={title}>
        <h2>{title}</h2>
        {children}
      </div>
    </div>
  );
}

/** RFC 3339 from the API, shown in the reader's locale. */
export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <span className="muted">—</span>;
  const date = new Date(at);
  return <time dateTime={at}>{Number.isNaN(date.getTime()) ? at : date.toLocaleString()}</time>;
}
