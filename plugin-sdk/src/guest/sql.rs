//! SQL text with `{{ }}` templates turned into bound placeholders.
//!
//! Every template becomes a placeholder of the dialect (`$1`, `?`) and its value joins the
//! list of parameters sent beside the statement: nothing a user typed is ever spliced into
//! SQL text. The lexer knows quoted strings, quoted identifiers, comments and dollar quoting,
//! so that:
//! - a template wrapped in quotes, `'{{ x }}'`, binds as one parameter (people write it that
//!   way out of habit, and the quotes would otherwise turn the placeholder into a literal);
//! - a template inside a longer string literal or a quoted identifier is refused, with a
//!   hint: neither can be a parameter;
//! - a template inside a comment is left as it is.

use crate::json::Params;
use crate::sql_lex::{
    block_comment_end, continues_identifier, dollar_tag, line_comment_end, quoted_end,
};
use crate::template::canonical;
use crate::{Error, Param, Value};
use std::collections::HashMap;

/// How a dialect writes placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL: `$1`, `$2`, …; one number per distinct expression.
    Dollar,
    /// MySQL, SQLite, ODBC: `?`, one per use, values repeated as needed.
    Question,
}

/// A statement ready for the wire: text with placeholders and the values to bind.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub text: String,
    pub params: Vec<Value>,
}

/// Renders `sql` for `dialect`, binding every `{{ }}` to the value named in `params`.
pub fn render(sql: &str, params: &[Param], dialect: Dialect) -> Result<Statement, Error> {
    // Wire protocols end strings at NUL: one inside the text would cut the message short
    // and leave the connection out of step with the server.
    if sql.contains('\0') {
        return Err(Error::InvalidQuery(
            "the query text contains a NUL character".into(),
        ));
    }
    let mut out = Renderer {
        params: Params::new(params),
        dialect,
        text: String::with_capacity(sql.len()),
        bound: Vec::new(),
        numbers: HashMap::new(),
    };
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &sql[i..];
        if rest.starts_with("{{") {
            let end = template_end(sql, i)?;
            if dialect == Dialect::Dollar && glued(sql, i, end) {
                return Err(Error::InvalidQuery(
                    "a {{ }} template must stand apart from the name or number beside it: \
                     `x{{ a }}` or `{{ a }}1` would read as another name or parameter \
                     (`$11`); put a space or an operator between them"
                        .into(),
                ));
            }
            out.placeholder(&sql[i + 2..end - 2])?;
            i = end;
        } else if rest.starts_with("--") {
            let end = line_comment_end(sql, i);
            out.text.push_str(&sql[i..end]);
            i = end;
        } else if rest.starts_with("/*") {
            let end = block_comment_end(sql, i);
            out.text.push_str(&sql[i..end]);
            i = end;
        } else if bytes[i] == b'\'' {
            i = out.quoted_string(sql, i)?;
        } else if bytes[i] == b'"' || bytes[i] == b'`' {
            let end = quoted_end(sql, i, bytes[i], false);
            if has_template(&sql[i..end]) {
                return Err(Error::InvalidQuery(
                    "a {{ }} template inside a quoted identifier can't be bound as a \
                     parameter; table and column names must be written in the query"
                        .into(),
                ));
            }
            out.text.push_str(&sql[i..end]);
            i = end;
        } else if dialect == Dialect::Dollar
            && bytes[i] == b'$'
            && !continues_identifier(sql, i)
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
        {
            return Err(Error::InvalidQuery(
                "positional parameters like $1 are reserved for {{ }} templates; write \
                 {{ inputs.name }} where a value goes"
                    .into(),
            ));
        } else if bytes[i] == b'$'
            && dialect == Dialect::Dollar
            && !continues_identifier(sql, i)
            && let Some(tag) = dollar_tag(rest)
        {
            let close = rest[tag.len()..]
                .find(tag)
                .map_or(sql.len(), |n| i + tag.len() + n + tag.len());
            if has_template(&sql[i..close]) {
                return Err(Error::InvalidQuery(
                    "a {{ }} template inside a dollar-quoted string can't be bound as a \
                     parameter"
                        .into(),
                ));
            }
            out.text.push_str(&sql[i..close]);
            i = close;
        } else {
            let ch = rest.chars().next().expect("in bounds");
            out.text.push(ch);
            i += ch.len_utf8();
        }
    }
    Ok(Statement {
        text: out.text,
        params: out.bound,
    })
}

