// The table: rows from a binding (usually `{{ queries.x.rows }}`), columns declared in props
// or taken from the first row, sorting by a column, a search box filtering the rows in the
// browser, paging (in the browser, or by the server when `serverSidePagination` is set: the
// table then shows `data` as the current page and fires `onPageChange` so a query re-runs
// with `components.<id>.page`/`limit`/`offset` as inputs), and a selected row the app reads
// as `components.<id>.selectedRow`. Cells are text nodes, never markup.
import { useMemo } from "react";
import { displayText } from "../expressions";
import type { RendererProps } from "./types";

type Column = { key: string; title: string };
export type SortDirection = "asc" | "desc";

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

/** Rows where any shown column's text contains `text`, ignoring case. */
export function filterRows(rows: readonly unknown[], columns: readonly Column[], text: string): unknown[] {
  const needle = text.trim().toLowerCase();
  if (needle === "") return [...rows];
  return rows.filter((row) => columns.some((c) => displayText(cellValue(row, c.key)).toLowerCase().includes(needle)));
}

/**
 * Rows sorted by one column: numbers (and numeric text, as PostgreSQL sends numerics) by
 * value, other text in the user's locale; empty cells last in both directions. Stable.
 */
export function sortRows(rows: readonly unknown[], key: string, direction: SortDirection): unknown[] {
  const sign = direction === "asc" ? 1 : -1;
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  return rows
    .map((row, index) => ({ row, index, value: cellValue(row, key) }))
    .sort((a, b) => {
      const emptyA = a.value === null || a.value === undefined || a.value === "";
      const emptyB = b.value === null || b.value === undefined || b.value === "";
      if (emptyA || emptyB) return emptyA === emptyB ? a.index - b.index : emptyA ? 1 : -1;
      const order =
        typeof a.value === "number" && typeof b.value === "number"
          ? a.value - b.value
          : collator.compare(displayText(a.value), displayText(b.value));
      return order * sign || a.index - b.index;
    })
    .map((entry) => entry.row);
}

export function TableRenderer({ component, props, state, setState, fire }: RendererProps) {
  const rows = useMemo(() => (Array.isArray(props.data) ? (props.data as unknown[]) : []), [props.data]);
  const columns = useMemo(() => columnsOf(props.columns, rows), [props.columns, rows]);
  const serverSide = props.serverSidePagination === true;
  const searchable = props.showSearch !== false && !serverSide;
  const searchText = typeof state.searchText === "string" ? state.searchText : "";
  const sortColumn = typeof state.sortColumn === "string" ? state.sortColumn : null;
  const sortDirection: SortDirection = state.sortDirection === "desc" ? "desc" : "asc";

  const visible = useMemo(() => {
    const filtered = searchable ? filterRows(rows, columns, searchText) : rows;
    return sortColumn && !serverSide ? sortRows(filtered, sortColumn, sortDirection) : filtered;
  }, [rows, columns, searchable, searchText, sortColumn, sortDirection, serverSide]);

  const pageSize = typeof props.pageSize === "number" && props.pageSize >= 1 ? Math.floor(props.pageSize) : DEFAULT_PAGE_SIZE;
  const total = serverSide && typeof props.totalRows === "number" ? props.totalRows : visible.length;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const pageIndex = Math.min(typeof state.pageIndex === "number" ? state.pageIndex : 0, pages - 1);
  const shown = serverSide ? visible.slice(0, pageSize) : visible.slice(pageIndex * pageSize, (pageIndex + 1) * pageSize);
  const loading = props.loading === true;

  const goTo = (index: number) => {
    setState({ pageIndex: index });
    fire("onPageChange");
  };
  const sortBy = (key: string) => {
    // asc → desc → unsorted, as in most data grids.
    if (sortColumn !== key) setState({ sortColumn: key, sortDirection: "asc" });
    else if (sortDirection === "asc") setState({ sortDirection: "desc" });
    else setState({ sortColumn: null, sortDirection: null });
    fire("onSort");
  };

  return (
    <div className="r-table" aria-busy={loading}>
      {searchable ? (
        <div className="r-table-search">
          <input
            type="search"
            aria-label={`Search ${component.id}`}
            placeholder="Search"
            value={searchText}
            onChange={(e) => setState({ searchText: e.target.value, pageIndex: 0 })}
          />
        </div>
      ) : null}
      <div className="r-table-scroll">
        <table>
          <thead>
            <tr>
              {columns.map((c) => {
                const sorted = sortColumn === c.key ? sortDirection : null;
                return (
                  <th key={c.key} scope="col" aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : "none"}>
                    <button type="button" className="th-sort" disabled={serverSide} onClick={() => sortBy(c.key)}>
                      {c.title}
                      <span className="sort-mark" aria-hidden="true">
                        {sorted === "asc" ? "▲" : sorted === "desc" ? "▼" : ""}
                      </span>
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {shown.map((row, i) => {
              const index = serverSide ? i : pageIndex * pageSize + i;
              const selected = state.selectedRowIndex === index && state.selectedRow === row;
              return (
                <tr
                  key={index}
                  className={selected ? "selected" : undefined}
                  aria-selected={selected}
                  onClick={() => {
                    setState({ selectedRow: row, selectedRowIndex: index });
                    fire("onRowClick");
                  }}
                >
                  {columns.map((c) => (
                    <td key={c.key}>{displayText(cellValue(row, c.key))}</td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
        {shown.length === 0 ? <p className="r-table-empty">{loading ? "Loading…" : "No rows"}</p> : null}
      </div>
      <div className="r-table-footer">
        <span>
          {total} row{total === 1 ? "" : "s"}
        </span>
        <span className="pager">
          <button type="button" aria-label={`Previous page of ${component.id}`} disabled={pageIndex === 0} onClick={() => goTo(pageIndex - 1)}>
            ‹
          </button>
          <span>
            {pageIndex + 1} / {pages}
          </span>
          <button type="button" aria-label={`Next page of ${component.id}`} disabled={pageIndex >= pages - 1} onClick={() => goTo(pageIndex + 1)}>
            ›
          </button>
        </span>
      </div>
    </div>
  );
}
