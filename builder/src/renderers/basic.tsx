// Text, button and text input. Every value from the app is rendered as a React text node,
// so markup in data shows as the characters it is made of.
import { displayText } from "../expressions";
import type { RendererProps } from "./types";

const SIZES: Record<string, string> = { small: "text-small", medium: "text-medium", large: "text-large" };

export function TextRenderer({ props }: RendererProps) {
  const size = typeof props.size === "string" ? SIZES[props.size] : undefined;
  return <div className={`r-text ${size ?? "text-medium"}`}>{displayText(props.text)}</div>;
}

export function ButtonRenderer({ props }: RendererProps) {
  const label = displayText(props.label ?? props.text) || "Button";
  return (
    <div className="r-button">
      <button type="button" className={props.variant === "secondary" ? "" : "primary"} disabled={props.disabled === true}>
        {label}
      </button>
    </div>
  );
}

export function TextInputRenderer({ component, props, state, setState }: RendererProps) {
  const value = typeof state.value === "string" ? state.value : displayText(props.value);
  const inputId = `input-${component.id}`;
  const type = props.inputType === "email" || props.inputType === "password" ? props.inputType : "text";
  return (
    <div className="r-input">
      {props.label !== undefined ? <label htmlFor={inputId}>{displayText(props.label)}</label> : null}
      <input
        id={inputId}
        type={type}
        placeholder={displayText(props.placeholder)}
        value={value}
        required={props.required === true}
        disabled={props.disabled === true}
        onChange={(e) => setState({ value: e.target.value })}
      />
    </div>
  );
}

/** Containers and forms: a titled frame around their children's grid. */
export function ContainerRenderer({ component, props, renderChildren }: RendererProps) {
  return (
    <div className={`r-container ${component.type === "form" ? "r-form" : ""}`}>
      {props.title !== undefined ? <div className="r-container-title">{displayText(props.title)}</div> : null}
      {renderChildren()}
    </div>
  );
}

/** Component kinds this version of the viewer does not draw yet say so in their own space. */
export function PlaceholderRenderer({ component }: RendererProps) {
  return (
    <div className="r-placeholder" data-testid="placeholder">
      <span className="mono">{component.type}</span> “{component.id}” is not shown in this version of the viewer.
    </div>
  );
}
