// The table: rows from a binding (usually `{{ queries.x.rows }}`), columns declared in props
// or taken from the first row, client-side paging, and a selected row the app can read as
// `components.<id>.selectedRow`. Cells are text nodes, never markup.
import { useMemo } from "react";
import { displayText } from "../expressions";
import type { RendererProps } from "./types";

type Column = { key: string; title: string };

const DEFAULT_PAGE_SIZE = 10;

export function columnsOf(declared: unknown, rows: readonly unknown[]): Column[] {
  if (Array.isArray(declared) && declared.length > 0) {
    return declared.flatMap((c): Column[] => {
      if (typeof c === "string") return [{ key: c, title: c }];
      if (c && typeof c === "object" && typeof (c as { key?: unknown }).key === "string") {
        const key = (c as { key: string }).key;
        const title = (c as { title?: unknown }).title;
        return [{ key, title: title === undefined ? key : displayText(title) }];
      }
      return [];
    });
  }
  const first = rows.find((r) => r !== null && typeof r === "object" && !Array.isArray(r));
  return first ? Object.keys(first).map((key) => ({ key, title: key })) : [];
}

export function cellValue(row: unknown, key: string): unknown {
  if (row === null || typeof row !== "object") return undefined;
  return Object.hasOwn(row, key) ? (row as Record<string, unknown>)[key] : undefined;
}

export function TableRenderer({ component, props, state, setState }: RendererProps) {
  const rows = useMemo(() => (Array.isArray(props.data) ? (props.data as unknown[]) : []), [props.data]);
  const columns = useMemo(() => columnsOf(props.columns, rows), [props.columns, rows]);
  const pageSize = typeof props.pageSize === "number" && props.pageSize >= 1 ? Math.floor(props.pageSize) : DEFAULT_PAGE_SIZE;
  const pages = Math.max(1, Math.ceil(rows.length / pageSize));
  const pageIndex = Math.min(typeof state.pageIndex === "number" ? state.pageIndex : 0, pages - 1);
  const shown = rows.slice(pageIndex * pageSize, (pageIndex + 1) * pageSize);
  const loading = props.loading === true;

  return (
    <div className="r-table" aria-busy={loading}>
      <div className="r-table-scroll">
        <table>
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c.key} scope="col">
                  {c.title}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((row, i) => {
              const index = pageIndex * pageSize + i;
              const selected = state.selectedRowIndex === index;
              return (
                <tr
                  key={index}
                  className={selected ? "selected" : undefined}
                  aria-selected={selected}
                  onClick={() => setState({ selectedRow: row, selectedRowIndex: index })}
                >
                  {columns.map((c) => (
                    <td key={c.key}>{displayText(cellValue(row, c.key))}</td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
        {rows.length === 0 ? <p className="r-table-empty">{loading ? "Loading…" : "No rows"}</p> : null}
      </div>
      <div className="r-table-footer">
        <span>
          {rows.length} row{rows.length === 1 ? "" : "s"}
        </span>
        <span className="pager">
          <button type="button" aria-label={`Previous page of ${component.id}`} disabled={pageIndex === 0} onClick={() => setState({ pageIndex: pageIndex - 1 })}>
            ‹
          </button>
          <span>
            {pageIndex + 1} / {pages}
          </span>
          <button type="button" aria-label={`Next page of ${component.id}`} disabled={pageIndex >= pages - 1} onClick={() => setState({ pageIndex: pageIndex + 1 })}>
            ›
          </button>
        </span>
      </div>
    </div>
  );
}
