// Instance admins: installed plugins (bundled or from a registry), roll back and remove, and
// browsing the configured registries to install or update through the approval dialog.
import { useEffect, useState } from "react";
import { api, call, type Problem, type Schemas } from "../../api/client";
import { useLoad } from "../../api/hooks";
import { BusyButton, ProblemText, Spinner } from "../../ui/feedback";
import { InstanceAdmin } from "../AdminLayout";
import { ConfirmButton, When } from "../ui";
import { newestInstallable, parseVersion, type VersionEntry } from "./approval";
import { InstallDialog, type InstallTarget } from "./InstallDialog";
import { manifestInfo, type PluginView } from "./manifest";

export function PluginsPage() {
  return (
    <InstanceAdmin>
      <Plugins />
    </InstanceAdmin>
  );
}

/**
 * `DELETE /plugins/{id}?force=true` and `GET /registries/{id}/packages?q=`: the OpenAPI
 * document declares `force` and `q` as path parameters (they are read from the query string),
 * so the typed client can't send them; these two calls build their query by hand.
 */
function removePlugin(id: string, force: boolean) {
  return call(api.DELETE("/api/v1/plugins/{id}", { params: { path: { id, force } }, querySerializer: () => (force ? "force=true" : "") }));
}

function Plugins() {
  const plugins = useLoad(() => call(api.GET("/api/v1/plugins")), []);
  const [target, setTarget] = useState<InstallTarget | null>(null);
  const installed = plugins.state.data ?? [];

  return (
    <>
      <div className="admin-head">
        <h1>Plugins</h1>
        <span className="busy-slot">{plugins.state.status === "loading" ? <Spinner /> : null}</span>
      </div>
      {plugins.state.status === "error" ? <ProblemText problem={plugins.state.problem} /> : null}
      <table className="list" aria-label="Installed plugins">
        <thead>
          <tr>
            <th>Plugin</th>
            <th>Version</th>
            <th>Source</th>
            <th>Capabilities approved</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {installed.map((p) => (
            <InstalledRow key={manifestInfo(p).id} plugin={p} onChanged={plugins.reload} />
          ))}
        </tbody>
      </table>
      <Browse installed={installed} onInstall={setTarget} />
      {target ? (
        <InstallDialog
          target={target}
          onClose={() => setTarget(null)}
          onInstalled={() => {
            setTarget(null);
            plugins.reload();
          }}
        />
      ) : null}
    </>
  );
}

function InstalledRow({ plugin, onChanged }: { plugin: PluginView; onChanged: () => void }) {
  const m = manifestInfo(plugin);
  const installed = plugin.installed;
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [needsForce, setNeedsForce] = useState(false);

  async function rollback() {
    setBusy(true);
    const result = await call(api.POST("/api/v1/plugins/{id}/rollback", { params: { path: { id: m.id } } }));
    setBusy(false);
    if (result.ok) onChanged();
    else setProblem(result.problem);
  }

  return (
    <tr data-testid="plugin-row" data-plugin={m.id}>
      <td>
        <strong>{m.name}</strong> <span className="mono muted">{m.id}</span>
      </td>
      <td className="mono">
        {m.version}
        {installed?.previous_version ? <div className="muted">previous {installed.previous_version}</div> : null}
      </td>
      <td>
        {plugin.source === "bundled" ? (
          <span className="badge">bundled</span>
        ) : (
          <>
            <span className="badge">{installed?.registry ?? "registry"}</span>
            <div className="muted mono detail-cell" title={installed?.publisher ?? "unsigned"}>
              {installed?.publisher ?? "unsigned"}
            </div>
          </>
        )}
      </td>
      <td className="mono">{(installed?.approved_capabilities ?? m.capabilities).join(", ") || "none"}</td>
      <td className="actions">
        {installed?.previous_version ? (
          <BusyButton busy={busy} onClick={() => void rollback()}>
            Roll back to {installed.previous_version}
          </BusyButton>
        ) : null}
        {plugin.source === "registry" ? (
          needsForce ? (
            <ConfirmButton label="Remove and disable them" question="Datasources use this plugin. Remove it and disable them?" action={() => removePlugin(m.id, true)} onDone={onChanged} />
          ) : (
            <ConfirmButton
              label="Remove"
              question={`Remove ${m.name}?`}
              action={async () => {
                const result = await removePlugin(m.id, false);
                // In use: offer the forced removal instead of only showing the refusal.
                if (!result.ok && result.problem.status === 409) setNeedsForce(true);
                return result;
              }}
              onDone={onChanged}
            />
          )
        ) : null}
        {installed ? <div className="muted">updated <When at={installed.updated_at} /></div> : null}
        <ProblemText problem={problem} />
      </td>
    </tr>
  );
}

function Browse({ installed, onInstall }: { installed: PluginView[]; onInstall: (target: InstallTarget) => void }) {
  const registries = useLoad(() => call(api.GET("/api/v1/registries")), []);
  const list = registries.state.data ?? [];
  const [registry, setRegistry] = useState<string>("");
  const [query, setQuery] = useState("");
  const [search, setSearch] = useState("");
  useEffect(() => {
    const timer = setTimeout(() => setSearch(query.trim()), 250);
    return () => clearTimeout(timer);
  }, [query]);
  const chosen = list.find((r) => r.id === registry) ?? list[0];

  const packages = useLoad(
    () =>
      chosen
        ? call(api.GET("/api/v1/registries/{id}/packages", { params: { path: { id: chosen.id, q: search || null } }, querySerializer: () => (search ? `q=${encodeURIComponent(search)}` : "") }))
        : Promise.resolve({ ok: true as const, data: [] as Schemas["PackageView"][] }),
    [chosen?.id, search],
  );

  return (
    <section className="panel" style={{ marginTop: 16 }} aria-label="Browse registries">
      <h2>Browse registries</h2>
      <div className="filters">
        <label>
          Registry
          <select aria-label="Registry" value={chosen?.id ?? ""} onChange={(e) => setRegistry(e.target.value)}>
            {list.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search
          <input type="search" aria-label="Search packages" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="id, name or description" />
        </label>
        <span className="busy-slot">{packages.state.status === "loading" ? <Spinner /> : null}</span>
      </div>
      {registries.state.status === "ok" && list.length === 0 ? <p className="empty">No registry is configured.</p> : null}
      {packages.state.status === "error" ? <ProblemText problem={packages.state.problem} /> : null}
      <table className="list">
        <tbody>
          {(packages.state.data ?? []).map((pkg) => {
            const versions = pkg.versions.map(parseVersion).filter((v): v is VersionEntry => v !== null);
            const newest = newestInstallable(versions);
            const current = installed.find((p) => manifestInfo(p).id === pkg.id);
            const currentVersion = current ? manifestInfo(current).version : null;
            return (
              <tr key={pkg.id} data-testid="package-row" data-package={pkg.id}>
                <td>
                  <strong>{newest?.name ?? pkg.id}</strong> <span className="mono muted">{pkg.id}</span>
                  <div className="muted">{newest?.description}</div>
                </td>
                <td className="mono">{newest?.version ?? "all yanked"}</td>
                <td>{currentVersion ? <span className="badge">installed {currentVersion}</span> : null}</td>
                <td className="actions">
                  {newest && chosen && newest.version !== currentVersion && current?.source !== "bundled" ? (
                    <button
                      className="primary"
                      onClick={() =>
                        onInstall({ id: pkg.id, registry: chosen.name, entry: newest, approved: current?.installed?.approved_capabilities ?? [], update: current !== undefined })
                      }
                    >
                      {current ? "Update" : "Install"}
                    </button>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
