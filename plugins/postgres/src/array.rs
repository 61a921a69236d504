//! The text form of PostgreSQL arrays, `{1,NULL,"a \"b\""}`, as nested JSON arrays.
//!
//! Elements are separated by commas (every type in the mapping uses the comma), quoted
//! when they hold special characters, with backslash escapes inside quotes; an unquoted
//! `NULL` is SQL NULL. A lower bound other than 1 prefixes the value with its dimensions
//! (`[0:1]={a,b}`); JSON has no place for it, so it is dropped.

use serde_json::Value as Json;

/// Parses an array literal, converting each element's text with `element`. `None` if the
/// text is not an array literal.
pub fn parse(text: &str, element: impl Fn(&str) -> Json) -> Option<Json> {
    let body = match text.strip_prefix('[') {
        Some(_) => &text[text.find('=')? + 1..],
        None => text,
    };
    let mut parser = Parser {
        bytes: body.as_bytes(),
        text: body,
        at: 0,
        element: &element,
    };
    let doc = parser.array()?;
    (parser.at == body.len()).then_some(doc)
}

struct Parser<'a, F> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
    element: &'a F,
}

impl<F: Fn(&str) -> Json> Parser<'_, F> {
    fn array(&mut self) -> Option<Json> {
        self.expect(b'{')?;
        let mut items = Vec::new();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(Json::Array(items));
        }
        loop {
            let item = match self.peek()? {
                b'{' => self.array()?,
                b'"' => {
                    let text = self.quoted()?;
                    (self.element)(&text)
                }
                _ => self.unquoted()?,
            };
            items.push(item);
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(Json::Array(items));
                }
                _ => return None,
            }
        }
    }

    fn quoted(&mut self) -> Option<String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return String::from_utf8(out).ok();
                }
                b'\\' => {
                    out.push(*self.bytes.get(self.at + 1)?);
                    self.at += 2;
                }
                byte => {
                    out.push(byte);
                    self.at += 1;
                }
            }
        }
    }

    fn unquoted(&mut self) -> Option<Json> {
        let start = self.at;
        while !matches!(self.bytes.get(self.at), Some(b',' | b'}') | None) {
            self.at += 1;
        }
        let raw = self.text[start..self.at].trim();
        if raw.eq_ignore_ascii_case("NULL") {
            Some(Json::Null)
        } else {
            Some((self.element)(raw))
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(text: &str) -> Option<Json> {
        parse(text, |s| Json::String(s.to_string()))
    }

    #[test]
    fn flat_arrays_keep_order_and_nulls() {
        assert_eq!(strings("{a,NULL,c}"), Some(json!(["a", null, "c"])));
        assert_eq!(strings("{}"), Some(json!([])));
    }

    #[test]
    fn quoted_elements_are_unescaped_and_never_null() {
        assert_eq!(
            strings(r#"{"a,b","say \"hi\"","NULL","back\\slash"}"#),
            Some(json!(["a,b", "say \"hi\"", "NULL", "back\\slash"]))
        );
    }

    #[test]
    fn nested_arrays_nest() {
        assert_eq!(
            strings("{{1,2},{3,4}}"),
            Some(json!([["1", "2"], ["3", "4"]]))
        );
    }

    #[test]
    fn dimension_prefix_is_dropped() {
        assert_eq!(strings("[0:1]={x,y}"), Some(json!(["x", "y"])));
    }

    #[test]
    fn malformed_literals_are_refused() {
        assert_eq!(strings("{a,b"), None);
        assert_eq!(strings("a,b"), None);
        assert_eq!(strings("{a}x"), None);
    }
}
