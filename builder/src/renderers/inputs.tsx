// Number input, select, checkbox and date picker. Each keeps what the user chose in its state
// (`components.<id>.value`) and fires `onChange`.
import { displayText } from "../expressions";
import { useDebouncedFire } from "./basic";
import type { RendererProps } from "./types";

function Labelled({ id, label, children }: { id: string; label: unknown; children: React.ReactNode }) {
  return (
    <div className="r-input">
      {label !== undefined ? <label htmlFor={id}>{displayText(label)}</label> : null}
      {children}
    </div>
  );
}

const finite = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

export function NumberInputRenderer({ component, props, state, setState, fire }: RendererProps) {
  const id = `input-${component.id}`;
  const current = "value" in state ? state.value : props.value;
  const fireLater = useDebouncedFire(fire, props.debounceMs);
  return (
    <Labelled id={id} label={props.label}>
      <input
        id={id}
        name={component.id}
        type="number"
        value={typeof current === "number" && Number.isFinite(current) ? String(current) : typeof current === "string" ? current : ""}
        min={finite(props.min)}
        max={finite(props.max)}
        step={finite(props.step) ?? "any"}
        placeholder={displayText(props.placeholder)}
        required={props.required === true}
        disabled={props.disabled === true}
        onChange={(e) => {
          // An empty or partial entry ("-") is null, not 0, so a query can tell "no value".
          setState({ value: e.target.value === "" || Number.isNaN(e.target.valueAsNumber) ? null : e.target.valueAsNumber });
          fireLater("onChange");
        }}
      />
    </Labelled>
  );
}

export type Option = { label: string; value: unknown };

/** Options as strings, `{label, value}` objects or plain values (a query's column, say). */
export function optionsOf(raw: unknown): Option[] {
  if (!Array.isArray(raw)) return [];
  return raw.slice(0, 5000).map((o) => {
    if (o !== null && typeof o === "object" && !Array.isArray(o) && "value" in o) {
      const option = o as { label?: unknown; value: unknown };
      return { label: displayText(option.label ?? option.value), value: option.value };
    }
    return { label: displayText(o), value: o };
  });
}

export function SelectRenderer({ component, props, state, setState, fire }: RendererProps) {
  const id = `input-${component.id}`;
  const options = optionsOf(props.options);
  const current = "value" in state ? state.value : props.value;
  const index = options.findIndex((o) => JSON.stringify(o.value) === JSON.stringify(current));
  return (
    <Labelled id={id} label={props.label}>
      <select
        id={id}
        name={component.id}
        value={index === -1 ? "" : String(index)}
        required={props.required === true}
        disabled={props.disabled === true}
        onChange={(e) => {
          const chosen = e.target.value === "" ? null : (options[Number(e.target.value)]?.value ?? null);
          setState({ value: chosen });
          fire("onChange");
        }}
      >
        <option value="">{displayText(props.placeholder) || "Choose…"}</option>
        {options.map((o, i) => (
          <option key={i} value={String(i)}>
            {o.label}
          </option>
        ))}
      </select>
    </Labelled>
  );
}

export function CheckboxRenderer({ component, props, state, setState, fire }: RendererProps) {
  const checked = "value" in state ? state.value === true : props.value === true;
  return (
    <div className="r-checkbox">
      <label>
        <input
          type="checkbox"
          name={component.id}
          checked={checked}
          disabled={props.disabled === true}
          onChange={(e) => {
            setState({ value: e.target.checked });
            fire("onChange");
          }}
        />
        {displayText(props.label)}
      </label>
    </div>
  );
}

/** Dates as `YYYY-MM-DD` text, what `<input type=date>` and SQL date literals both read. */
export function DatePickerRenderer({ component, props, state, setState, fire }: RendererProps) {
  const id = `input-${component.id}`;
  const current = "value" in state ? state.value : props.value;
  const text = typeof current === "string" && /^\d{4}-\d{2}-\d{2}/.test(current) ? current.slice(0, 10) : "";
  return (
    <Labelled id={id} label={props.label}>
      <input
        id={id}
        name={component.id}
        type="date"
        value={text}
        min={typeof props.min === "string" ? props.min : undefined}
        max={typeof props.max === "string" ? props.max : undefined}
        required={props.required === true}
        disabled={props.disabled === true}
        onChange={(e) => {
          setState({ value: e.target.value });
          fire("onChange");
        }}
      />
    </Labelled>
  );
}

/**
 * Images from a URL (usually a binding). Only https and `data:image/` sources are shown: the
 * server's Content-Security-Policy is `img-src 'self' data: https:`, so an http image would be
 * blocked without a word, and a `javascript:` or other scheme is refused outright. Either way
 * the cell says why instead.
 */
export function safeImageSource(src: unknown): string | null {
  if (typeof src !== "string" || src.trim() === "") return null;
  const text = src.trim();
  if (/^data:image\/(png|jpeg|gif|webp|avif|svg\+xml);/i.test(text)) return text;
  try {
    const url = new URL(text);
    return url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

export const IMAGE_REFUSED = "Only https: and data: images can be shown";

export function ImageRenderer({ component, props }: RendererProps) {
  const src = safeImageSource(props.src);
  if (!src) {
    return <div className="r-placeholder">{props.src === undefined || props.src === "" ? `Image “${component.id}”: set its URL` : IMAGE_REFUSED}</div>;
  }
  const fit = props.fit === "cover" || props.fit === "fill" ? props.fit : "contain";
  return <img className="r-image" src={src} alt={displayText(props.alt)} style={{ objectFit: fit }} referrerPolicy="no-referrer" />;
}
