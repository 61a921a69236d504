// Instance admins: where packages come from. Allowing unsigned packages is a trust decision,
// so the form says what it means before it is saved.
import { useState, type FormEvent } from "react";
import { api, call, type Problem, type Schemas } from "../../api/client";
import { useLoad } from "../../api/hooks";
import { BusyButton, ProblemText, Spinner } from "../../ui/feedback";
import { InstanceAdmin } from "../AdminLayout";
import { ConfirmButton, When } from "../ui";

type Registry = Schemas["RegistryView"];

export function RegistriesPage() {
  const { state, reload } = useLoad(() => call(api.GET("/api/v1/registries")), []);
  const [editing, setEditing] = useState<string | null>(null);
  return (
    <InstanceAdmin>
      <div className="admin-head">
        <h1>Registries</h1>
        <span className="busy-slot">{state.status === "loading" ? <Spinner /> : null}</span>
      </div>
      {state.status === "error" ? <ProblemText problem={state.problem} /> : null}
      <table className="list">
        <thead>
          <tr>
            <th>Name</th>
            <th>URL</th>
            <th>Unsigned packages</th>
            <th>Added</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(state.data ?? []).map((r) =>
            editing === r.id ? (
              <tr key={r.id}>
                <td colSpan={5}>
                  <RegistryForm registry={r} onDone={() => (setEditing(null), reload())} onCancel={() => setEditing(null)} />
                </td>
              </tr>
            ) : (
              <tr key={r.id} data-testid="registry-row">
                <td>{r.name}</td>
                <td className="mono detail-cell" title={r.url}>{r.url}</td>
                <td>{r.allow_unsigned ? <span className="state-bad">allowed</span> : "refused"}</td>
                <td><When at={r.created_at} /></td>
                <td className="actions">
                  <button onClick={() => setEditing(r.id)}>Edit</button>
                  <ConfirmButton label="Remove" question={`Remove registry ${r.name}?`} action={() => call(api.DELETE("/api/v1/registries/{id}", { params: { path: { id: r.id } } }))} onDone={reload} />
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
      <section className="panel" style={{ marginTop: 16 }}>
        <h2>Add a registry</h2>
        <RegistryForm onDone={reload} />
      </section>
    </InstanceAdmin>
  );
}

function RegistryForm({ registry, onDone, onCancel }: { registry?: Registry; onDone: () => void; onCancel?: () => void }) {
  const [name, setName] = useState(registry?.name ?? "");
  const [url, setUrl] = useState(registry?.url ?? "");
  const [unsigned, setUnsigned] = useState(registry?.allow_unsigned ?? false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const body = { name: name.trim(), url: url.trim(), allow_unsigned: unsigned };
    const result = registry
      ? await call(api.PATCH("/api/v1/registries/{id}", { params: { path: { id: registry.id } }, body }))
      : await call(api.POST("/api/v1/registries", { body }));
    setBusy(false);
    if (!result.ok) return setProblem(result.problem);
    if (!registry) {
      setName("");
      setUrl("");
      setUnsigned(false);
    }
    onDone();
  }

  return (
    <form className="inline-form" onSubmit={(e) => void submit(e)} aria-label={registry ? "Edit registry" : "Add registry"}>
      <input aria-label="Registry name" placeholder="name (a-z, 0-9, -)" value={name} onChange={(e) => setName(e.target.value)} disabled={busy} />
      <input aria-label="Registry URL" placeholder="https://… or /path/to/dir" style={{ width: 320 }} value={url} onChange={(e) => setUrl(e.target.value)} disabled={busy} />
      <label>
        <input type="checkbox" checked={unsigned} onChange={(e) => setUnsigned(e.target.checked)} disabled={busy} /> Allow unsigned packages
      </label>
      <BusyButton busy={busy} className="primary" type="submit">
        {registry ? "Save" : "Add registry"}
      </BusyButton>
      {onCancel ? <button type="button" onClick={onCancel} disabled={busy}>Cancel</button> : null}
      {unsigned ? (
        <p className="warning" style={{ flexBasis: "100%" }} role="note">
          Packages from this registry will install without a trusted signature: anyone who can write to it can put code on this server
          (still sandboxed, and only with the capabilities you approve).
        </p>
      ) : null}
      <ProblemText problem={problem} />
    </form>
  );
}
