// The install and update dialog: lists the capabilities the package requests (from the
// registry index, replaced by the server's list when it answers 409 `approval-required`),
// and installs only once the admin has ticked every one of them.
import { useState } from "react";
import { api, call, type Problem } from "../../api/client";
import { BusyButton, ProblemText } from "../../ui/feedback";
import { Dialog } from "../ui";
import { allApproved, capabilitiesToShow, keepTicks, outcomeOf, type VersionEntry } from "./approval";

export type InstallTarget = { id: string; registry: string; entry: VersionEntry; approved: string[]; update: boolean };

export function InstallDialog({ target, onClose, onInstalled }: { target: InstallTarget; onClose: () => void; onInstalled: () => void }) {
  const [requested, setRequested] = useState<string[]>(target.entry.capabilities);
  const [ticked, setTicked] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const shown = capabilitiesToShow(requested, target.approved);
  const ready = allApproved(shown, ticked);

  async function install() {
    setBusy(true);
    setProblem(null);
    const result = await call(
      api.POST("/api/v1/plugins", {
        body: { id: target.id, version: target.entry.version, registry: target.registry, approve_capabilities: [...ticked] },
      }),
    );
    setBusy(false);
    const outcome = outcomeOf(result);
    if (outcome.kind === "installed") onInstalled();
    else if (outcome.kind === "needs-approval") {
      setRequested(outcome.capabilities);
      setTicked((t) => keepTicks(t, outcome.capabilities));
      setNotice("The package asks for these capabilities; approve them to continue.");
    } else setProblem(outcome.problem);
  }

  const verb = target.update ? "Update" : "Install";
  return (
    <Dialog title={`${verb} ${target.entry.name ?? target.id} ${target.entry.version}`} onClose={() => !busy && onClose()}>
      <p className="muted">
        From registry <strong>{target.registry}</strong>
        {target.entry.publisher ? (
          <>
            , signed by <span className="mono">{target.entry.publisher}</span>
          </>
        ) : (
          ", unsigned"
        )}
        .
      </p>
      <p>This connector may reach only what you approve. Approve each capability:</p>
      {shown.length === 0 ? <p className="muted">It requests no capabilities.</p> : null}
      <ul className="capabilities" aria-label="Capabilities">
        {shown.map((c) => (
          <li key={c.capability}>
            <label>
              <input
                type="checkbox"
                checked={ticked.has(c.capability)}
                disabled={busy}
                onChange={(e) =>
                  setTicked((t) => {
                    const next = new Set(t);
                    if (e.target.checked) next.add(c.capability);
                    else next.delete(c.capability);
                    return next;
                  })
                }
              />
              <span className="mono">{c.capability}</span>
              {c.isNew && target.update ? <span className="badge">new</span> : null}
            </label>
          </li>
        ))}
      </ul>
      {notice ? <p role="status">{notice}</p> : null}
      <div className="actions-row">
        <BusyButton busy={busy} className="primary" disabled={!ready} onClick={() => void install()}>
          Approve and {verb.toLowerCase()}
        </BusyButton>
        <button onClick={onClose} disabled={busy}>
          Cancel
        </button>
      </div>
      <ProblemText problem={problem} />
    </Dialog>
  );
}
