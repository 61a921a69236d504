// One property field of the panel. Any value may be a `{{ expression }}`: the field shows what
// it evaluates to (or its error) underneath, against the running preview's scope, and
// suggests scope names while the caret is inside `{{ }}`.
import { useId, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
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

export type SuggestionKey = { move: number } | { pick: true } | { close: true } | null;

/**
 * What a key does while suggestions are open: arrows move the highlight (wrapping), Enter
 * and Tab take the highlighted name, Escape closes the list; anything else is the field's.
 */
export function suggestionKey(key: string, open: boolean): SuggestionKey {
  if (!open) return null;
  if (key === "ArrowDown") return { move: 1 };
  if (key === "ArrowUp") return { move: -1 };
  if (key === "Enter" || key === "Tab") return { pick: true };
  if (key === "Escape") return { close: true };
  return null;
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
  const [active, setActive] = useState(0);
  // Escape hides the list until the caret moves or the text changes.
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  const field = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const placeCaret = useRef<number | null>(null);
  const text = asText(value, kind);
  const bound = text.includes("{{");
  const names = caret === null || caret === dismissedAt ? [] : suggestions(scopeNames(scope), typedName(text, caret));
  const highlighted = Math.min(active, Math.max(0, names.length - 1));

  // After a suggestion is inserted the new value re-renders the field; the caret goes after it.
  useLayoutEffect(() => {
    if (placeCaret.current === null || !field.current) return;
    field.current.setSelectionRange(placeCaret.current, placeCaret.current);
    placeCaret.current = null;
  });

  const insert = (name: string) => {
    if (caret === null) return;
    const typed = typedName(text, caret) ?? "";
    const next = text.slice(0, caret - typed.length) + name + text.slice(caret);
    const at = caret - typed.length + name.length;
    onChange(fromText(next, kind));
    placeCaret.current = at;
    setCaret(at);
    setActive(0);
  };
  const track = (e: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) => {
    const at = e.currentTarget.selectionStart;
    if (at !== caret) {
      setCaret(at);
      setActive(0);
      setDismissedAt(null);
    }
  };
  const onKeyDown = (e: KeyboardEvent) => {
    const action = suggestionKey(e.key, names.length > 0);
    if (action === null) return;
    e.preventDefault();
    if ("move" in action) setActive((highlighted + action.move + names.length) % names.length);
    else if ("pick" in action) insert(names[highlighted] ?? "");
    else setDismissedAt(caret);
  };
  const listId = `${id}-suggestions`;
  const combobox = {
    role: "combobox",
    "aria-autocomplete": "list" as const,
    "aria-expanded": names.length > 0,
    "aria-controls": names.length > 0 ? listId : undefined,
    "aria-activedescendant": names.length > 0 ? `${listId}-${highlighted}` : undefined,
    onKeyDown,
    onSelect: track,
    onBlur: () => setCaret(null),
  };

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
        ref={field}
        className="mono"
        rows={Math.min(6, Math.max(2, text.split("\n").length))}
        value={text}
        spellCheck={false}
        {...combobox}
        onChange={(e) => {
          onChange(fromText(e.target.value, kind));
          track(e);
          setDismissedAt(null);
        }}
      />
    );
  } else {
    input = (
      <input
        id={id}
        ref={field}
        value={text}
        spellCheck={false}
        className={bound ? "mono" : undefined}
        {...combobox}
        onChange={(e) => {
          onChange(fromText(e.target.value, kind));
          track(e);
          setDismissedAt(null);
        }}
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
        <ul className="suggestions" id={listId} role="listbox" aria-label={`Suggestions for ${label}`}>
          {names.map((n, i) => (
            <li key={n} id={`${listId}-${i}`} role="option" aria-selected={i === highlighted} onMouseDown={(e) => (e.preventDefault(), insert(n))} onMouseEnter={() => setActive(i)}>
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
