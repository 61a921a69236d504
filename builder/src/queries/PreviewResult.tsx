// A preview run's result, as a table of its rows or as the JSON the app would bind to.
import { useState } from "react";
import type { Schemas } from "../api/client";
import { displayText } from "../expressions";
import { queryResult } from "../viewer/runtime";

export function PreviewResult({ result }: { result: Schemas["RunResponse"] }) {
  const [view, setView] = useState<"table" | "json">("table");
  const state = queryResult(result);
  return (
    <div className="preview-result" data-testid="preview-result">
      <div className="preview-tabs" role="tablist">
        <button type="button" role="tab" aria-selected={view === "table"} onClick={() => setView("table")}>
          Table
        </button>
        <button type="button" role="tab" aria-selected={view === "json"} onClick={() => setView("json")}>
          JSON
        </button>
        <span className="muted">
          {state.rowCount} row{state.rowCount === 1 ? "" : "s"} in {state.durationMs} ms{state.truncated ? ", cut at the row limit" : ""}
        </span>
      </div>
      {view === "table" ? (
        <div className="preview-table">
          <table>
            <thead>
              <tr>
                {state.columns.map((c, i) => (
                  <th key={i}>{c.name}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {result.rows.slice(0, 200).map((row, i) => (
                <tr key={i}>
                  {row.map((cell, j) => (
                    <td key={j}>{displayText(cell)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <pre className="preview-json mono">{JSON.stringify(state.rows.slice(0, 200), null, 2)}</pre>
      )}
    </div>
  );
}
