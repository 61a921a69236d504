import { describe, expect, it } from "vitest";
import { buildConfig, destinationFields, fieldOfDetail, fieldsFromSchema, initialValues, secretDropWarnings } from "./schemaForm";

const schema = {
  type: "object",
  required: ["host", "username"],
  properties: {
    host: { type: "string", title: "Host", description: "Where it runs", minLength: 1 },
    port: { type: "integer", title: "Port", minimum: 1, maximum: 65535, default: 5432 },
    username: { type: "string", title: "User name" },
    password: { type: "string", title: "Password", writeOnly: true },
    ssl_mode: { type: "string", title: "TLS", enum: ["disable", "prefer", "require"], default: "prefer" },
    ratio: { type: "number", title: "Ratio" },
    verify: { type: "boolean", title: "Verify", default: true },
    headers: { type: "object", title: "Headers" },
    api_key: { type: "string", title: "API key" },
    ca: { type: "string", title: "CA", "x-lathe-widget": "textarea" },
  },
};
const fields = fieldsFromSchema(schema, ["api_key"]);
const byName = (name: string) => fields.find((f) => f.name === name)!;

describe("fields from a plugin's config schema", () => {
  it("keeps the schema's order, titles, descriptions and required list", () => {
    expect(fields.map((f) => f.name)).toEqual(["host", "port", "username", "password", "ssl_mode", "ratio", "verify", "headers", "api_key", "ca"]);
    expect(byName("host")).toMatchObject({ title: "Host", description: "Where it runs", required: true, kind: "text" });
    expect(byName("port").required).toBe(false);
  });

  it("picks an input per type", () => {
    expect(byName("port").kind).toBe("integer");
    expect(byName("ratio").kind).toBe("number");
    expect(byName("verify").kind).toBe("boolean");
    expect(byName("ssl_mode")).toMatchObject({ kind: "enum", options: ["disable", "prefer", "require"] });
    expect(byName("headers").kind).toBe("json");
    expect(byName("ca").kind).toBe("textarea");
  });

  it("treats writeOnly properties and the manifest's secrets as secret password fields", () => {
    expect(byName("password")).toMatchObject({ secret: true, kind: "password" });
    expect(byName("api_key")).toMatchObject({ secret: true, kind: "password" });
    expect(byName("host").secret).toBe(false);
  });

  it("returns no fields for something that isn't an object schema", () => {
    expect(fieldsFromSchema(null, [])).toEqual([]);
    expect(fieldsFromSchema({ type: "object" }, [])).toEqual([]);
  });
});

describe("starting values", () => {
  it("uses the defaults for a new datasource", () => {
    const values = initialValues(fields);
    expect(values).toMatchObject({ port: "5432", ssl_mode: "prefer", verify: true, host: "" });
  });

  it("uses the stored config when editing and never fills a secret", () => {
    const values = initialValues(fields, { host: "db", port: 6543, headers: { a: "b" }, password: "leaked?" });
    expect(values.host).toBe("db");
    expect(values.port).toBe("6543");
    expect(JSON.parse(values.headers as string)).toEqual({ a: "b" });
    expect(values.password).toBe("");
    expect(values.api_key).toBe("");
  });
});

