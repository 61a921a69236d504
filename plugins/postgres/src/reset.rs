//! Which statements may leave state behind in a pooled session.
//!
//! The host pools a datasource's connections, so the next run on this session may be
//! another user's. A statement that changes the session (`SET ROLE`, `SET search_path`,
//! `SET SESSION AUTHORIZATION`, `set_config(…)`, a temporary table, `PREPARE`, `LISTEN`, a
//! cursor `WITH HOLD`, an advisory lock, …) must not reach that run, so after it the
//! session is reset with `DISCARD ALL` and the connector's own settings
//! ([`crate::session::Session::reset`]). The reset costs a round trip and empties the
//! statement cache, so it runs only when a statement may have changed something:
//!
//! - any statement that is not plain DML or a query: only `SELECT`, `WITH`, `VALUES`,
//!   `TABLE`, `INSERT`, `UPDATE`, `DELETE`, `MERGE`, `SHOW` and `EXPLAIN` skip the reset;
//! - one of those whose text has a word that changes the session from inside a query:
//!   `set_config`, an advisory lock that outlives the transaction (`pg_advisory_lock` and
//!   its variants), a temporary relation (`temp`, `temporary`, `pg_temp…`, as in
//!   `SELECT … INTO TEMP`);
//!   Also `pg_settings` (an `UPDATE` of it sets a setting), `setseed`, the built-in
//!   functions that run SQL given as text (`query_to_xml` and its kin, `ts_stat`,
//!   `ts_rewrite`; tablefunc's `crosstab` and `connectby`), `dblink` connections, and any
//!   `U&` escape, which can spell each of these words so that no word test sees it;
//! - any statement during which the server reported a changed setting (ParameterStatus:
//!   session authorization, superuser status, time zone, date style, `search_path` from
//!   PostgreSQL 18, …), whatever changed it.
//!
//! The same test decides which statements of a batch may share a round trip
//! ([`crate::session::Session::pipeline`]): only plain ones, so that no statement this
//! test can see changing the session shares a pipeline with others.
//!
//! A statement that reads sequence values the session keeps (`currval`, `lastval`) runs
//! after a reset, not just before the next run: otherwise it would read the value an
//! earlier run, maybe another user's, left ([`reads_session_state`]).
//!
//! Last, every plain statement goes out with a probe of the settings that matter most
//! and that the server does not report (the role, `search_path`, the time limits, the
//! transactions' defaults, the output formats the connector decodes, the channels
//! listened on): an answer unlike the last reset's also marks the session changed
//! ([`crate::session`], `probe.rs`).
//!
//! What none of this sees: a user-defined function, view or rule used by a plain
//! statement that changes another unreported setting, creates a temporary object or takes
//! a session lock, or that reads what the session keeps (a view over `lastval()`). The datasource's database user decides who may create
//! such objects; a datasource shared by users who must not affect each other should not
//! let them. In a pipeline, a change the server reports is seen only after the statements
//! sent with it have run.

/// First keywords of statements that change nothing but data.
const PLAIN: &[&str] = &[
    "select", "with", "values", "table", "insert", "update", "delete", "merge", "show", "explain",
];

/// Whether a word of a plain statement changes the session: settings (`set_config`, or
/// an `UPDATE` of the `pg_settings` view), `random()`'s seed, temporary relations,
/// advisory locks held past the transaction, SQL run from text (`query_to_xml` and its kin,
/// `ts_stat`, `ts_rewrite`, tablefunc's `crosstab` and `connectby`), `dblink` connections.
fn changes_session(word: &str) -> bool {
    matches!(
        word,
        "set_config" | "temp" | "temporary" | "pg_settings" | "setseed" | "connectby"
    ) || word.starts_with("pg_temp")
        || (word.contains("advisory") && !word.contains("xact"))
        || word.contains("_to_xml")
        || word.starts_with("dblink")
        || word.starts_with("ts_stat")
        || word.starts_with("ts_rewrite")
        || word.starts_with("crosstab")
}

