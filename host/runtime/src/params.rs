//! The host side of `{{ }}`: every expression in a stored query is resolved here to a typed
//! value and handed to the connector as a parameter. The connector binds it with its
//! protocol; nothing is spliced into query text on either side.

use crate::bindings::types::{Param, Value};
use crate::error::RuntimeError;
use lathe_plugin_sdk::template;

/// Resolves the expressions of `query` against `context`, a JSON object whose keys are the
/// roots an expression may start with (`inputs`, `user`, `constants`, …). An expression is
/// a dotted path (`inputs.customer.id`, `inputs.ids.0`). In the fields named in
/// `sql_fields` ([`crate::Manifest::sql_fields`]) a template inside an SQL comment is left
/// out: the connector leaves it as it is, so it needs no value and gets none.
pub fn bind(
    query: &serde_json::Value,
    context: &serde_json::Value,
    sql_fields: &[String],
) -> Result<Vec<Param>, RuntimeError> {
    let names = template::expressions_in_query(query, sql_fields)
        .map_err(|e| RuntimeError::InvalidQuery(format!("in the query template: {e}")))?;
    bind_names(names, context)
}

/// [`bind`] for expression names already found in the query.
pub fn bind_names(
    names: Vec<String>,
    context: &serde_json::Value,
) -> Result<Vec<Param>, RuntimeError> {
    let roots: Vec<&str> = context
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    bind_roots(names, |root| context.get(root), &roots)
}

/// [`bind_names`] with each root's value given by `root` instead of held in one object,
/// for a caller whose roots live in different places: nothing is copied to gather them.
/// `available` names the roots for the error about one that isn't.
pub fn bind_roots<'c>(
    names: Vec<String>,
    root: impl Fn(&str) -> Option<&'c serde_json::Value>,
    available: &[&str],
) -> Result<Vec<Param>, RuntimeError> {
    names
        .into_iter()
        .map(|name| {
            let value = resolve(&root, available, &name)?;
            Ok(Param {
                value: from_json(value),
                name,
            })
        })
        .collect()
}

fn resolve<'c>(
    root: impl Fn(&str) -> Option<&'c serde_json::Value>,
    available: &[&str],
    name: &str,
) -> Result<&'c serde_json::Value, RuntimeError> {
    let mut parts = name.split('.');
    let first = parts.next().unwrap_or_default();
    let mut current = root(first).ok_or_else(|| {
        RuntimeError::InvalidQuery(format!(
            "{{{{ {name} }}}}: `{first}` is not available here (available: {})",
            available.join(", ")
        ))
    })?;
    for part in parts {
        let next = match current {
            serde_json::Value::Object(map) => map.get(part),
            // An index is plain digits: no sign, no leading zero (`+1` and `01` name nothing).
            serde_json::Value::Array(items) => array_index(part).and_then(|i| items.get(i)),
            _ => None,
        };
        current = next.ok_or_else(|| {
            RuntimeError::InvalidQuery(format!("{{{{ {name} }}}}: no value at `{part}`"))
        })?;
    }
    Ok(current)
}

fn array_index(part: &str) -> Option<usize> {
    let plain = part.bytes().all(|b| b.is_ascii_digit()) && (part == "0" || !part.starts_with('0'));
    if plain { part.parse().ok() } else { None }
}

/// A JSON value as a parameter: scalars keep their type, arrays and objects travel as JSON.
pub fn from_json(value: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match value {
        J::Null => Value::Null,
        J::Bool(b) => Value::Boolean(*b),
        // Past i64, a u64 keeps its digits as a decimal rather than round to a float.
        J::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Int(i),
            (None, None, Some(f)) => Value::Float(f),
            _ => Value::Decimal(n.to_string()),
        },
        J::String(s) => Value::Text(s.clone()),
        other => Value::Json(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binds_each_expression_once_with_its_type() {
        let query = json!({"sql": "select {{ inputs.n }} + {{inputs.n}}, {{ user.email }}"});
        let context = json!({"inputs": {"n": 41}, "user": {"email": "a@b.c"}});
        let params = bind(&query, &context, &[]).unwrap();
        assert_eq!(params.len(), 2);
        assert_eq!(params[0].name, "inputs.n");
        assert!(matches!(params[0].value, Value::Int(41)));
        assert!(matches!(&params[1].value, Value::Text(s) if s == "a@b.c"));
    }

    #[test]
    fn paths_reach_into_objects_and_arrays() {
        let context = json!({"inputs": {"ids": [7, 8], "o": {"k": true}}});
        let params = bind(&json!("{{inputs.ids.1}} {{inputs.o.k}}"), &context, &[]).unwrap();
        assert!(matches!(params[0].value, Value::Int(8)));
        assert!(matches!(params[1].value, Value::Boolean(true)));
    }

    #[test]
    fn array_indexes_are_plain_digits() {
        let context = json!({"inputs": {"ids": [7, 8]}});
        assert!(bind(&json!("{{inputs.ids.0}}"), &context, &[]).is_ok());
        for path in [
            "{{inputs.ids.+1}}",
            "{{inputs.ids.01}}",
            "{{inputs.ids.00}}",
        ] {
            assert!(bind(&json!(path), &context, &[]).is_err(), "{path}");
        }
    }

    #[test]
    fn numbers_keep_their_digits_as_parameters() {
        assert!(matches!(from_json(&json!(i64::MIN)), Value::Int(i64::MIN)));
        assert!(matches!(
            from_json(&json!(u64::MAX)),
            Value::Decimal(s) if s == "18446744073709551615"
        ));
        assert!(matches!(from_json(&json!(0.5)), Value::Float(f) if f == 0.5));
    }

    #[test]
    fn templates_in_sql_comments_need_no_value() {
        let query = json!({"sql": "select {{ inputs.n }} -- or {{ inputs.old }}"});
        let context = json!({"inputs": {"n": 1}});
        let params = bind(&query, &context, &["sql".into()]).unwrap();
        assert_eq!(params.len(), 1);
        assert!(bind(&query, &context, &[]).is_err());
    }

    #[test]
    fn unknown_roots_and_missing_values_are_invalid_queries() {
        let context = json!({"inputs": {}});
        let err = bind(&json!("{{ secrets.key }}"), &context, &[]).unwrap_err();
        assert!(err.to_string().contains("secrets"), "{err}");
        let err = bind(&json!("{{ inputs.missing }}"), &context, &[]).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