describe("building the config", () => {
  const filled = { ...initialValues(fields), host: "127.0.0.1", username: "app" };

  it("reports every missing required field by name", () => {
    const result = buildConfig(fields, initialValues(fields));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(Object.keys(result.errors).sort()).toEqual(["host", "username"]);
  });

  it("converts numbers and checks their bounds and kind", () => {
    const ok = buildConfig(fields, { ...filled, port: " 5433 ", ratio: "0.5" });
    expect(ok).toEqual({ ok: true, config: expect.objectContaining({ port: 5433, ratio: 0.5 }) });
    for (const port of ["0", "70000", "54.5", "abc"]) {
      const bad = buildConfig(fields, { ...filled, port });
      expect(bad.ok).toBe(false);
      if (!bad.ok) expect(Object.keys(bad.errors)).toEqual(["port"]);
    }
  });

  it("leaves empty optional fields out and keeps booleans", () => {
    const result = buildConfig(fields, { ...filled, port: "", verify: false });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.config).not.toHaveProperty("port");
      expect(result.config).not.toHaveProperty("ratio");
      expect(result.config.verify).toBe(false);
    }
  });

  it("accepts only the enum's values and JSON in JSON fields", () => {
    expect(buildConfig(fields, { ...filled, ssl_mode: "sometimes" }).ok).toBe(false);
    expect(buildConfig(fields, { ...filled, headers: "{nope" }).ok).toBe(false);
    const result = buildConfig(fields, { ...filled, headers: '{"x":"1"}' });
    expect(result.ok && result.config.headers).toEqual({ x: "1" });
  });

  it("sends typed-in secrets when creating and leaves empty ones out", () => {
    const result = buildConfig(fields, { ...filled, password: "s3cret" });
    expect(result.ok && result.config).toMatchObject({ password: "s3cret" });
    expect(result.ok && "api_key" in result.config).toBe(false);
  });

  it("when editing, sends a secret only as replace (text) or clear (null), never what the form holds", () => {
    const values = { ...filled, password: "typed but not replaced" };
    const keep = buildConfig(fields, values, {});
    expect(keep.ok && "password" in keep.config).toBe(false);
    const replace = buildConfig(fields, values, { password: { mode: "replace", value: "new" }, api_key: { mode: "clear" } });
    expect(replace.ok && replace.config).toMatchObject({ password: "new", api_key: null });
  });
});

describe("placing a server error", () => {
  it("finds the field a 422 detail names", () => {
    expect(fieldOfDetail("at /config/port: 0 is less than the minimum of 1", fields)).toBe("port");
    expect(fieldOfDetail('"host" is a required property', fields)).toBe("host");
    expect(fieldOfDetail("something else", fields)).toBeNull();
    expect(fieldOfDetail(null, fields)).toBeNull();
  });
});

describe("secrets a destination change drops", () => {
  it("takes the destination fields from the capabilities and the guard mark, as the server does", () => {
    expect(destinationFields(schema, ["tcp://{host}:{port}"])).toEqual(["host", "port"]);
    expect(destinationFields(schema, ["tcp://{host}:5432", "https://{base_url}"])).toEqual(["host", "base_url"]);
    expect(destinationFields(schema, ["http://{base_url}", "ftp://{x}", "nonsense"])).toEqual(["base_url"]);
    const guarded = { properties: { ...schema.properties, ssl_mode: { ...schema.properties.ssl_mode, "x-lathe-guards-secrets": true } } };
    expect(destinationFields(guarded, ["tcp://{host}:{port}"])).toEqual(["ssl_mode", "host", "port"]);
  });

  const stored = { host: "db.internal", port: 5432, username: "app", ssl_mode: "prefer" };
  const destinations = ["host", "port"];
  const states = { password: "set", api_key: "set" };
  const values = () => ({ ...initialValues(fields, stored) });

  it("warns beside each changed destination field, naming every secret set and kept", () => {
    const changed = { ...values(), host: "elsewhere.example", port: "5432" };
    const warnings = secretDropWarnings(fields, changed, stored, destinations, states, {});
    expect(Object.keys(warnings)).toEqual(["host"]);
    expect(warnings.host).toBe("Saving with a new host drops the stored password and API key unless you enter them again.");
  });

  it("compares what would be sent: the same port typed again, or another field, warns of nothing", () => {
    expect(secretDropWarnings(fields, { ...values(), port: " 5432 " }, stored, destinations, states, {})).toEqual({});
    expect(secretDropWarnings(fields, { ...values(), username: "other" }, stored, destinations, states, {})).toEqual({});
  });

  it("leaves out secrets being replaced or cleared, and those not set", () => {
    const changed = { ...values(), port: "6543" };
    expect(secretDropWarnings(fields, changed, stored, destinations, states, { password: { mode: "replace", value: "new" } }).port).toBe(
      "Saving with a new port drops the stored API key unless you enter it again.",
    );
    expect(secretDropWarnings(fields, changed, stored, destinations, { password: "set", api_key: "unset" }, { password: { mode: "clear" } })).toEqual({});
  });
});
