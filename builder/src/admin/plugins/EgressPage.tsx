// Instance admins: the private networks and hosts connectors (and registry downloads) may
// reach besides public addresses. The server flag's entries are shown but only its operator
// can change them.
import { useEffect, useState } from "react";
import { api, call, type Problem } from "../../api/client";
import { useLoad } from "../../api/hooks";
import { BusyButton, ProblemText, Spinner } from "../../ui/feedback";
import { InstanceAdmin } from "../AdminLayout";

export function EgressPage() {
  const { state, reload } = useLoad(() => call(api.GET("/api/v1/settings/egress")), []);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (state.status === "ok") setText(state.data.allow.join("\n"));
  }, [state.status, state.data]);

  async function save() {
    setBusy(true);
    setProblem(null);
    setSaved(false);
    const allow = text.split(/[\n,]/).map((s) => s.trim()).filter((s) => s !== "");
    const result = await call(api.PUT("/api/v1/settings/egress", { body: { allow } }));
    setBusy(false);
    if (!result.ok) return setProblem(result.problem);
    setSaved(true);
    reload();
  }

  return (
    <InstanceAdmin>
      <div className="admin-head">
        <h1>Egress</h1>
        <span className="busy-slot">{state.status === "loading" ? <Spinner /> : null}</span>
      </div>
      <p className="muted">Connectors reach public addresses only, plus what is allowed here. Cloud metadata addresses are always refused.</p>
      <section className="panel">
        <h2>Allowed by this setting</h2>
        <textarea aria-label="Allowed networks and hosts" className="mono" rows={6} style={{ width: "100%", maxWidth: 520 }} placeholder={"10.0.0.0/8\ndb.internal"} value={text} onChange={(e) => setText(e.target.value)} disabled={busy} />
        <div className="actions-row">
          <BusyButton busy={busy} className="primary" onClick={() => void save()}>Save</BusyButton>
          <span role="status" className="state-ok">{saved ? "Saved" : ""}</span>
        </div>
        <ProblemText problem={problem ?? (state.status === "error" ? state.problem : null)} />
      </section>
      <section className="panel">
        <h2>Allowed by the server's --egress-allow flag (read-only)</h2>
        {(state.data?.flags ?? []).length === 0 ? <p className="muted">None.</p> : null}
        <ul className="mono" data-testid="egress-flags">
          {(state.data?.flags ?? []).map((f) => <li key={f}>{f}</li>)}
        </ul>
      </section>
    </InstanceAdmin>
  );
}
