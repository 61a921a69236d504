// The inputs of a datasource form, one per field of the plugin's config schema. Secret fields
// never show a stored value: on a saved datasource they show whether one is set, with
// "Replace" (an empty password input) and "Clear"; on a new one, an empty password input.
import type { Field, FormValues, SecretEdit } from "./schemaForm";

type Props = {
  fields: readonly Field[];
  values: FormValues;
  onValue: (name: string, value: string | boolean) => void;
  errors: Record<string, string>;
  /** Warnings beside fields, shown where an error would be when there is none. */
  warnings?: Record<string, string>;
  /** Present when editing a saved datasource: each secret's stored state and its edit. */
  secrets?: { state: Record<string, string>; edits: Record<string, SecretEdit>; onEdit: (name: string, edit: SecretEdit) => void };
  disabled?: boolean;
};

export function SchemaFields({ fields, values, onValue, errors, warnings = {}, secrets, disabled }: Props) {
  return (
    <>
      {fields.map((field) => {
        const id = `field-${field.name}`;
        const errorId = `${id}-error`;
        const error = errors[field.name];
        return (
          <div key={field.name} className="form-grid-row" style={{ display: "contents" }}>
            <label htmlFor={id}>
              {field.title}
              {field.required ? <span aria-hidden="true"> *</span> : null}
            </label>
            <div className="field">
              {field.secret && secrets ? (
                <SecretInput id={id} field={field} state={secrets.state[field.name] ?? "unset"} edit={secrets.edits[field.name] ?? { mode: "keep" }} onEdit={(e) => secrets.onEdit(field.name, e)} disabled={disabled} />
              ) : (
                <Input id={id} field={field} value={values[field.name]} onValue={(v) => onValue(field.name, v)} invalid={error !== undefined} errorId={errorId} disabled={disabled} />
              )}
              {field.description ? <p className="help">{field.description}</p> : null}
              {error === undefined && warnings[field.name] ? (
                <p className="problem field-warning" id={errorId} role="status" data-testid={`warning-${field.name}`}>
                  {warnings[field.name]}
                </p>
              ) : (
                <p className="problem" id={errorId} role={error ? "alert" : undefined}>
                  {error ?? "\u00a0"}
                </p>
              )}
            </div>
          </div>
        );
      })}
    </>
  );
}

function Input({
  id,
  field,
  value,
  onValue,
  invalid,
  errorId,
  disabled,
}: {
  id: string;
  field: Field;
  value: string | boolean | undefined;
  onValue: (value: string | boolean) => void;
  invalid: boolean;
  errorId: string;
  disabled?: boolean;
}) {
  const common = { id, disabled, "aria-invalid": invalid, "aria-describedby": errorId, required: field.required };
  const text = typeof value === "string" ? value : "";
  switch (field.kind) {
    case "boolean":
      return <input {...common} type="checkbox" checked={value === true} onChange={(e) => onValue(e.target.checked)} />;
    case "enum":
      return (
        <select {...common} value={text} onChange={(e) => onValue(e.target.value)}>
          {field.required ? null : <option value="">(default)</option>}
          {(field.options ?? []).map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      );
    case "integer":
    case "number":
      return (
        <input
          {...common}
          type="number"
          inputMode={field.kind === "integer" ? "numeric" : "decimal"}
          step={field.kind === "integer" ? 1 : "any"}
          min={field.minimum}
          max={field.maximum}
          value={text}
          onChange={(e) => onValue(e.target.value)}
        />
      );
    case "textarea":
    case "json":
      return <textarea {...common} className={field.kind === "json" ? "mono" : undefined} value={text} onChange={(e) => onValue(e.target.value)} />;
    case "password":
      // A new datasource's secret: typed once, never read back.
      return <input {...common} type="password" autoComplete="new-password" value={text} onChange={(e) => onValue(e.target.value)} />;
    default:
      return <input {...common} type="text" value={text} onChange={(e) => onValue(e.target.value)} />;
  }
}

function SecretInput({
  id,
  field,
  state,
  edit,
  onEdit,
  disabled,
}: {
  id: string;
  field: Field;
  state: string;
  edit: SecretEdit;
  onEdit: (edit: SecretEdit) => void;
  disabled?: boolean;
}) {
  return (
    <div className="secret-row" data-testid={`secret-${field.name}`}>
      {edit.mode === "replace" ? (
        <input
          id={id}
          type="password"
          autoComplete="new-password"
          placeholder={`New ${field.title.toLowerCase()}`}
          value={edit.value}
          disabled={disabled}
          onChange={(e) => onEdit({ mode: "replace", value: e.target.value })}
        />
      ) : (
        <span id={id} className={`badge ${state === "set" ? "state-ok" : ""}`} data-testid="secret-state">
          {edit.mode === "clear" ? "will be cleared" : state}
        </span>
      )}
      {edit.mode === "keep" ? (
        <>
          <button type="button" disabled={disabled} onClick={() => onEdit({ mode: "replace", value: "" })}>
            {state === "set" ? "Replace" : "Set"}
          </button>
          {state === "set" ? (
            <button type="button" disabled={disabled} onClick={() => onEdit({ mode: "clear" })}>
              Clear
            </button>
          ) : null}
        </>
      ) : (
        <button type="button" disabled={disabled} onClick={() => onEdit({ mode: "keep" })}>
          Keep stored
        </button>
      )}
    </div>
  );
}
