//! Results as the API and the CLI show them, and the limits applied while reading them.

use crate::bindings::types::{Batch, Column, ColumnType, Value};
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

/// A rough size of a value in bytes, to enforce the byte limit without serialising.
fn size_of(value: &Value) -> usize {
    match value {
        Value::Null | Value::Boolean(_) => 4,
        Value::Int(_) | Value::Float(_) => 8,
        Value::Bytes(b) => b.len(),
        Value::Json(s)
        | Value::Decimal(s)
        | Value::Text(s)
        | Value::Uuid(s)
        | Value::Date(s)
        | Value::Time(s)
        | Value::Timestamp(s)
        | Value::Timestamptz(s)
        | Value::Interval(s) => s.len(),
    }
}

/// The most columns a result may have.
pub const MAX_COLUMNS: usize = 4_096;

/// Collects batches until the result ends or a limit is reached.
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
        let header: usize = columns
            .iter()
            .map(|c| c.name.len() + c.source_type.len() + 16)
            .sum();
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
    /// contract (a row whose length is not the number of columns).
    pub(crate) fn push(&mut self, batch: Batch) -> Result<bool, String> {
        for row in batch.rows {
            if row.len() != self.columns.len() {
                return Err(format!(
                    "it returned a row of {} values for {} columns",
                    row.len(),
                    self.columns.len()
                ));
            }
            let size: usize = row.iter().map(size_of).sum::<usize>() + 8;
            if self.rows.len() >= self.max_rows || self.bytes + size > self.max_bytes {
                self.truncated = true;
                return Ok(false);
            }
            self.bytes += size;
            self.rows.push(row.into_iter().map(to_json).collect());
        }
        Ok(!batch.done)
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
        // The header counts: "n" + "int" + 16 = 20 bytes, then 16 bytes a row.
        let mut c = Collector::new(vec![column()], 100, 60).unwrap();
        c.push(batch(10, true)).unwrap();
        let out = c.finish(serde_json::json!({}), 1);
        assert_eq!(out.row_count, 2);
        assert!(out.truncated);
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
