// Turns a plugin's config JSON Schema (2020-12, from its manifest) into the fields of a
// datasource form, and the typed-in values back into the `config` the API takes. Pure, so the
// rules (required, enums, numbers, write-only secrets) are unit-tested without a browser.
//
// Secrets are never prefilled: the server only says whether one is "set", so the form keeps a
// separate edit per secret field — keep what is stored, replace it, or clear it — and the
// payload says exactly that (left out, a string, or null; docs/datasources.md).

export type FieldKind = "text" | "textarea" | "password" | "integer" | "number" | "boolean" | "enum" | "json";

export type Field = {
  name: string;
  title: string;
  description?: string;
  kind: FieldKind;
  required: boolean;
  secret: boolean;
  options?: string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
};

/** What the user typed: text for every input, a boolean for checkboxes. */
export type FormValues = Record<string, string | boolean>;

export type SecretEdit = { mode: "keep" } | { mode: "replace"; value: string } | { mode: "clear" };

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function kindOf(property: JsonObject, secret: boolean): FieldKind {
  if (secret || property["x-lathe-widget"] === "password") return "password";
  if (Array.isArray(property.enum)) return "enum";
  switch (property.type) {
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "object":
    case "array":
      return "json";
    default:
      return property["x-lathe-widget"] === "textarea" ? "textarea" : "text";
  }
}

/**
 * The form's fields in the schema's property order. A property is secret when the manifest's
 * `secrets` names it or the schema marks it `writeOnly`; either way its value is never shown.
 */
export function fieldsFromSchema(schema: unknown, secrets: readonly string[]): Field[] {
  if (!isObject(schema) || !isObject(schema.properties)) return [];
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === "string") : []);
  const fields: Field[] = [];
  for (const [name, raw] of Object.entries(schema.properties)) {
    const property = isObject(raw) ? raw : {};
    const secret = secrets.includes(name) || property.writeOnly === true;
    const field: Field = {
      name,
      title: typeof property.title === "string" ? property.title : name,
      kind: kindOf(property, secret),
      required: required.has(name),
      secret,
    };
    if (typeof property.description === "string") field.description = property.description;
    if (Array.isArray(property.enum)) field.options = property.enum.map((v) => String(v));
    if (property.default !== undefined && !secret) field.default = property.default;
    if (typeof property.minimum === "number") field.minimum = property.minimum;
    if (typeof property.maximum === "number") field.maximum = property.maximum;
    if (typeof property.minLength === "number") field.minLength = property.minLength;
    fields.push(field);
  }
  return fields;
}

/**
 * The inputs' starting text: the stored configuration when editing, the schema's defaults
 * when creating. Secret fields are always empty — the browser never holds a stored secret.
 */
export function initialValues(fields: readonly Field[], config?: Record<string, unknown>): FormValues {
  const values: FormValues = {};
  for (const field of fields) {
    if (field.secret) {
      values[field.name] = "";
      continue;
    }
    const stored = config ? config[field.name] : field.default;
    if (field.kind === "boolean") values[field.name] = stored === true;
    else if (stored === undefined || stored === null) values[field.name] = "";
    else if (field.kind === "json") values[field.name] = JSON.stringify(stored, null, 2);
    else values[field.name] = String(stored);
  }
  return values;
}

export type BuildResult =
  | { ok: true; config: Record<string, unknown> }
  | { ok: false; errors: Record<string, string> };

/**
 * The `config` to send. Creating: secrets typed in are included, empty ones left out.
 * Editing (`secretEdits` given): a replaced secret is its new text, a cleared one `null`, a
 * kept one left out. Empty optional fields are left out so the plugin's defaults apply.
 */
export function buildConfig(
  fields: readonly Field[],
  values: FormValues,
  secretEdits?: Record<string, SecretEdit>,
): BuildResult {
  const config: Record<string, unknown> = {};
  const errors: Record<string, string> = {};

  for (const field of fields) {
    const raw = values[field.name];

    if (field.secret) {
      if (secretEdits) {
        const edit = secretEdits[field.name] ?? { mode: "keep" };
        if (edit.mode === "replace") config[field.name] = edit.value;
        if (edit.mode === "clear") config[field.name] = null;
      } else if (typeof raw === "string" && raw !== "") {
        config[field.name] = raw;
      } else if (field.required) {
        errors[field.name] = `${field.title} is required.`;
      }
      continue;
    }

    if (field.kind === "boolean") {
      config[field.name] = raw === true;
      continue;
    }

    const text = typeof raw === "string" ? raw : "";
    if (text.trim() === "") {
      if (field.required) errors[field.name] = `${field.title} is required.`;
      continue;
    }

    switch (field.kind) {
      case "integer":
      case "number": {
        const value = Number(text.trim());
        if (!Number.isFinite(value) || (field.kind === "integer" && !Number.isInteger(value))) {
          errors[field.name] = `${field.title} must be ${field.kind === "integer" ? "a whole number" : "a number"}.`;
        } else if (field.minimum !== undefined && value < field.minimum) {
          errors[field.name] = `${field.title} must be at least ${field.minimum}.`;
        } else if (field.maximum !== undefined && value > field.maximum) {
          errors[field.name] = `${field.title} must be at most ${field.maximum}.`;
        } else {
          config[field.name] = value;
        }
        break;
      }
      case "enum":
        if (field.options && !field.options.includes(text)) errors[field.name] = `${field.title}: choose one of the options.`;
        else config[field.name] = text;
        break;
      case "json":
        try {
          config[field.name] = JSON.parse(text) as unknown;
        } catch {
          errors[field.name] = `${field.title} must be JSON.`;
        }
        break;
      default:
        if (field.minLength !== undefined && text.length < field.minLength) {
          errors[field.name] = `${field.title} must be at least ${field.minLength} characters.`;
        } else {
          config[field.name] = text;
        }
    }
  }

  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, config };
}