/// Whether the template `sql[start..end]` touches a name or number: after `x` or `$`,
/// `$1` would continue an identifier; before a digit or letter, `$1` would become `$11` or
/// junk.
fn glued(sql: &str, start: usize, end: usize) -> bool {
    let after = sql[end..]
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
    continues_identifier(sql, start) || after
}

struct Renderer<'a> {
    params: Params<'a>,
    dialect: Dialect,
    text: String,
    bound: Vec<Value>,
    /// For `Dollar`: the expressions already numbered, and their numbers.
    numbers: HashMap<String, usize>,
}

impl Renderer<'_> {
    fn placeholder(&mut self, expr: &str) -> Result<(), Error> {
        let name = canonical(expr);
        let value = self.params.get(&name)?;
        match self.dialect {
            Dialect::Dollar => {
                let next = self.numbers.len() + 1;
                let number = *self.numbers.entry(name).or_insert_with(|| {
                    self.bound.push(value.clone());
                    next
                });
                self.text.push('$');
                self.text.push_str(&number.to_string());
            }
            Dialect::Question => {
                self.bound.push(value.clone());
                self.text.push('?');
            }
        }
        Ok(())
    }

    /// A single-quoted literal starting at `start`; returns the index after it.
    fn quoted_string(&mut self, sql: &str, start: usize) -> Result<usize, Error> {
        // E'…' strings (PostgreSQL) and MySQL strings treat backslash as an escape.
        let backslash = self.dialect == Dialect::Question
            || (start > 0 && matches!(sql.as_bytes()[start - 1], b'E' | b'e'));
        let end = quoted_end(sql, start, b'\'', backslash);
        let literal = &sql[start..end];
        if !has_template(literal) {
            self.text.push_str(literal);
            return Ok(end);
        }
        let inner = literal[1..literal.len().saturating_sub(1)].trim();
        if inner.starts_with("{{") && template_end(inner, 0).ok() == Some(inner.len()) {
            self.placeholder(&inner[2..inner.len() - 2])?;
            return Ok(end);
        }
        Err(Error::InvalidQuery(format!(
            "a {{{{ }}}} template inside the string {} can't be bound as a parameter; \
             build the string in SQL instead, e.g. '%' || {{{{ inputs.x }}}} || '%'",
            shorten(literal)
        )))
    }
}

/// Whether `text` holds a complete `{{ … }}` (a lone `{{` is just text).
fn has_template(text: &str) -> bool {
    text.find("{{")
        .is_some_and(|start| text[start + 2..].contains("}}"))
}

