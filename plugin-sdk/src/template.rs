//! `{{ expression }}` templates as they appear in stored queries.
//!
//! The host resolves every expression to a value and hands the connector a list of
//! parameters named by the expression with its white space removed. This module finds the
//! templates in a piece of text; the protocol modules (`sql`, `url`, `json`) decide how each
//! becomes a bound parameter.

use std::collections::HashSet;

/// One piece of a template string: literal text or an expression to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// The expression's canonical name (white space removed).
    Expr(String),
}

/// An unterminated `{{` or an empty `{{ }}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: &'static str,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for TemplateError {}

/// The canonical name of an expression: its text with all white space removed.
pub fn canonical(expr: &str) -> String {
    expr.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Splits `text` into literal text and expressions.
pub fn parse(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(TemplateError {
                offset: offset + start,
                message: "`{{` without a closing `}}`",
            });
        };
        let raw = &after[..end];
        // White space may surround a name and its dots; inside a name it would be dropped
        // and `{{ inputs.first name }}` would read `inputs.firstname`.
        if raw
            .split('.')
            .any(|part| part.trim().contains(char::is_whitespace))
        {
            return Err(TemplateError {
                offset: offset + start,
                message: "white space inside a name in `{{ }}`",
            });
        }
        let name = canonical(raw);
        if name.is_empty() {
            return Err(TemplateError {
                offset: offset + start,
                message: "empty `{{ }}`",
            });
        }
        pieces.push(Piece::Expr(name));
        let consumed = start + 2 + end + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// Expression names in order of first use, without repeats. The set makes a repeat check
/// constant-time, so a document with thousands of templates costs linear time.
#[derive(Default)]
struct Names {
    list: Vec<String>,
    seen: HashSet<String>,
}

impl Names {
    fn push(&mut self, name: String) {
        if !self.seen.contains(&name) {
            self.seen.insert(name.clone());
            self.list.push(name);
        }
    }
}

/// The expressions used in `text`, in order of first use, without repeats.
pub fn expressions(text: &str) -> Result<Vec<String>, TemplateError> {
    let mut names = Names::default();
    add(text, &mut names)?;
    Ok(names.list)
}

/// The expressions used anywhere in a JSON document (keys and string values).
pub fn expressions_in_json(doc: &serde_json::Value) -> Result<Vec<String>, TemplateError> {
    let mut names = Names::default();
    collect_json(doc, &mut names)?;
    Ok(names.list)
}

/// The expressions a query needs: as [`expressions_in_json`], except that in the top-level
/// string fields named in `sql_fields` (SQL text, as an operation's schema marks with
/// `"x-lathe-widget": "sql"`) templates inside SQL comments don't count. The connector
/// leaves those as they are ([`crate::sql_lex`]), so they need no value.
pub fn expressions_in_query(
    doc: &serde_json::Value,
    sql_fields: &[String],
) -> Result<Vec<String>, TemplateError> {
    let serde_json::Value::Object(map) = doc else {
        return expressions_in_json(doc);
    };
    let mut names = Names::default();
    for (key, value) in map {
        add(key, &mut names)?;
        match value {
            serde_json::Value::String(sql) if sql_fields.contains(key) => {
                add(&crate::sql_lex::without_comments(sql), &mut names)?
            }
            other => collect_json(other, &mut names)?,
        }
    }
    Ok(names.list)
}

fn add(text: &str, names: &mut Names) -> Result<(), TemplateError> {
    for piece in parse(text)? {
        if let Piece::Expr(name) = piece {
            names.push(name);
        }
    }
    Ok(())
}

fn collect_json(doc: &serde_json::Value, names: &mut Names) -> Result<(), TemplateError> {
    match doc {
        serde_json::Value::String(s) => add(s, names),
        serde_json::Value::Array(items) => {
            for item in items {
                collect_json(item, names)?;
            }
            Ok(())
        }
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                add(key, names)?;
                collect_json(value, names)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// If `text` is exactly one template and nothing else (white space around it allowed),
/// the expression's name.
pub fn sole_expression(text: &str) -> Option<String> {
    match parse(text.trim()).ok()?.as_slice() {
        [Piece::Expr(name)] => Some(name.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_in_sql_comments_are_not_needed() {
        let query = serde_json::json!({
            "sql": "select {{ inputs.a }} -- {{ inputs.old }}\n /* {{ secrets.key }} */ , '--{{ inputs.b }}'",
            "note": "-- {{ inputs.c }}",
        });
        let sql = ["sql".to_string()];
        assert_eq!(
            expressions_in_query(&query, &sql).unwrap(),
            ["inputs.a", "inputs.b", "inputs.c"]
        );
        assert_eq!(expressions_in_query(&query, &[]).unwrap().len(), 5);
    }

    #[test]
    fn white_space_inside_a_name_is_refused_and_around_it_allowed() {
        assert_eq!(expressions("{{ inputs . a }}").unwrap(), ["inputs.a"]);
        for text in [
            "{{ inputs.first name }}",
            "{{ in puts.a }}",
            "{{ inputs.a\u{a0}b }}",
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.message.contains("white space"), "{text}");
        }
    }

    #[test]
    fn splits_text_and_expressions() {
        let pieces = parse("select {{ inputs.n }}::int + {{inputs . m}}").unwrap();
        assert_eq!(
            pieces,
            vec![
                Piece::Text("select "),
                Piece::Expr("inputs.n".into()),
                Piece::Text("::int + "),
                Piece::Expr("inputs.m".into()),
            ]
        );
    }

    #[test]
    fn unterminated_template_is_an_error() {
        let err = parse("select {{ inputs.n").unwrap_err();
        assert_eq!(err.offset, 7);
        assert!(parse("a {{ }} b").is_err());
    }

    #[test]
    fn expressions_are_deduplicated_in_order() {
        let names = expressions("{{b}} {{ a }} {{b}}").unwrap();
        assert_eq!(names, vec!["b", "a"]);
    }

    #[test]
    fn finds_expressions_in_json_keys_and_values() {
        let doc = serde_json::json!({"path": "/u/{{ inputs.id }}", "{{k}}": [1, "{{ x }}"]});
        let names = expressions_in_json(&doc).unwrap();
        assert_eq!(names, vec!["inputs.id", "k", "x"]);
    }

    #[test]
    fn sole_expression_only_for_a_lone_template() {
        assert_eq!(sole_expression(" {{ a.b }} "), Some("a.b".into()));
        assert_eq!(sole_expression("x{{ a }}"), None);
        assert_eq!(sole_expression("{{a}}{{b}}"), None);
    }
}
