//! From PostgreSQL types to the WIT value variant.
//!
//! Results are requested in text format and each cell is converted by its column's type
//! OID. Text is what every PostgreSQL type has, it is exact for `numeric`, and the session
//! settings pinned at startup (UTC, ISO dates, ISO 8601 intervals, `extra_float_digits=3`)
//! make it stable. A cell whose text doesn't have the expected shape (for example after
//! the query changed `DateStyle`, or a date that is `infinity` or BC and so has no ISO
//! 8601 form) is passed on as `text` rather than guessed at.

use crate::array;
use crate::datetime;
use lathe_plugin_sdk::{ColumnType, Value};

/// How cells of a scalar type are converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    Int,
    Float,
    Decimal,
    Bool,
    Text,
    Bytes,
    Json,
    Uuid,
    Date,
    Time,
    TimeTz,
    Timestamp,
    Timestamptz,
    Interval,
}

/// How cells of one column are converted: a scalar, or an array of a scalar (as JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    pub scalar: Scalar,
    pub array: bool,
}

/// Known types: OID, name, conversion, whether it is an array type. The OIDs of built-in
/// types are fixed across PostgreSQL versions; types outside the table are text.
const TYPES: &[(u32, &str, Scalar, bool)] = &[
    (16, "bool", Scalar::Bool, false),
    (17, "bytea", Scalar::Bytes, false),
    (18, "char", Scalar::Text, false),
    (19, "name", Scalar::Text, false),
    (20, "int8", Scalar::Int, false),
    (21, "int2", Scalar::Int, false),
    (23, "int4", Scalar::Int, false),
    (25, "text", Scalar::Text, false),
    (26, "oid", Scalar::Int, false),
    (114, "json", Scalar::Json, false),
    (142, "xml", Scalar::Text, false),
    (700, "float4", Scalar::Float, false),
    (701, "float8", Scalar::Float, false),
    (705, "unknown", Scalar::Text, false),
    (1042, "bpchar", Scalar::Text, false),
    (1043, "varchar", Scalar::Text, false),
    (1082, "date", Scalar::Date, false),
    (1083, "time", Scalar::Time, false),
    (1114, "timestamp", Scalar::Timestamp, false),
    (1184, "timestamptz", Scalar::Timestamptz, false),
    (1186, "interval", Scalar::Interval, false),
    (1266, "timetz", Scalar::TimeTz, false),
    (1700, "numeric", Scalar::Decimal, false),
    (2950, "uuid", Scalar::Uuid, false),
    (3802, "jsonb", Scalar::Json, false),
    // Named, shown as their text form.
    (24, "regproc", Scalar::Text, false),
    (28, "xid", Scalar::Text, false),
    (600, "point", Scalar::Text, false),
    (650, "cidr", Scalar::Text, false),
    (774, "macaddr8", Scalar::Text, false),
    (790, "money", Scalar::Text, false),
    (829, "macaddr", Scalar::Text, false),
    (869, "inet", Scalar::Text, false),
    (1560, "bit", Scalar::Text, false),
    (1562, "varbit", Scalar::Text, false),
    (2205, "regclass", Scalar::Text, false),
    (2206, "regtype", Scalar::Text, false),
    (3614, "tsvector", Scalar::Text, false),
    (3615, "tsquery", Scalar::Text, false),
    (3904, "int4range", Scalar::Text, false),
    (3906, "numrange", Scalar::Text, false),
    (3908, "tsrange", Scalar::Text, false),
    (3910, "tstzrange", Scalar::Text, false),
    (3912, "daterange", Scalar::Text, false),
    (3926, "int8range", Scalar::Text, false),
    (4072, "jsonpath", Scalar::Text, false),
    (143, "_xml", Scalar::Text, true),
    (1041, "_inet", Scalar::Text, true),
    (199, "_json", Scalar::Json, true),
    (1000, "_bool", Scalar::Bool, true),
    (1001, "_bytea", Scalar::Bytes, true),
    (1002, "_char", Scalar::Text, true),
    (1003, "_name", Scalar::Text, true),
    (1005, "_int2", Scalar::Int, true),
    (1007, "_int4", Scalar::Int, true),
    (1009, "_text", Scalar::Text, true),
    (1014, "_bpchar", Scalar::Text, true),
    (1015, "_varchar", Scalar::Text, true),
    (1016, "_int8", Scalar::Int, true),
    (1021, "_float4", Scalar::Float, true),
    (1022, "_float8", Scalar::Float, true),
    (1028, "_oid", Scalar::Int, true),
    (1115, "_timestamp", Scalar::Timestamp, true),
    (1182, "_date", Scalar::Date, true),
    (1183, "_time", Scalar::Time, true),
    (1185, "_timestamptz", Scalar::Timestamptz, true),
    (1187, "_interval", Scalar::Interval, true),
    (1231, "_numeric", Scalar::Decimal, true),
    (1270, "_timetz", Scalar::TimeTz, true),
    (2951, "_uuid", Scalar::Uuid, true),
    (3807, "_jsonb", Scalar::Json, true),
];