/// The index just after the `}}` closing the template that starts at `start`.
fn template_end(sql: &str, start: usize) -> Result<usize, Error> {
    match sql[start + 2..].find("}}") {
        Some(n) if !sql[start + 2..start + 2 + n].trim().is_empty() => Ok(start + 2 + n + 2),
        Some(_) => Err(Error::InvalidQuery("empty {{ }} in the query".into())),
        None => Err(Error::InvalidQuery(format!(
            "`{{{{` without a closing `}}}}` at byte {start}"
        ))),
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= 40 {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(40).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_glued_to_names_or_numbers_are_refused() {
        let p = params();
        for sql in [
            "select {{ inputs.n }}1",
            "select x{{ inputs.n }}",
            "select x${{ inputs.n }}",
            "select {{ inputs.n }}abc",
        ] {
            let err = render(sql, &p, Dialect::Dollar).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidQuery(m) if m.contains("stand apart")),
                "{sql}"
            );
        }
        for sql in [
            "select {{ inputs.n }}::int",
            "select ({{ inputs.n }}), 1+{{ inputs.n }}",
            "select {{ inputs.n }} x",
        ] {
            assert!(render(sql, &p, Dialect::Dollar).is_ok(), "{sql}");
        }
    }

    #[test]
    fn thousands_of_templates_are_numbered_and_bound_by_name() {
        // Past the scan limit the values are looked up through the index; repeats keep
        // their first number, and a repeated parameter name keeps its first value.
        let count = 20_000;
        let mut params: Vec<Param> = (0..count)
            .map(|i| Param {
                name: format!("inputs.v{i}"),
                value: Value::Int(i),
            })
            .collect();
        params.push(Param {
            name: "inputs.v7".into(),
            value: Value::Int(-1),
        });
        let sql: String = (0..count)
            .map(|i| format!("{{{{ inputs.v{i} }}}},"))
            .chain(["{{inputs.v7}}".to_string()])
            .collect();
        let statement = render(&sql, &params, Dialect::Dollar).unwrap();
        assert_eq!(statement.params.len(), count as usize);
        assert_eq!(statement.params[7], Value::Int(7));
        assert_eq!(statement.params[19_999], Value::Int(19_999));
        assert!(statement.text.starts_with("$1,$2,$3,"));
        assert!(statement.text.ends_with("$20000,$8"));

        let names = crate::template::expressions(&sql).unwrap();
        assert_eq!(names.len(), count as usize);
        assert_eq!(names[19_999], "inputs.v19999");
    }

    fn params() -> Vec<Param> {
        vec![
            Param {
                name: "inputs.n".into(),
                value: Value::Int(41),
            },
            Param {
                name: "inputs.name".into(),
                value: Value::Text("O'Brien; drop table x".into()),
            },
        ]
    }

    #[test]
    fn dollar_dialect_numbers_each_expression_once() {
        let st = render(
            "select {{ inputs.n }}::int + {{inputs.n}}, {{ inputs.name }}",
            &params(),
            Dialect::Dollar,
        )
        .unwrap();
        assert_eq!(st.text, "select $1::int + $1, $2");
        assert_eq!(st.params.len(), 2);
    }

    #[test]
    fn question_dialect_repeats_values() {
        let st = render(
            "select {{ inputs.n }} + {{ inputs.n }}",
            &params(),
            Dialect::Question,
        )
        .unwrap();
        assert_eq!(st.text, "select ? + ?");
        assert_eq!(st.params, vec![Value::Int(41), Value::Int(41)]);
    }

    #[test]
    fn quoted_template_binds_without_quotes() {
        let st = render(
            "select * from t where name = '{{ inputs.name }}'",
            &params(),
            Dialect::Dollar,
        )
        .unwrap();
        assert_eq!(st.text, "select * from t where name = $1");
        assert_eq!(st.params, vec![Value::Text("O'Brien; drop table x".into())]);
    }

    #[test]
    fn template_inside_longer_literal_is_refused() {
        let err = render(
            "select * from t where name like '%{{ inputs.name }}%'",
            &params(),
            Dialect::Dollar,
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidQuery(m) if m.contains("||")));
    }

    #[test]
    fn template_in_identifier_is_refused() {
        let err = render(
            "select \"{{ inputs.n }}\" from t",
            &params(),
            Dialect::Dollar,
        );
        assert!(matches!(err, Err(Error::InvalidQuery(_))));
    }

    #[test]
    fn comments_and_literals_are_left_alone() {
        let sql = "select '{{' as a, $$ {{ x $$ -- {{ note }}\n/* {{ y }} */ , {{ inputs.n }}";
        let st = render(sql, &params(), Dialect::Dollar).unwrap();
        assert_eq!(
            st.text,
            "select '{{' as a, $$ {{ x $$ -- {{ note }}\n/* {{ y }} */ , $1"
        );
    }

    #[test]
    fn escaped_quotes_do_not_end_literals() {
        let st = render("select 'it''s', {{ inputs.n }}", &params(), Dialect::Dollar).unwrap();
        assert_eq!(st.text, "select 'it''s', $1");
        let st = render(
            "select E'a\\'b', {{ inputs.n }}",
            &params(),
            Dialect::Dollar,
        )
        .unwrap();
        assert_eq!(st.text, "select E'a\\'b', $1");
    }

    #[test]
    fn missing_value_is_an_invalid_query() {
        let err = render("select {{ inputs.zzz }}", &params(), Dialect::Dollar).unwrap_err();
        assert!(matches!(err, Error::InvalidQuery(m) if m.contains("inputs.zzz")));
    }

    #[test]
    fn hand_written_positional_parameters_are_refused() {
        let err = render("select $1, {{ inputs.n }}", &params(), Dialect::Dollar);
        assert!(matches!(err, Err(Error::InvalidQuery(m)) if m.contains("reserved")));
        // Inside a literal they are just text.
        let st = render("select '$1', {{ inputs.n }}", &params(), Dialect::Dollar).unwrap();
        assert_eq!(st.text, "select '$1', $1");
    }
}
