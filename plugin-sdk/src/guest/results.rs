//! Building results: columns, values and results that are read in batches.

use super::{Batch, Column, ColumnType, ResultHead, Row, Value};

impl Column {
    /// A column named `name` of type `kind`, as the source calls it `source_type`.
    pub fn new(name: impl Into<String>, kind: ColumnType, source_type: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            type_: kind,
            source_type: source_type.into(),
        }
    }
}

/// Values compare by case and content; floats compare bitwise, so `NaN` equals itself.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Boolean(a), Value::Boolean(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Decimal(a), Value::Decimal(b))
            | (Value::Text(a), Value::Text(b))
            | (Value::Json(a), Value::Json(b))
            | (Value::Uuid(a), Value::Uuid(b))
            | (Value::Date(a), Value::Date(b))
            | (Value::Time(a), Value::Time(b))
            | (Value::Timestamp(a), Value::Timestamp(b))
            | (Value::Timestamptz(a), Value::Timestamptz(b))
            | (Value::Interval(a), Value::Interval(b)) => a == b,
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Float(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl Value {
    /// The value as JSON, the way the host shows it to apps.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Boolean(b) => J::Bool(*b),
            Value::Int(n) => J::from(*n),
            Value::Float(n) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
            Value::Json(text) => {
                crate::exact_json::parse(text).unwrap_or_else(|_| J::String(text.clone()))
            }
            Value::Bytes(b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
            Value::Decimal(s)
            | Value::Text(s)
            | Value::Uuid(s)
            | Value::Date(s)
            | Value::Time(s)
            | Value::Timestamp(s)
            | Value::Timestamptz(s)
            | Value::Interval(s) => J::String(s.clone()),
        }
    }

    /// The value as plain text, for protocols whose parameters are text (URL parts,
    /// headers, text-format SQL parameters). `None` for null.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Boolean(b) => Some(b.to_string()),
            Value::Int(n) => Some(n.to_string()),
            Value::Float(n) => Some(n.to_string()),
            Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Value::Json(s)
            | Value::Decimal(s)
            | Value::Text(s)
            | Value::Uuid(s)
            | Value::Date(s)
            | Value::Time(s)
            | Value::Timestamp(s)
            | Value::Timestamptz(s)
            | Value::Interval(s) => Some(s.clone()),
        }
    }

    /// A JSON document as a value: scalars map to their cases, the rest travels as JSON.
    pub fn from_json(doc: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match doc {
            J::Null => Value::Null,
            J::Bool(b) => Value::Boolean(*b),
            // Past i64, a u64 keeps its digits as a decimal rather than round to a float.
            J::Number(n) if n.is_u64() && n.as_i64().is_none() => Value::Decimal(n.to_string()),
            J::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .or_else(|| n.as_f64().map(Value::Float))
                .unwrap_or_else(|| Value::Decimal(n.to_string())),
            J::String(s) => Value::Text(s.clone()),
            other => Value::Json(other.to_string()),
        }
    }
}

/// Rows in the first batch of a buffered result; the host asks for the rest.
const FIRST_BATCH: u32 = 1_000;

/// Rows held in memory and handed to the host a batch at a time. For connectors whose
/// protocol delivers a whole result at once (HTTP APIs).
#[derive(Debug, Default)]
pub struct Buffered {
    rows: std::vec::IntoIter<Row>,
}

impl Buffered {
    /// Starts a result of at most `max_rows` rows (the request's limit; 0 for none): the
    /// head carries the columns and the first batch.
    pub fn start(
        columns: Vec<Column>,
        mut rows: Vec<Row>,
        metadata: &serde_json::Value,
        max_rows: u32,
    ) -> (Self, ResultHead) {
        let first = if max_rows == 0 {
            FIRST_BATCH
        } else {
            rows.truncate(max_rows as usize);
            FIRST_BATCH.min(max_rows)
        };
        let mut buffered = Buffered {
            rows: rows.into_iter(),
        };
        let first = buffered.next(first);
        let head = ResultHead {
            columns,
            first,
            metadata: metadata.to_string(),
        };
        (buffered, head)
    }

    /// The next `max_rows` rows.
    pub fn next(&mut self, max_rows: u32) -> Batch {
        let rows: Vec<Row> = self.rows.by_ref().take(max_rows as usize).collect();
        Batch {
            rows,
            done: self.rows.len() == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_results_come_in_batches() {
        let rows = (0..5).map(|n| vec![Value::Int(n)]).collect();
        let columns = vec![Column::new("n", ColumnType::Int, "int")];
        let (mut rest, head) = Buffered::start(columns, rows, &serde_json::json!({}), 4);
        assert_eq!(
            head.first.rows.len(),
            4,
            "the first batch is capped by the limit"
        );
        assert!(head.first.done, "rows past the limit are dropped");
        assert!(rest.next(2).rows.is_empty());

        let rows = (0..2_500).map(|n| vec![Value::Int(n)]).collect();
        let (mut rest, head) = Buffered::start(Vec::new(), rows, &serde_json::json!({}), 0);
        assert_eq!(head.first.rows.len(), 1_000);
        assert!(!head.first.done);
        assert_eq!(rest.next(1_000).rows[0], vec![Value::Int(1_000)]);
        let last = rest.next(1_000);
        assert_eq!(last.rows.len(), 500);
        assert!(last.done);
    }

    #[test]
    fn json_numbers_keep_their_kind() {
        assert_eq!(Value::from_json(&serde_json::json!(3)), Value::Int(3));
        assert_eq!(Value::from_json(&serde_json::json!(2.5)), Value::Float(2.5));
        assert_eq!(
            Value::from_json(&serde_json::json!([1])),
            Value::Json("[1]".into())
        );
    }
}
