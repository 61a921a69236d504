//! URL parts with `{{ }}` templates turned into percent-encoded values.
//!
//! In a path, each value becomes (part of) one segment: `/`, `?`, `#` and `..` in a value
//! are encoded, so a value can't climb out of the path the query author wrote. In a query
//! string, names and values are encoded as form components.

use crate::json::Params;
use crate::template::{Piece, parse};
use crate::{Error, Param};

/// Characters left as they are in a path segment (RFC 3986 unreserved).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes `text` so that it is one opaque path segment or query component.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Renders a path template: literal text is kept, each value is encoded as a segment.
/// A value that is `.` or `..` is refused: it would name another resource.
pub fn render_path(template: &str, params: &[Param]) -> Result<String, Error> {
    let pieces = parse(template).map_err(|e| Error::InvalidQuery(e.to_string()))?;
    let params = Params::new(params);
    let mut out = String::with_capacity(template.len());
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Expr(name) => {
                let text = params.get(&name)?.to_text().unwrap_or_default();
                if text == "." || text == ".." {
                    return Err(Error::InvalidQuery(format!(
                        "{{{{ {name} }}}} is `{text}`, which is not allowed in a URL path"
                    )));
                }
                out.push_str(&encode_component(&text));
            }
        }
    }
    Ok(out)
}

/// Renders a query-string component (a name or a value): templates become their text,
/// and the whole component is then encoded.
pub fn render_component(template: &str, params: &[Param]) -> Result<String, Error> {
    Ok(encode_component(&crate::json::render_text(
        template, params,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    fn params(v: &str) -> Vec<Param> {
        vec![Param {
            name: "inputs.id".into(),
            value: Value::Text(v.into()),
        }]
    }

    #[test]
    fn values_are_one_segment() {
        let p = render_path("/users/{{ inputs.id }}/posts", &params("1/../admin?x=1#f")).unwrap();
        assert_eq!(p, "/users/1%2F..%2Fadmin%3Fx%3D1%23f/posts");
    }

    #[test]
    fn dot_segments_are_refused() {
        assert!(render_path("/users/{{ inputs.id }}", &params("..")).is_err());
    }

    #[test]
    fn query_components_are_encoded() {
        let c = render_component("{{ inputs.id }}", &params("a b&c=d")).unwrap();
        assert_eq!(c, "a%20b%26c%3Dd");
    }
}