/// What the connector knows of a column's type: how to convert it, the column type it
/// reports and the name the source gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Type {
    pub decoder: Decoder,
    pub column: ColumnType,
    pub name: String,
}

impl Type {
    pub fn new(decoder: Decoder, name: impl Into<String>) -> Type {
        let column = if decoder.array {
            ColumnType::Json
        } else {
            column_type(decoder.scalar)
        };
        Type {
            decoder,
            column,
            name: name.into(),
        }
    }

    /// A type the connector knows nothing of: text, named by its OID.
    pub fn unknown(oid: u32) -> Type {
        Type::new(
            Decoder {
                scalar: Scalar::Text,
                array: false,
            },
            format!("oid {oid}"),
        )
    }
}

/// A built-in type by OID, `None` for types outside the table (see `catalog` for those).
pub fn builtin(oid: u32) -> Option<Type> {
    let &(_, name, scalar, array) = TYPES.iter().find(|(o, ..)| *o == oid)?;
    let name = match name.strip_prefix('_') {
        Some(element) if array => format!("{element}[]"),
        _ => name.to_string(),
    };
    Some(Type::new(Decoder { scalar, array }, name))
}

fn column_type(scalar: Scalar) -> ColumnType {
    match scalar {
        Scalar::Int => ColumnType::Int,
        Scalar::Float => ColumnType::Float,
        Scalar::Decimal => ColumnType::Decimal,
        Scalar::Bool => ColumnType::Boolean,
        Scalar::Text => ColumnType::Text,
        Scalar::Bytes => ColumnType::Bytes,
        Scalar::Json => ColumnType::Json,
        Scalar::Uuid => ColumnType::Uuid,
        Scalar::Date => ColumnType::Date,
        Scalar::Time | Scalar::TimeTz => ColumnType::Time,
        Scalar::Timestamp => ColumnType::Timestamp,
        Scalar::Timestamptz => ColumnType::Timestamptz,
        Scalar::Interval => ColumnType::Interval,
    }
}

impl Decoder {
    /// Converts one cell; `None` is SQL NULL.
    pub fn decode(&self, cell: Option<&[u8]>) -> Value {
        let Some(bytes) = cell else {
            return Value::Null;
        };
        let text = String::from_utf8_lossy(bytes);
        if self.array {
            return match array::parse(&text, |element| {
                decode_scalar(self.scalar, element).to_json()
            }) {
                Some(doc) => Value::Json(doc.to_string()),
                None => Value::Text(text.into_owned()),
            };
        }
        decode_scalar(self.scalar, &text)
    }
}

