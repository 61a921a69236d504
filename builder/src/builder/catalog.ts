// What the builder knows about each component type: its palette entry and default size and
// props, the properties the panel edits, and the events it fires.
import type { ComponentType } from "../api/app-definition.gen";

export type PropKind = "text" | "number" | "boolean" | "json" | { options: readonly string[] };
export type PropSpec = { name: string; label: string; kind: PropKind; hint?: string };
export type TypeInfo = {
  type: ComponentType;
  label: string;
  size: { w: number; h: number };
  defaults: Record<string, unknown>;
  props: readonly PropSpec[];
  events: readonly string[];
};

const label: PropSpec = { name: "label", label: "Label", kind: "text" };
const disabled: PropSpec = { name: "disabled", label: "Disabled", kind: "boolean" };
const required: PropSpec = { name: "required", label: "Required", kind: "boolean" };
const value = (hint: string): PropSpec => ({ name: "value", label: "Initial value", kind: "text", hint });

export const CATALOG: readonly TypeInfo[] = [
  { type: "text", label: "Text", size: { w: 8, h: 1 }, defaults: { text: "Text" }, events: [],
    props: [{ name: "text", label: "Text", kind: "text" }, { name: "size", label: "Size", kind: { options: ["small", "medium", "large"] } }] },
  { type: "button", label: "Button", size: { w: 4, h: 1 }, defaults: { label: "Button" }, events: ["onClick"],
    props: [label, { name: "variant", label: "Style", kind: { options: ["primary", "secondary"] } }, disabled] },
  { type: "textInput", label: "Text input", size: { w: 8, h: 1 }, defaults: { label: "Label", placeholder: "" }, events: ["onChange"],
    props: [label, { name: "placeholder", label: "Placeholder", kind: "text" }, value("text"), { name: "debounceMs", label: "Debounce (ms)", kind: "number", hint: "wait this long after typing before onChange" }, { name: "inputType", label: "Type", kind: { options: ["text", "email", "password"] } }, required, disabled] },
  { type: "numberInput", label: "Number input", size: { w: 6, h: 1 }, defaults: { label: "Number" }, events: ["onChange"],
    props: [label, value("a number"), { name: "min", label: "Minimum", kind: "number" }, { name: "max", label: "Maximum", kind: "number" }, { name: "step", label: "Step", kind: "number" }, required, disabled] },
  { type: "select", label: "Select", size: { w: 6, h: 1 }, defaults: { label: "Select", options: ["One", "Two"] }, events: ["onChange"],
    props: [label, { name: "options", label: "Options", kind: "json", hint: 'a list: ["a", "b"] or [{"label": "A", "value": 1}]' }, value("one of the option values"), { name: "placeholder", label: "Placeholder", kind: "text" }, required, disabled] },
  { type: "checkbox", label: "Checkbox", size: { w: 4, h: 1 }, defaults: { label: "Checkbox" }, events: ["onChange"],
    props: [label, { name: "value", label: "Checked", kind: "boolean" }, disabled] },
  { type: "datePicker", label: "Date picker", size: { w: 6, h: 1 }, defaults: { label: "Date" }, events: ["onChange"],
    props: [label, value("YYYY-MM-DD"), { name: "min", label: "Earliest", kind: "text" }, { name: "max", label: "Latest", kind: "text" }, required, disabled] },
  { type: "table", label: "Table", size: { w: 24, h: 8 }, defaults: { data: "", pageSize: 10 }, events: ["onRowClick", "onPageChange", "onSort"],
    props: [
      { name: "data", label: "Data", kind: "json", hint: "rows, e.g. {{ queries.list.rows }}" },
      { name: "columns", label: "Columns", kind: "json", hint: '[{"key": "name", "title": "Name"}]; empty: all' },
      { name: "pageSize", label: "Rows per page", kind: "number" },
      { name: "showSearch", label: "Search box", kind: "boolean" },
      { name: "serverSidePagination", label: "Server-side pagination", kind: "boolean", hint: "pass components.<id>.limit and .offset to the query; re-run it onPageChange" },
      { name: "totalRows", label: "Total rows (server-side)", kind: "number" },
    ] },
  { type: "chart", label: "Chart", size: { w: 12, h: 6 }, defaults: { chartType: "bar", data: "" }, events: [],
    props: [{ name: "title", label: "Title", kind: "text" }, { name: "chartType", label: "Kind", kind: { options: ["bar", "line", "pie"] } }, { name: "data", label: "Data", kind: "json", hint: "rows, e.g. {{ queries.sales.rows }}" }, { name: "xKey", label: "Label column", kind: "text" }, { name: "yKey", label: "Value column", kind: "text" }, { name: "color", label: "Colour", kind: "text", hint: "#rrggbb" }] },
  { type: "image", label: "Image", size: { w: 6, h: 4 }, defaults: { src: "" }, events: [],
    props: [{ name: "src", label: "URL", kind: "text", hint: "https: or data:image (http: images are blocked)" }, { name: "alt", label: "Description", kind: "text" }, { name: "fit", label: "Fit", kind: { options: ["contain", "cover", "fill"] } }] },
  { type: "container", label: "Container", size: { w: 12, h: 6 }, defaults: {}, events: [],
    props: [{ name: "title", label: "Title", kind: "text" }] },
  { type: "form", label: "Form", size: { w: 12, h: 6 }, defaults: { submitLabel: "Submit" }, events: ["onSubmit"],
    props: [{ name: "title", label: "Title", kind: "text" }, { name: "submitLabel", label: "Submit label", kind: "text" }, disabled] },
  { type: "modal", label: "Modal", size: { w: 12, h: 6 }, defaults: { title: "Modal" }, events: ["onClose"],
    props: [{ name: "title", label: "Title", kind: "text" }] },
];

export const TYPE_INFO: ReadonlyMap<string, TypeInfo> = new Map(CATALOG.map((t) => [t.type, t]));

export const ACTIONS = ["runQuery", "setVariable", "showAlert", "navigate", "openUrl", "openModal", "closeModal", "setComponentValue"] as const;
