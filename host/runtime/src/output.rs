//! Results as the API and the CLI show them, and the limits applied while reading them.

use crate::bindings::types::{Batch, Column, ColumnType, Value};
use crate::held;
use base64::Engine as _;
use serde::Serialize;

/// A query's result: `{"columns":[{"name","type"}],"rows":[[…]],"rowCount":n,
/// "truncated":bool,"durationMs":n,"metadata":{…}}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QueryOutput {
    pub columns: Vec<ColumnOut>,
    pub rows: Vec<Vec<serde_json::Value>>,
    pub row_count: usize,
    /// Set when the result was cut at the row or byte limit.
    pub truncated: bool,
    pub duration_ms: u64,
    /// What the connector reports besides rows (HTTP status and headers, affected rows).
    pub metadata: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ColumnOut {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The type as the source names it.
    pub source_type: String,
}

pub fn type_name(kind: ColumnType) -> &'static str {
    match kind {
        ColumnType::Null => "unknown",
        ColumnType::Boolean => "boolean",
        ColumnType::Int => "int",
        ColumnType::Float => "float",
        ColumnType::Decimal => "decimal",
        ColumnType::Text => "text",
        ColumnType::Bytes => "bytes",
        ColumnType::Json => "json",
        ColumnType::Uuid => "uuid",
        ColumnType::Date => "date",
        ColumnType::Time => "time",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Timestamptz => "timestamptz",
        ColumnType::Interval => "interval",
    }
}

/// A value as JSON. Bytes become base64 text; floats that JSON can't carry become the
/// strings `NaN`, `Infinity`, `-Infinity`; a JSON value that does not parse stays text.
/// Integers are exact JSON numbers (all of i64); decimals are strings, and so is a number
/// inside a JSON value that an f64 or a 64-bit integer can't hold exactly
/// ([`lathe_plugin_sdk::exact_json`]), so that no digit is lost on the way to the API.
pub fn to_json(value: Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(b),
        Value::Int(n) => J::from(n),
        Value::Float(f) => serde_json::Number::from_f64(f)
            .map(J::Number)
            .unwrap_or_else(|| J::String(float_name(f).into())),
        Value::Json(text) => lathe_plugin_sdk::exact_json::parse(&text).unwrap_or(J::String(text)),
        Value::Bytes(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Decimal(s)
        | Value::Text(s)
        | Value::Uuid(s)
        | Value::Date(s)
        | Value::Time(s)
        | Value::Timestamp(s)
        | Value::Timestamptz(s)
        | Value::Interval(s) => J::String(s),
    }
}

fn float_name(f: f64) -> &'static str {
    if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// The most columns a result may have.
pub const MAX_COLUMNS: usize = 4_096;

/// Collects batches until the result ends or a limit is reached. The byte limit counts
/// what the host holds for each kept cell ([`crate::held`]), so that it bounds the host's
/// memory whatever the connector sends: a million `null`s cost what they occupy, not the
/// four bytes of their text.
pub(crate) struct Collector {
    columns: Vec<ColumnOut>,
    rows: Vec<Vec<serde_json::Value>>,
    bytes: usize,
    max_rows: usize,
    max_bytes: usize,
    pub(crate) truncated: bool,
}

