// One property field of the panel. Any value may be a `{{ expression }}`: the field shows what
// it evaluates to (or its error) underneath, against the running preview's scope, and
// suggests scope names while the caret is inside `{{ }}`.
import { useId, useState } from "react";
import { displayText, resolveProps, type Scope } from "../expressions";
import type { PropKind } from "./catalog";

/** The names a binding can start with, from what the scope holds now. */
export function scopeNames(scope: Scope): string[] {
  const names: string[] = [];
  for (const [root, value] of Object.entries(scope)) {
    names.push(root);
    if (value === null || typeof value !== "object" || Array.isArray(value)) continue;
    for (const [key, inner] of Object.entries(value)) {
      names.push(`${root}.${key}`);
      if (inner !== null && typeof inner === "object" && !Array.isArray(inner) && (root === "components" || root === "queries")) {
        for (const field of Object.keys(inner)) names.push(`${root}.${key}.${field}`);
      }
    }
  }
  return names;
}

/** The dotted name being typed at `caret`, when the caret is inside an open `{{`. */
export function typedName(text: string, caret: number): string | null {
  const before = text.slice(0, caret);
  if (before.lastIndexOf("{{") <= before.lastIndexOf("}}")) return null;
  const match = /[A-Za-z_$][\w$.]*$/.exec(before);
  return match ? match[0] : null;
}

export function suggestions(names: readonly string[], typed: string | null, limit = 8): string[] {
  if (typed === null) return [];
  return names.filter((n) => n.startsWith(typed) && n !== typed).slice(0, limit);
}

export function asText(value: unknown, kind: PropKind): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (kind === "json" || typeof value === "object") return JSON.stringify(value, null, 2);
  return String(value);
}

/** Text typed into a field → the prop value: numbers and JSON parsed, bindings kept as text. */
export function fromText(text: string, kind: PropKind): unknown {
  if (text.trim() === "") return undefined;
  // JSON first: `{"search": "{{ components.x.value }}"}` is an object with a binding inside;
  // `{{ queries.list.rows }}` isn't JSON and stays a binding.
  if (kind === "json") {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  if (text.includes("{{")) return text;
  if (kind === "number") return Number.isFinite(Number(text)) ? Number(text) : text;
  return text;
}

export function BindableField({
  label,
  kind,
  value,
  scope,
  hint,
  problem,
  onChange,
}: {
  label: string;
  kind: PropKind;
  value: unknown;
  scope: Scope;
  hint?: string;
  problem?: string | null;
  onChange(value: unknown): void;
}) {
  const id = useId();
  const [caret, setCaret] = useState<number | null>(null);
  const text = asText(value, kind);
  const bound = text.includes("{{");
  const names = caret === null ? [] : suggestions(scopeNames(scope), typedName(text, caret));

  const insert = (name: string) => {
    if (caret === null) return;
    const typed = typedName(text, caret) ?? "";
    const next = text.slice(0, caret - typed.length) + name + text.slice(caret);
    onChange(fromText(next, kind));
    setCaret(caret - typed.length + name.length);
  };
  const track = (e: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) => setCaret(e.currentTarget.selectionStart);

  let input;
  if (kind === "boolean" && !bound) {
    input = <input id={id} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
  } else if (typeof kind === "object" && !bound) {
    input = (
      <select id={id} value={typeof value === "string" ? value : ""} onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}>
        <option value="">(default)</option>
        {kind.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  } else if (kind === "json") {
    input = (
      <textarea
        id={id}
        className="mono"
        rows={Math.min(6, Math.max(2, text.split("\n").length))}
        value={text}
        spellCheck={false}
        onChange={(e) => {
          onChange(fromText(e.target.value, kind));
          track(e);
        }}
        onSelect={track}
        onBlur={() => setCaret(null)}
      />
    );
  } else {
    input = (
      <input
        id={id}
        value={text}
        spellCheck={false}
        className={bound ? "mono" : undefined}
        onChange={(e) => {
          onChange(fromText(e.target.value, kind));
          track(e);
        }}
        onSelect={track}
        onBlur={() => setCaret(null)}
      />
    );
  }

  const evaluated = bound ? resolveProps({ value }, scope) : null;
  const error = evaluated?.errors.value;
  return (
    <div className={`field${kind === "boolean" && !bound ? " field-inline" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {input}
      {names.length > 0 ? (
        <ul className="suggestions" role="listbox" aria-label={`Suggestions for ${label}`}>
          {names.map((n) => (
            <li key={n} role="option" aria-selected={false} onMouseDown={(e) => (e.preventDefault(), insert(n))}>
              {n}
            </li>
          ))}
        </ul>
      ) : null}
      {problem ? (
        <p className="field-error" role="alert">
          {problem}
        </p>
      ) : error ? (
        <p className="field-error">{error}</p>
      ) : evaluated ? (
        <p className="field-value mono" title="What this evaluates to now">
          = {displayText(evaluated.values.value).slice(0, 200)}
        </p>
      ) : hint ? (
        <p className="field-hint">{hint}</p>
      ) : null}
    </div>
  );
}
