//! Just enough SQL lexing to know where comments, quoted strings and dollar quotes are
//! (shared with the host).
//!
//! The connector's [`sql`](crate::sql) renderer leaves a `{{ }}` inside a comment as it is,
//! and the host, with [`without_comments`], does not resolve it either: a commented-out
//! template needs no input and sends nothing. A `--` or `/*` inside a quoted string, a
//! quoted identifier or a dollar-quoted string is not a comment.

/// The index after the block comment starting at `start`; PostgreSQL block comments nest.
pub fn block_comment_end(sql: &str, start: usize) -> usize {
    let bytes = sql.as_bytes();
    let mut depth = 0;
    let mut i = start;
    while i + 1 < bytes.len() {
        if bytes[i] == b'/' && bytes[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    sql.len()
}

/// The index after the quoted run starting at `start` with `quote`. A doubled quote is an
/// escaped quote; with `backslash`, so is `\'`. An unterminated run ends at the text's end.
pub fn quoted_end(sql: &str, start: usize, quote: u8, backslash: bool) -> usize {
    let bytes = sql.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        if backslash && bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    sql.len()
}

/// Whether the character at byte `at` continues an identifier: the one before it is a
/// letter, a digit, `_` or `$`. PostgreSQL allows `$` inside identifiers (`a$b$`), where it
/// opens no dollar quote and is no parameter.
pub fn continues_identifier(sql: &str, at: usize) -> bool {
    sql[..at]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// `$tag$` at the start of `rest`, if it opens a dollar-quoted string.
pub fn dollar_tag(rest: &str) -> Option<&str> {
    let body = &rest[1..];
    let end = body.find('$')?;
    let tag = &body[..end];
    let valid = tag.is_empty()
        || (tag.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !tag.starts_with(|c: char| c.is_ascii_digit()));
    valid.then(|| &rest[..end + 2])
}

/// `sql` with every comment replaced by a space, quoted text kept as it is.
pub fn without_comments(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    scan(sql, |piece| match piece {
        Lexed::Comment(_) => out.push(' '),
        Lexed::Other(text) => out.push_str(text),
    });
    out
}

/// How many block comments `sql` holds, nested ones included (`/* /* */ */` is two).
pub fn block_comments(sql: &str) -> usize {
    let mut count = 0;
    scan(sql, |piece| {
        if let Lexed::Comment(text) = piece
            && text.starts_with("/*")
        {
            count += text.matches("/*").count();
        }
    });
    count
}

/// The end of the line comment starting at `start`: PostgreSQL ends one at `\n` or `\r`.
pub fn line_comment_end(sql: &str, start: usize) -> usize {
    sql[start..]
        .find(['\n', '\r'])
        .map_or(sql.len(), |n| start + n)
}

/// A piece of SQL text as [`scan`] hands it out.
enum Lexed<'a> {
    /// A whole comment, `--…` or `/*…*/`.
    Comment(&'a str),
    /// Anything else: a quoted string or identifier, a dollar-quoted string, a character.
    Other(&'a str),
}

/// Hands `visit` the pieces of `sql` in order: comments, and the text between them (quoted
/// text whole, so a `--` or `/*` in it is not taken for a comment).
fn scan<'a>(sql: &'a str, mut visit: impl FnMut(Lexed<'a>)) {
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &sql[i..];
        let end = if rest.starts_with("--") {
            let end = line_comment_end(sql, i);
            visit(Lexed::Comment(&sql[i..end]));
            i = end;
            continue;
        } else if rest.starts_with("/*") {
            let end = block_comment_end(sql, i);
            visit(Lexed::Comment(&sql[i..end]));
            i = end;
            continue;
        } else if bytes[i] == b'\'' {
            let escapes = i > 0 && bytes[i - 1].eq_ignore_ascii_case(&b'e');
            quoted_end(sql, i, b'\'', escapes)
        } else if bytes[i] == b'"' || bytes[i] == b'`' {
            quoted_end(sql, i, bytes[i], false)
        } else if bytes[i] == b'$'
            && !continues_identifier(sql, i)
            && let Some(tag) = dollar_tag(rest)
        {
            rest[tag.len()..]
                .find(tag)
                .map_or(sql.len(), |n| i + tag.len() + n + tag.len())
        } else {
            i + rest.chars().next().map_or(1, char::len_utf8)
        };
        visit(Lexed::Other(&sql[i..end]));
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_go_and_quoted_text_stays() {
        assert_eq!(
            without_comments("select 1 -- {{ a }}\n, /* {{ b } /* nested */ */ 2"),
            "select 1  \n,   2"
        );
        let kept = "select '-- {{ a }}', \"/*x*/\", $q$ -- $q$, E'\\' --' ";
        assert_eq!(without_comments(kept), kept);
        assert_eq!(without_comments("select 'é' -- ü"), "select 'é'  ");
    }

    #[test]
    fn a_dollar_inside_an_identifier_opens_no_quote() {
        // `a$b$` is one identifier: the comments after it are comments.
        assert_eq!(block_comments("select 1 as a$b$ /**/ /**/, $b$x$b$"), 2);
        assert_eq!(block_comments("select 1 as a$$ /**/"), 1);
        assert_eq!(block_comments("select $b$ /**/ $b$"), 0);
        assert_eq!(without_comments("select é$$ -- x"), "select é$$  ");
    }

    #[test]
    fn a_line_comment_ends_at_either_line_break_as_in_postgresql() {
        assert_eq!(
            without_comments("select 1 --x\r{{ a }}"),
            "select 1  \r{{ a }}"
        );
        assert_eq!(line_comment_end("--x\r\ny", 0), 3);
    }

    #[test]
    fn block_comments_are_counted_nested_ones_too_and_never_in_quotes() {
        assert_eq!(block_comments("select 1 /**/ /* a /* b */ */"), 3);
        assert_eq!(
            block_comments("select '/**/', $$/**/$$, \"/**/\" -- /**/"),
            0
        );
        assert_eq!(block_comments("select 1"), 0);
    }
}
