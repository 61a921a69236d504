// Typed reading of a plugin manifest. The API documents `manifest` as a free-form object (its
// shape is the connector format's, docs/connectors.md), so each field is checked here once
// rather than cast at every use.
import type { Schemas } from "../../api/client";

export type PluginView = Schemas["PluginView"];

export type ManifestInfo = {
  id: string;
  version: string;
  name: string;
  description: string;
  kind: string;
  capabilities: string[];
  secrets: string[];
  config: unknown;
};

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);
const text = (value: unknown): string => (typeof value === "string" ? value : "");

export function manifestInfo(plugin: PluginView): ManifestInfo {
  const m = plugin.manifest as Record<string, unknown>;
  return {
    id: text(m.id),
    version: text(m.version),
    name: text(m.name) || text(m.id),
    description: text(m.description),
    kind: text(m.kind),
    capabilities: strings(m.capabilities),
    secrets: strings(m.secrets),
    config: m.config,
  };
}
