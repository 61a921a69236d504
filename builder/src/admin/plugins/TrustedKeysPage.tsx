// Instance admins: whose signatures count. Removing a key stops new installs and updates
// signed by it; what is installed stays (docs/plugins.md).
import { useState, type FormEvent } from "react";
import { api, call, type Problem } from "../../api/client";
import { useLoad } from "../../api/hooks";
import { BusyButton, ProblemText, Spinner } from "../../ui/feedback";
import { InstanceAdmin } from "../AdminLayout";
import { ConfirmButton, When } from "../ui";

export function TrustedKeysPage() {
  const { state, reload } = useLoad(() => call(api.GET("/api/v1/trusted-keys")), []);
  const [name, setName] = useState("");
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function add(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await call(api.POST("/api/v1/trusted-keys", { body: { name: name.trim(), public_key: key.trim() } }));
    setBusy(false);
    if (!result.ok) return setProblem(result.problem);
    setName("");
    setKey("");
    reload();
  }

  return (
    <InstanceAdmin>
      <div className="admin-head">
        <h1>Trusted keys</h1>
        <span className="busy-slot">{state.status === "loading" ? <Spinner /> : null}</span>
      </div>
      {state.status === "error" ? <ProblemText problem={state.problem} /> : null}
      <table className="list">
        <thead>
          <tr><th>Publisher</th><th>Key</th><th>Added</th><th /></tr>
        </thead>
        <tbody>
          {(state.data ?? []).map((k) => (
            <tr key={k.id} data-testid="key-row">
              <td>{k.name}</td>
              <td className="mono detail-cell" title={k.public_key}>{k.public_key}</td>
              <td><When at={k.created_at} /></td>
              <td className="actions">
                <ConfirmButton label="Remove" question={`Stop trusting ${k.name}?`} action={() => call(api.DELETE("/api/v1/trusted-keys/{id}", { params: { path: { id: k.id } } }))} onDone={reload} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="panel inline-form" style={{ marginTop: 16 }} onSubmit={(e) => void add(e)} aria-label="Trust a key">
        <input aria-label="Publisher name" placeholder="Publisher" value={name} onChange={(e) => setName(e.target.value)} disabled={busy} />
        <input aria-label="Public key" className="mono" placeholder="ed25519:…" style={{ width: 420 }} value={key} onChange={(e) => setKey(e.target.value)} disabled={busy} />
        <BusyButton busy={busy} className="primary" type="submit">Trust key</BusyButton>
        <ProblemText problem={problem} />
      </form>
    </InstanceAdmin>
  );
}
