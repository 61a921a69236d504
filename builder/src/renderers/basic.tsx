// Text, button, text input, containers and forms. Every value from the app is rendered as a
// React text node, so markup in data shows as the characters it is made of.
import { useEffect, useRef, type FormEvent } from "react";
import { displayText } from "../expressions";
import type { RendererProps } from "./types";

const SIZES: Record<string, string> = { small: "text-small", medium: "text-medium", large: "text-large" };

export function TextRenderer({ props }: RendererProps) {
  const size = typeof props.size === "string" ? SIZES[props.size] : undefined;
  return <div className={`r-text ${size ?? "text-medium"}`}>{displayText(props.text)}</div>;
}

export function ButtonRenderer({ props, fire }: RendererProps) {
  const label = displayText(props.label ?? props.text) || "Button";
  return (
    <div className="r-button">
      <button
        type="button"
        className={props.variant === "secondary" ? "" : "primary"}
        disabled={props.disabled === true || props.loading === true}
        onClick={() => fire("onClick")}
      >
        {label}
      </button>
    </div>
  );
}

/**
 * Calls `fire(event)` `ms` after the last call (0: at once). A search box re-runs its query
 * once typing pauses instead of once per key.
 */
export function useDebouncedFire(fire: (event: string) => void, ms: unknown): (event: string) => void {
  const timer = useRef<number | undefined>(undefined);
  const latest = useRef(fire);
  latest.current = fire;
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const delay = typeof ms === "number" && ms > 0 ? Math.min(ms, 10_000) : 0;
  return (event) => {
    window.clearTimeout(timer.current);
    if (delay === 0) latest.current(event);
    else timer.current = window.setTimeout(() => latest.current(event), delay);
  };
}

export function TextInputRenderer({ component, props, state, setState, fire }: RendererProps) {
  const value = typeof state.value === "string" ? state.value : displayText(props.value);
  const inputId = `input-${component.id}`;
  const type = props.inputType === "email" || props.inputType === "password" ? props.inputType : "text";
  const fireLater = useDebouncedFire(fire, props.debounceMs);
  return (
    <div className="r-input">
      {props.label !== undefined ? <label htmlFor={inputId}>{displayText(props.label)}</label> : null}
      <input
        id={inputId}
        name={component.id}
        type={type}
        placeholder={displayText(props.placeholder)}
        value={value}
        required={props.required === true}
        disabled={props.disabled === true}
        onChange={(e) => {
          setState({ value: e.target.value });
          fireLater("onChange");
        }}
      />
    </div>
  );
}

/** Containers: a titled frame around their children's grid. */
export function ContainerRenderer({ props, renderChildren }: RendererProps) {
  return (
    <div className="r-container">
      {props.title !== undefined ? <div className="r-container-title">{displayText(props.title)}</div> : null}
      {renderChildren()}
    </div>
  );
}

/**
 * Forms: the browser checks `required` and input types first, then `onSubmit` handlers run
 * (typically a query, closing the modal, refreshing a list).
 */
export function FormRenderer({ props, renderChildren, fire }: RendererProps) {
  const submit = (e: FormEvent) => {
    e.preventDefault();
    fire("onSubmit");
  };
  return (
    <form className="r-container r-form" onSubmit={submit}>
      {props.title !== undefined ? <div className="r-container-title">{displayText(props.title)}</div> : null}
      {renderChildren()}
      <div className="r-form-actions">
        <button type="submit" className="primary" disabled={props.disabled === true}>
          {displayText(props.submitLabel) || "Submit"}
        </button>
      </div>
    </form>
  );
}

/** Modals are drawn by the canvas over the page; in their own cell they take no space. */
export function ModalRenderer() {
  return null;
}
