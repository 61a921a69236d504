//! Bound values as text-format parameters.
//!
//! Parameters are sent without type OIDs: the server infers each one's type from the
//! statement and parses the text with that type's input function, so `{{ n }}::int` gets
//! an integer and anything that doesn't parse is a type error, never SQL.
//!
//! One value needs the inferred type to be written right: a JSON array. Bound where the
//! server expects a PostgreSQL array (`id = any({{ inputs.ids }})`) it must be written
//! `{1,2}`; bound as json or jsonb it must stay `[1,2]`. For statements with such a value
//! the connector first asks the server for the parameter types (one more round trip).

use crate::types::is_array;
use lathe_plugin_sdk::Value;
use serde_json::Value as Json;

/// Whether encoding `values` depends on the types the server infers.
pub fn needs_types(values: &[Value]) -> bool {
    values.iter().any(|v| json_array(v).is_some())
}

/// The text of each value (`None` is NULL), given the inferred parameter types if known.
pub fn encode(values: &[Value], types: Option<&[u32]>) -> Vec<Option<Vec<u8>>> {
    values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let oid = types.and_then(|t| t.get(i).copied());
            match json_array(value) {
                Some(items) if oid.is_some_and(is_array) => Some(array_literal(items).into_bytes()),
                _ => encode_one(value),
            }
        })
        .collect()
}

fn json_array(value: &Value) -> Option<Json> {
    match value {
        Value::Json(text) if text.trim_start().starts_with('[') => serde_json::from_str(text).ok(),
        _ => None,
    }
}

fn encode_one(value: &Value) -> Option<Vec<u8>> {
    match value {
        // The text form of bytea is hex; the SDK's plain text would mangle binary data.
        Value::Bytes(bytes) => {
            let mut out = String::with_capacity(2 + bytes.len() * 2);
            out.push_str("\\x");
            for byte in bytes {
                out.push_str(&format!("{byte:02x}"));
            }
            Some(out.into_bytes())
        }
        Value::Float(n) if n.is_infinite() => {
            Some(if *n > 0.0 { "Infinity" } else { "-Infinity" }.into())
        }
        other => other.to_text().map(String::into_bytes),
    }
}

/// A JSON array in PostgreSQL's array syntax: strings and objects quoted, `null` as NULL.
fn array_literal(doc: Json) -> String {
    fn write(doc: &Json, out: &mut String) {
        match doc {
            Json::Array(items) => {
                out.push('{');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push('}');
            }
            Json::Null => out.push_str("NULL"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(&n.to_string()),
            Json::String(s) => quote(s, out),
            Json::Object(_) => quote(&doc.to_string(), out),
        }
    }
    fn quote(text: &str, out: &mut String) {
        out.push('"');
        for c in text.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }

    let mut out = String::new();
    write(&doc, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &Option<Vec<u8>>) -> Option<&str> {
        bytes.as_deref().map(|b| std::str::from_utf8(b).unwrap())
    }

    #[test]
    fn scalars_use_postgres_text_forms() {
        let values = [
            Value::Null,
            Value::Int(41),
            Value::Bytes(vec![1, 0xab]),
            Value::Float(f64::NEG_INFINITY),
        ];
        let encoded = encode(&values, None);
        let texts: Vec<Option<&str>> = encoded.iter().map(text).collect();
        assert_eq!(
            texts,
            [None, Some("41"), Some("\\x01ab"), Some("-Infinity")]
        );
    }

    #[test]
    fn json_arrays_become_array_literals_only_for_array_parameters() {
        let values = [
            Value::Json(r#"[1, null, "a \"b\"", {"k": "\\"}, [true]]"#.into()),
            Value::Json("[1, 2]".into()),
        ];
        assert!(needs_types(&values));
        let encoded = encode(&values, Some(&[1007, 3802]));
        assert_eq!(
            text(&encoded[0]),
            Some(r#"{1,NULL,"a \"b\"","{\"k\":\"\\\\\"}",{true}}"#)
        );
        assert_eq!(text(&encoded[1]), Some("[1, 2]"));
    }

    #[test]
    fn other_values_need_no_types() {
        assert!(!needs_types(&[
            Value::Json("{\"a\": [1]}".into()),
            Value::Text("[1]".into())
        ]));
    }
}
