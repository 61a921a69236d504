// Small pieces every page uses to show progress and errors in place, without shifting what is
// around them.
import type { ButtonHTMLAttributes, ReactNode } from "react";
import { problemMessage, type Problem } from "../api/client";

/** A spinner that takes its own fixed space; `label` is read by screen readers. */
export function Spinner({ label = "Loading" }: { label?: string }) {
  return <span className="spinner" role="status" aria-label={label} />;
}

/**
 * The error of an action, shown beside the control that caused it. The space is reserved even
 * when there is no error, so the form doesn't jump when one appears.
 */
export function ProblemText({ problem, id }: { problem: Problem | null | undefined; id?: string }) {
  return (
    <p className="problem" role={problem ? "alert" : undefined} id={id}>
      {problem ? problemMessage(problem) : "\u00a0"}
    </p>
  );
}

/** A button that shows a spinner and refuses clicks while its action runs. */
export function BusyButton({
  busy,
  children,
  ...rest
}: ButtonHTMLAttributes<HTMLButtonElement> & { busy: boolean; children: ReactNode }) {
  return (
    <button {...rest} disabled={busy || rest.disabled} aria-busy={busy}>
      <span className="busy-slot">{busy ? <Spinner label="Working" /> : null}</span>
      {children}
    </button>
  );
}

/** A centred message for a whole page: loading, not found, no access. */
export function PageMessage({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-message">
      <h1>{title}</h1>
      {children}
    </div>
  );
}
