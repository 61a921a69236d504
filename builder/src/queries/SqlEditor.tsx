// A SQL field: a transparent textarea over a highlighted copy of its text (sql.ts), so
// typing, selection and undo stay the browser's own. Both layers use the same font metrics.
import { useRef } from "react";
import { tokenize } from "./sql";

export function SqlEditor({ id, value, onChange, label }: { id?: string; value: string; onChange(value: string): void; label: string }) {
  const pre = useRef<HTMLPreElement>(null);
  return (
    <div className="sql-editor">
      <pre ref={pre} aria-hidden="true" className="sql-highlight">
        {tokenize(value).map((t, i) => (t.kind === "plain" ? t.text : <span key={i} className={`sql-${t.kind}`}>{t.text}</span>))}
        {"\n"}
      </pre>
      <textarea
        id={id}
        aria-label={label}
        spellCheck={false}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        onScroll={(e) => {
          if (pre.current) {
            pre.current.scrollTop = e.currentTarget.scrollTop;
            pre.current.scrollLeft = e.currentTarget.scrollLeft;
          }
        }}
      />
    </div>
  );
}