/**
 * The field a server 422 is about, when its detail names one (`at /config/port: …` or a
 * quoted property name), so the message can sit beside that input.
 */
export function fieldOfDetail(detail: string | null | undefined, fields: readonly Field[]): string | null {
  if (!detail) return null;
  const pointer = /\/config\/([A-Za-z0-9_]+)/.exec(detail);
  if (pointer?.[1] && fields.some((f) => f.name === pointer[1])) return pointer[1];
  for (const field of fields) {
    if (detail.includes(`"${field.name}"`) || detail.includes(`\`${field.name}\``) || detail.includes(`'${field.name}'`)) return field.name;
  }
  return null;
}

/**
 * The configuration fields whose change makes the server drop the stored secrets that aren't
 * entered again: those a capability names as the destination (`tcp://{host}:{port}`,
 * `https://{base_url}`) and those the schema marks `"x-lathe-guards-secrets": true`. This
 * mirrors `destination_fields` in host/server/src/api/datasources.rs.
 */
export function destinationFields(configSchema: unknown, capabilities: readonly string[]): string[] {
  const fields: string[] = [];
  const properties = isObject(configSchema) && isObject(configSchema.properties) ? configSchema.properties : {};
  for (const [name, property] of Object.entries(properties)) {
    if (isObject(property) && property["x-lathe-guards-secrets"] === true) fields.push(name);
  }
  const field = (part: string) => /^\{([\p{L}\p{N}_]+)\}$/u.exec(part)?.[1];
  for (const capability of capabilities) {
    const [scheme, rest] = capability.split("://", 2);
    if (rest === undefined) continue;
    if (scheme === "tcp") {
      const colon = rest.lastIndexOf(":");
      if (colon < 0) continue;
      for (const part of [rest.slice(0, colon), rest.slice(colon + 1)]) {
        const name = field(part);
        if (name) fields.push(name);
      }
    } else if (scheme === "http" || scheme === "https") {
      const name = field(rest);
      if (name) fields.push(name);
    }
  }
  return [...new Set(fields)];
}

/**
 * Beside each destination field that would be saved with a new value, the warning that the
 * stored secrets not being entered again (set, and kept) will be dropped. The server compares
 * the stored configuration with the one sent, so this compares with what Save would send.
 */
export function secretDropWarnings(
  fields: readonly Field[],
  values: FormValues,
  stored: Record<string, unknown>,
  destinations: readonly string[],
  secretStates: Record<string, string>,
  secretEdits: Record<string, SecretEdit>,
): Record<string, string> {
  const kept = fields.filter((f) => f.secret && secretStates[f.name] === "set" && (secretEdits[f.name] ?? { mode: "keep" }).mode === "keep");
  if (kept.length === 0) return {};
  const warnings: Record<string, string> = {};
  for (const name of destinations) {
    const field = fields.find((f) => f.name === name && !f.secret);
    if (!field) continue;
    const built = buildConfig([field], values);
    // A value that doesn't build yet can't be saved either: nothing to warn about.
    if (!built.ok) continue;
    if (JSON.stringify(built.config[name]) === JSON.stringify(stored[name])) continue;
    const secrets = kept.map((f) => inSentence(f.title));
    const list = secrets.length === 1 ? secrets[0] : `${secrets.slice(0, -1).join(", ")} and ${secrets[secrets.length - 1]}`;
    warnings[name] = `Saving with a new ${inSentence(field.title)} drops the stored ${list} unless you enter ${secrets.length === 1 ? "it" : "them"} again.`;
  }
  return warnings;
}

/** A title inside a sentence: "Host" becomes "host", an acronym ("API key") stays. */
function inSentence(title: string): string {
  return /^\p{Lu}\p{Lu}/u.test(title) ? title : title.charAt(0).toLowerCase() + title.slice(1);
}