/// Converts the text of one scalar value of a known type.
pub fn decode_scalar(scalar: Scalar, text: &str) -> Value {
    let typed = match scalar {
        Scalar::Int => text.parse().ok().map(Value::Int),
        Scalar::Float => parse_float(text).map(Value::Float),
        Scalar::Decimal => Some(Value::Decimal(text.to_string())),
        Scalar::Bool => match text {
            "t" => Some(Value::Boolean(true)),
            "f" => Some(Value::Boolean(false)),
            _ => None,
        },
        Scalar::Text => Some(Value::Text(text.to_string())),
        Scalar::Bytes => parse_hex_bytea(text).map(Value::Bytes),
        Scalar::Json => Some(Value::Json(text.to_string())),
        Scalar::Uuid => Some(Value::Uuid(text.to_ascii_lowercase())),
        Scalar::Date => datetime::date(text).map(Value::Date),
        Scalar::Time => datetime::time(text).map(Value::Time),
        Scalar::TimeTz => datetime::time_with_zone(text).map(Value::Time),
        Scalar::Timestamp => datetime::timestamp(text).map(Value::Timestamp),
        Scalar::Timestamptz => datetime::timestamptz(text).map(Value::Timestamptz),
        Scalar::Interval => text
            .starts_with('P')
            .then(|| Value::Interval(text.to_string())),
    };
    typed.unwrap_or_else(|| Value::Text(text.to_string()))
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// `\x0a1b…`, the hex form that `bytea_output = hex` selects.
fn parse_hex_bytea(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digits = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(digits, 16).ok()
        })
        .collect()
}

/// Whether `oid` is one of the array types in the table.
pub fn is_array(oid: u32) -> bool {
    builtin(oid).is_some_and(|t| t.decoder.array)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(oid: u32, text: &str) -> Value {
        builtin(oid).unwrap().decoder.decode(Some(text.as_bytes()))
    }

    #[test]
    fn scalars_get_their_value_case() {
        assert_eq!(cell(23, "42"), Value::Int(42));
        assert_eq!(cell(20, "-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(cell(701, "0.1"), Value::Float(0.1));
        assert_eq!(cell(700, "NaN"), Value::Float(f64::NAN));
        assert_eq!(cell(1700, "12.50"), Value::Decimal("12.50".into()));
        assert_eq!(cell(16, "t"), Value::Boolean(true));
        assert_eq!(cell(17, "\\x00ff"), Value::Bytes(vec![0, 255]));
        assert_eq!(cell(3802, "{\"a\": 1}"), Value::Json("{\"a\": 1}".into()));
        assert_eq!(cell(1186, "P1D"), Value::Interval("P1D".into()));
    }

    #[test]
    fn null_cells_are_null() {
        assert_eq!(builtin(23).unwrap().decoder.decode(None), Value::Null);
        assert_eq!(builtin(1007).unwrap().decoder.decode(None), Value::Null);
    }

    #[test]
    fn unknown_types_are_text() {
        assert_eq!(builtin(99999), None);
        let unknown = Type::unknown(99999);
        assert_eq!(unknown.column, ColumnType::Text);
        assert_eq!(unknown.name, "oid 99999");
        assert_eq!(
            unknown.decoder.decode(Some(b"happy".as_slice())),
            Value::Text("happy".into())
        );
    }

    #[test]
    fn arrays_become_json_of_their_elements() {
        assert_eq!(cell(1007, "{1,NULL,3}"), Value::Json("[1,null,3]".into()));
        assert_eq!(builtin(1007).unwrap().name, "int4[]");
        assert_eq!(
            cell(3807, r#"{"{\"a\": 1}",null}"#),
            Value::Json(r#"[{"a":1},null]"#.into())
        );
    }

    #[test]
    fn malformed_text_falls_back_to_text() {
        assert_eq!(cell(23, "abc"), Value::Text("abc".into()));
        assert_eq!(cell(1186, "1 day"), Value::Text("1 day".into()));
        assert_eq!(cell(17, "\\x0"), Value::Text("\\x0".into()));
    }
}