/// Whether `sql` may change the session's state.
pub fn may_change_session(sql: &str) -> bool {
    let keyword = first_keyword(sql).to_ascii_lowercase();
    if !PLAIN.contains(&keyword.as_str()) {
        return true;
    }
    let lower = sql.to_ascii_lowercase();
    // `U&"…"` spells names with escapes (`U&"set\005fconfig"`) that no word test sees.
    lower.contains("u&") || words(&lower).any(changes_session)
}

/// Whether `sql` reads what earlier statements of the session left in it: the sequence
/// values of `currval` and `lastval`. Such a statement runs on a reset session, so that it
/// can't read another run's (`INSERT … RETURNING` gives a run its own).
pub fn reads_session_state(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    lower.contains("u&") || words(&lower).any(|w| matches!(w, "currval" | "lastval"))
}

fn words(lower: &str) -> impl Iterator<Item = &str> {
    lower.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
}

/// The statement's first word, past white space, comments and opening parentheses.
fn first_keyword(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(line) = trimmed.strip_prefix("--") {
            // PostgreSQL ends a line comment at either line break.
            rest = line.split_once(['\n', '\r']).map_or("", |(_, after)| after);
        } else if trimmed.starts_with("/*") {
            rest = after_block_comment(trimmed);
        } else {
            let end = trimmed
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .unwrap_or(trimmed.len());
            return &trimmed[..end];
        }
    }
}

/// The text after the block comment `text` starts with; block comments nest.
fn after_block_comment(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut depth = 0;
    let mut at = 0;
    while at + 1 < bytes.len() {
        match &bytes[at..at + 2] {
            b"/*" => {
                depth += 1;
                at += 2;
            }
            b"*/" => {
                depth -= 1;
                at += 2;
                if depth == 0 {
                    return &text[at..];
                }
            }
            _ => at += 1,
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_queries_and_dml_need_no_reset() {
        for sql in [
            "select 1",
            "  SELECT * FROM t WHERE id = $1",
            "-- a comment\n/* and /* nested */ one */ (select 1) union select 2",
            "with x as (select 1) select * from x",
            "insert into t values (1)",
            "update t set a = 1",
            "delete from t",
            "table t",
            "values (1)",
            "show search_path",
            "select temperature from attempts",
            "select pg_advisory_xact_lock(1)",
        ] {
            assert!(!may_change_session(sql), "{sql}");
        }
    }

    #[test]
    fn escaped_names_settings_views_and_sql_from_text_need_one() {
        for sql in [
            r#"select U&"set\005fconfig"('role', 'x', false)"#,
            r#"select 1 into u&"pg\005ftemp".t"#,
            "update pg_settings set setting = '1' where name = 'statement_timeout'",
            "select query_to_xml('select 1', true, true, '')",
            "select dblink_connect('c', 'dbname=x')",
            "select * from ts_stat('select to_tsvector(x) from t')",
            "select ts_rewrite('a'::tsquery, 'select t, s from aliases')",
            "select * from crosstab('select 1, 2, 3') as c(a int, b int)",
            "select setseed(0.5)",
        ] {
            assert!(may_change_session(sql), "{sql}");
        }
    }

    #[test]
    fn sequence_values_of_the_session_are_read_only_after_a_reset() {
        for sql in [
            "select lastval()",
            "select currval('s')",
            r#"select U&"lastval"()"#,
        ] {
            assert!(reads_session_state(sql), "{sql}");
        }
        for sql in [
            "select nextval('s')",
            "insert into t default values returning id",
        ] {
            assert!(!reads_session_state(sql), "{sql}");
        }
    }

    #[test]
    fn statements_that_change_the_session_need_one() {
        for sql in [
            "set role other",
            "SET search_path = evil, public",
            "set session authorization other",
            "reset all",
            "/* hidden */ set role other",
            "discard all",
            "prepare p as select 1",
            "listen channel",
            "declare c cursor with hold for select 1",
            "create temp table t (a int)",
            "do $$ begin perform 1; end $$",
            "call proc()",
            "begin",
            "select set_config('search_path', 'evil', false)",
            "select pg_advisory_lock(1)",
            "select pg_try_advisory_lock_shared(1)",
            "select 1 into temp t",
            "select * from pg_temp.t",
            "",
        ] {
            assert!(may_change_session(sql), "{sql}");
        }
    }
}