impl Collector {
    /// Fails when the columns alone break the limits.
    pub(crate) fn new(
        columns: Vec<Column>,
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Self, String> {
        if columns.len() > MAX_COLUMNS {
            return Err(format!(
                "it returned {} columns; at most {MAX_COLUMNS} are allowed",
                columns.len()
            ));
        }
        let header: usize = columns.iter().map(column_cost).sum();
        if header > max_bytes {
            return Err("its column names alone are larger than the result limit".into());
        }
        let columns = columns
            .into_iter()
            .map(|c| ColumnOut {
                name: c.name,
                kind: type_name(c.type_),
                source_type: c.source_type,
            })
            .collect();
        Ok(Collector {
            columns,
            rows: Vec::new(),
            bytes: header,
            max_rows,
            max_bytes,
            truncated: false,
        })
    }

    /// Adds a batch; returns whether more should be read, or why the batch breaks the
    /// contract (a row whose length is not the number of columns). A row that would take
    /// the result past a limit is not kept, and the result is marked truncated.
    pub(crate) fn push(&mut self, batch: Batch) -> Result<bool, String> {
        for row in batch.rows {
            if row.len() != self.columns.len() {
                return Err(format!(
                    "it returned a row of {} values for {} columns",
                    row.len(),
                    self.columns.len()
                ));
            }
            if self.rows.len() >= self.max_rows {
                self.truncated = true;
                return Ok(false);
            }
            let Some((kept, size)) = self.convert(row) else {
                self.truncated = true;
                return Ok(false);
            };
            self.bytes += size;
            self.rows.push(kept);
        }
        Ok(!batch.done)
    }

    /// The row as JSON and what it costs, or `None` as soon as it can't fit. A JSON cell
    /// is parsed only when the bound of what parsing it costs fits.
    fn convert(&self, row: Vec<Value>) -> Option<(Vec<serde_json::Value>, usize)> {
        let room = self.max_bytes.saturating_sub(self.bytes);
        let mut size = held::ROW;
        let mut kept = Vec::with_capacity(row.len());
        for value in row {
            if let Value::Json(text) = &value
                && size + held::json_bound(text) > room
            {
                return None;
            }
            let json = to_json(value);
            size += held::cell(&json);
            if size > room {
                return None;
            }
            kept.push(json);
        }
        Some((kept, size))
    }

    /// The connector's metadata (a JSON object as text), charged to the byte limit like a
    /// cell; text that is not a JSON object counts as none.
    pub(crate) fn metadata(&mut self, text: &str) -> Result<serde_json::Value, String> {
        let empty = || serde_json::Value::Object(serde_json::Map::new());
        if matches!(text, "" | "{}") {
            return Ok(empty());
        }
        if self.bytes + held::json_bound(text) > self.max_bytes {
            return Err(format!(
                "its metadata ({} bytes of text) is larger than the result limit",
                text.len()
            ));
        }
        let metadata = serde_json::from_str(text)
            .ok()
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(empty);
        self.bytes += held::cell(&metadata);
        Ok(metadata)
    }

    /// Bytes charged so far (columns, metadata and kept rows).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Rows still wanted, plus one to learn whether the result goes on past the limit.
    pub(crate) fn wanted(&self) -> u32 {
        (self.max_rows.saturating_sub(self.rows.len()) + 1).min(u32::MAX as usize) as u32
    }

    pub(crate) fn finish(self, metadata: serde_json::Value, duration_ms: u64) -> QueryOutput {
        QueryOutput {
            row_count: self.rows.len(),
            columns: self.columns,
            rows: self.rows,
            truncated: self.truncated,
            duration_ms,
            metadata,
        }
    }
}

/// What a column's description costs: its record, its two strings and its JSON text.
fn column_cost(c: &Column) -> usize {
    const TEXT: usize = r#"{"name":,"type":"timestamptz","sourceType":},"#.len();
    std::mem::size_of::<ColumnOut>()
        + 2 * held::ALLOC_OVERHEAD
        + c.name.len()
        + c.source_type.len()
        + held::quoted(&c.name)
        + held::quoted(&c.source_type)
        + TEXT
}

/// A connector's schema (tables and columns) as JSON for the query editor and the CLI.
pub fn schema_json(schema: crate::bindings::types::Schema) -> serde_json::Value {
    let tables: Vec<serde_json::Value> = schema
        .tables
        .into_iter()
        .map(|t| {
            let columns: Vec<serde_json::Value> = t
                .columns
                .into_iter()
                .map(|c| {
                    serde_json::json!({
                        "name": c.name, "sourceType": c.source_type, "nullable": c.nullable
                    })
                })
                .collect();
            serde_json::json!({
                "schema": t.schema, "name": t.name, "kind": t.kind, "columns": columns
            })
        })
        .collect();
    serde_json::json!({ "tables": tables })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: i64, done: bool) -> Batch {
        Batch {
            rows: (0..n).map(|i| vec![Value::Int(i)]).collect(),
            done,
        }
    }

    fn column() -> Column {
        Column {
            name: "n".into(),
            type_: ColumnType::Int,
            source_type: "int".into(),
        }
    }

    #[test]
    fn rows_of_the_wrong_length_break_the_contract() {
        let mut c = Collector::new(vec![column()], 10, usize::MAX).unwrap();
        let bad = Batch {
            rows: vec![vec![Value::Int(1), Value::Int(2)]],
            done: true,
        };
        assert!(c.push(bad).unwrap_err().contains("2 values for 1 columns"));
        let many = vec![column(); MAX_COLUMNS + 1];
        assert!(Collector::new(many, 10, usize::MAX).is_err());
    }

    #[test]
    fn row_limit_truncates() {
        let mut c = Collector::new(vec![column()], 3, usize::MAX).unwrap();
        assert!(!c.push(batch(5, true)).unwrap());
        let out = c.finish(serde_json::json!({}), 1);
        assert_eq!(out.row_count, 3);
        assert!(out.truncated);
    }

