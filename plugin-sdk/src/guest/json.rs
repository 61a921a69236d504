//! JSON documents with `{{ }}` templates turned into typed values.
//!
//! A string that is exactly one template becomes the value itself, with its type (a number
//! stays a number, an object stays an object). A template inside a longer string becomes the
//! value's text inside that string. Either way the result is built as a JSON tree and
//! serialised by the encoder, so a value can't change the document's structure.

use crate::template::{Piece, parse, sole_expression};
use crate::{Error, Param, Value};
use serde_json::Value as Json;
use std::collections::HashMap;

/// Renders every template in `doc` from `params`.
pub fn render(doc: &Json, params: &[Param]) -> Result<Json, Error> {
    render_with(doc, &Params::new(params))
}

fn render_with(doc: &Json, params: &Params) -> Result<Json, Error> {
    match doc {
        Json::String(s) => render_string(s, params),
        Json::Array(items) => items
            .iter()
            .map(|item| render_with(item, params))
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array),
        Json::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (key, value) in map {
                out.insert(text_with(key, params)?, render_with(value, params)?);
            }
            Ok(Json::Object(out))
        }
        other => Ok(other.clone()),
    }
}

fn render_string(s: &str, params: &Params) -> Result<Json, Error> {
    match sole_expression(s) {
        Some(name) => Ok(params.get(&name)?.to_json()),
        None => text_with(s, params).map(Json::String),
    }
}

/// Renders templates in `text` as the values' text. For a protocol field that is plain text
/// (a header value, a key), where the result is still one opaque string.
pub fn render_text(text: &str, params: &[Param]) -> Result<String, Error> {
    text_with(text, &Params::new(params))
}

fn text_with(text: &str, params: &Params) -> Result<String, Error> {
    let pieces = parse(text).map_err(|e| Error::InvalidQuery(e.to_string()))?;
    let mut out = String::with_capacity(text.len());
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Expr(name) => {
                if let Some(t) = params.get(&name)?.to_text() {
                    out.push_str(&t);
                }
            }
        }
    }
    Ok(out)
}

/// Up to this many parameters are searched in order; more are indexed by name first.
/// Queries usually have a handful, where a scan is cheaper than building a map.
const SCAN_MAX: usize = 16;

/// The parameters of one rendering, by name. With the index, a query with thousands of
/// templates renders in linear time instead of quadratic.
pub(crate) struct Params<'p> {
    list: &'p [Param],
    index: Option<HashMap<&'p str, &'p Value>>,
}

impl<'p> Params<'p> {
    pub(crate) fn new(list: &'p [Param]) -> Params<'p> {
        let index = (list.len() > SCAN_MAX).then(|| {
            let mut index = HashMap::with_capacity(list.len());
            for param in list {
                // The first of a repeated name wins, as in a scan.
                index.entry(param.name.as_str()).or_insert(&param.value);
            }
            index
        });
        Params { list, index }
    }

    pub(crate) fn get(&self, name: &str) -> Result<&'p Value, Error> {
        let found = match &self.index {
            Some(index) => index.get(name).copied(),
            None => self.list.iter().find(|p| p.name == name).map(|p| &p.value),
        };
        found.ok_or_else(|| Error::InvalidQuery(format!("no value was given for {{{{ {name} }}}}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params() -> Vec<Param> {
        vec![
            Param {
                name: "inputs.n".into(),
                value: Value::Int(7),
            },
            Param {
                name: "inputs.s".into(),
                value: Value::Text("\", \"admin\": true".into()),
            },
            Param {
                name: "inputs.obj".into(),
                value: Value::Json("{\"a\":[1,2]}".into()),
            },
        ]
    }

    #[test]
    fn lone_templates_keep_their_type() {
        let doc = json!({"n": "{{ inputs.n }}", "o": "{{inputs.obj}}"});
        assert_eq!(
            render(&doc, &params()).unwrap(),
            json!({"n": 7, "o": {"a": [1, 2]}})
        );
    }

    #[test]
    fn embedded_templates_stay_inside_their_string() {
        let doc = json!({"name": "x{{ inputs.s }}"});
        let out = render(&doc, &params()).unwrap();
        assert_eq!(out, json!({"name": "x\", \"admin\": true"}));
        assert!(out.get("admin").is_none());
    }
}
