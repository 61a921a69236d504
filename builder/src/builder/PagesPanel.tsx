// The pages of the app in the editor's left column: switch, rename, reorder, add and delete.
// A page a handler navigates to can't be deleted: the refusal names those handlers, since the
// server would refuse the save anyway and the page's id is what they point at.
import { useEffect, useState } from "react";
import { allComponents } from "../viewer/runtime";
import * as edit from "./edit";

type Definition = edit.Definition;
type Change = (next: (d: Definition) => Definition, key?: string | null) => void;

export function PagesList({ definition, current, onSwitch, change }: { definition: Definition; current: string; onSwitch(id: string): void; change: Change }) {
  const page = definition.pages.find((p) => p.id === current);
  return (
    <div className="pages-list">
      <h2>Pages</h2>
      <ul>
        {definition.pages.map((p) => (
          <li key={p.id}>
            <button type="button" className={p.id === current ? "active" : undefined} aria-current={p.id === current ? "page" : undefined} onClick={() => onSwitch(p.id)}>
              {p.name}
            </button>
          </li>
        ))}
      </ul>
      {page ? (
        <>
          <PageName key={page.id} id={page.id} name={page.name} change={change} />
          <PageActions key={`actions-${page.id}`} definition={definition} id={page.id} onSwitch={onSwitch} change={change} />
        </>
      ) : null}
      <button
        type="button"
        disabled={definition.pages.length >= 100}
        onClick={() => {
          let id = "";
          change((d) => {
            const added = edit.addPage(d, `Page ${d.pages.length + 1}`);
            id = added.id;
            return added.definition;
          });
          // The new page's id is known once the change has run.
          window.setTimeout(() => id && onSwitch(id), 0);
        }}
      >
        Add page
      </button>
    </div>
  );
}

/**
 * The page's name as typed: it may be empty while typing (select all, then type a new one);
 * a non-empty name is applied trimmed, and leaving the field empty puts the name back.
 */
function PageName({ id, name, change }: { id: string; name: string; change: Change }) {
  const [text, setText] = useState(name);
  // Undo and redo change the name from outside; what is being typed stays as it is.
  useEffect(() => setText((t) => (t.trim() === name ? t : name)), [name]);
  return (
    <label className="field">
      Page name
      <input
        value={text}
        maxLength={100}
        onChange={(e) => {
          const value = e.target.value;
          setText(value);
          if (value.trim() !== "" && value.trim() !== name) change((d) => edit.renamePage(d, id, value.trim()), `page.${id}.name`);
        }}
        onBlur={() => setText(name)}
      />
    </label>
  );
}

function PageActions({ definition, id, onSwitch, change }: { definition: Definition; id: string; onSwitch(id: string): void; change: Change }) {
  const [asking, setAsking] = useState(false);
  const [refusal, setRefusal] = useState<string | null>(null);
  const index = definition.pages.findIndex((p) => p.id === id);
  const page = definition.pages[index];
  const last = definition.pages.length <= 1;
  if (!page) return null;
  const count = allComponents(page.components).length;

  function ask() {
    const navigators = edit.pageNavigators(definition, id);
    if (navigators.length > 0) {
      setRefusal(`Can't delete: ${navigators.join(", ")} navigate${navigators.length === 1 ? "s" : ""} to this page. Change ${navigators.length === 1 ? "that handler" : "those handlers"} first.`);
      return;
    }
    setRefusal(null);
    setAsking(true);
  }

  function remove() {
    const neighbour = definition.pages[index + 1] ?? definition.pages[index - 1];
    change((d) => edit.removePage(d, id));
    setAsking(false);
    if (neighbour) onSwitch(neighbour.id);
  }

  return (
    <div className="page-actions">
      {asking ? (
        <div className="page-confirm" role="group" aria-label="Confirm deleting the page">
          <span>
            Delete “{page.name}”{count > 0 ? ` and its ${count} component${count === 1 ? "" : "s"}` : ""}?
          </span>
          <span className="page-buttons">
            <button type="button" className="danger" onClick={remove}>
              Delete page
            </button>
            <button type="button" onClick={() => setAsking(false)}>
              Cancel
            </button>
          </span>
        </div>
      ) : (
        <span className="page-buttons">
          <button type="button" aria-label="Move page up" title="Move page up" disabled={index <= 0} onClick={() => change((d) => edit.movePage(d, id, -1))}>
            ↑
          </button>
          <button type="button" aria-label="Move page down" title="Move page down" disabled={index >= definition.pages.length - 1} onClick={() => change((d) => edit.movePage(d, id, 1))}>
            ↓
          </button>
          <button type="button" disabled={last} title={last ? "An app keeps at least one page" : undefined} onClick={ask}>
            Delete
          </button>
        </span>
      )}
      <p className="field-error page-refusal" role={refusal ? "alert" : undefined}>
        {refusal ?? "\u00a0"}
      </p>
    </div>
  );
}