    #[test]
    fn exact_fit_is_not_truncated() {
        let mut c = Collector::new(vec![column()], 3, usize::MAX).unwrap();
        assert!(!c.push(batch(3, true)).unwrap());
        assert!(!c.finish(serde_json::json!({}), 1).truncated);
    }

    #[test]
    fn byte_limit_truncates() {
        let header = column_cost(&column());
        let row = held::ROW + held::cell(&serde_json::json!(0));
        let mut c = Collector::new(vec![column()], 100, header + 2 * row + row / 2).unwrap();
        c.push(batch(10, true)).unwrap();
        let out = c.finish(serde_json::json!({}), 1);
        assert_eq!(out.row_count, 2);
        assert!(out.truncated);
    }

    /// What the kept rows really occupy: each cell's slot and the rows' vectors, at the
    /// least, whatever their text.
    fn occupied(rows: &[Vec<serde_json::Value>]) -> usize {
        rows.iter()
            .map(|r| std::mem::size_of::<Vec<serde_json::Value>>() + r.len() * held::SLOT)
            .sum()
    }

    #[test]
    fn null_cells_are_charged_what_they_occupy() {
        let columns = vec![column(); 16];
        let limit = 1 << 20;
        let mut c = Collector::new(columns, usize::MAX, limit).unwrap();
        let rows = (0..100_000).map(|_| vec![Value::Null; 16]).collect();
        assert!(!c.push(Batch { rows, done: false }).unwrap());
        assert!(c.truncated);
        let bytes = c.bytes();
        let out = c.finish(serde_json::json!({}), 1);
        assert!(bytes <= limit);
        assert!(occupied(&out.rows) <= limit, "{} rows kept", out.row_count);
        assert!(serde_json::to_string(&out.rows).unwrap().len() <= limit);
    }

    #[test]
    fn json_that_expands_when_parsed_is_cut_before_it_is_parsed() {
        let json = Column {
            type_: ColumnType::Json,
            ..column()
        };
        // 200 kB of text that parses into 100,000 values of a slot or more each.
        let text = format!("[{}0]", "0,".repeat(100_000));
        let limit = 16 << 20;
        let mut c = Collector::new(vec![json.clone()], usize::MAX, limit).unwrap();
        let rows = vec![vec![Value::Json(text.clone())]];
        assert!(c.push(Batch { rows, done: true }).is_ok());
        let out = c.finish(serde_json::json!({}), 1);
        assert_eq!(out.row_count, 0);
        assert!(out.truncated);

        // The same document fits a limit that holds what it becomes.
        let mut c = Collector::new(vec![json], usize::MAX, 1 << 30).unwrap();
        let rows = vec![vec![Value::Json(text)]];
        c.push(Batch { rows, done: true }).unwrap();
        assert!(c.bytes() > 100_000 * held::SLOT);
        assert_eq!(c.finish(serde_json::json!({}), 1).row_count, 1);
    }

    #[test]
    fn metadata_is_charged_and_bounded() {
        let mut c = Collector::new(vec![column()], 10, 4096).unwrap();
        let before = c.bytes();
        assert_eq!(
            c.metadata(r#"{"status": 200}"#).unwrap(),
            serde_json::json!({"status": 200})
        );
        assert!(c.bytes() > before);
        assert_eq!(c.metadata("[1]").unwrap(), serde_json::json!({}));
        let huge = format!(r#"{{"a": [{}0]}}"#, "0,".repeat(10_000));
        assert!(
            c.metadata(&huge)
                .unwrap_err()
                .contains("larger than the result limit")
        );
    }

    #[test]
    fn integers_past_2_pow_53_keep_every_digit_in_the_output() {
        let doc = r#"{"id": 9007199254740993, "big": 123456789012345678901234567890,
            "fine": 0.10000000000000000001}"#;
        let row = vec![
            to_json(Value::Int(i64::MAX)),
            to_json(Value::Int(9_007_199_254_740_993)),
            to_json(Value::Decimal("123456789012345678901234567890.5".into())),
            to_json(Value::Json(doc.into())),
        ];
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"[9223372036854775807,9007199254740993,"123456789012345678901234567890.5",{"id":9007199254740993,"big":"123456789012345678901234567890","fine":"0.10000000000000000001"}]"#
        );
    }

    #[test]
    fn values_become_json() {
        assert_eq!(to_json(Value::Float(f64::NAN)), serde_json::json!("NaN"));
        assert_eq!(
            to_json(Value::Bytes(b"hi".to_vec())),
            serde_json::json!("aGk=")
        );
        assert_eq!(
            to_json(Value::Json("{\"a\":1}".into())),
            serde_json::json!({"a": 1})
        );
    }
}
