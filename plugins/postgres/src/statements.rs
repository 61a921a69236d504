//! The session's prepared statements: a bounded, least-recently-used cache of named
//! statements, so that a statement run again costs Bind/Describe/Execute/Sync instead of
//! having the server parse, analyse and plan it anew.
//!
//! An entry is keyed by the SQL text and the parameter types declared in its Parse (the
//! connector declares none, so the server infers them from the text, and the text alone
//! decides them). It remembers the types the server inferred once a statement has been
//! described, which spares JSON-array parameters their extra round trip next time.
//!
//! The cache mirrors what the server holds and must never claim a statement the server
//! does not have: an entry is added only once the server acknowledged its Parse, an
//! evicted entry is closed on the server with the next statement sent, and
//! [`StatementCache::forget_all`] drops everything when the server may have dropped it
//! (`DEALLOCATE ALL`, `DISCARD ALL`) or the session broke. The cache lives and dies with
//! its session, so a new connection starts with an empty one.

use std::collections::HashMap;

/// Statements kept at most; the server holds a plan for each.
pub const CAPACITY: usize = 100;
/// Longer statements are not kept: a generated statement of that size is rarely run
/// twice, and its plan would hold server memory for nothing.
pub const MAX_SQL_BYTES: usize = 64 * 1024;

/// A statement prepared on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Its name on the server.
    pub name: String,
    /// The parameter types declared in its Parse (OIDs, 0 for "infer").
    pub declared: Vec<u32>,
    /// The parameter types the server settled on, once it has described them.
    pub inferred: Option<Vec<u32>>,
    last_used: u64,
}

#[derive(Debug, Default)]
pub struct StatementCache {
    entries: HashMap<String, Prepared>,
    /// Names of evicted statements still to be closed on the server.
    evicted: Vec<String>,
    /// Counts names and uses; a name is never handed out twice in a session.
    clock: u64,
}

impl StatementCache {
    /// The statement prepared for `sql` with `declared` parameter types, marked as used.
    pub fn get(&mut self, sql: &str, declared: &[u32]) -> Option<&Prepared> {
        self.clock += 1;
        let clock = self.clock;
        let entry = self
            .entries
            .get_mut(sql)
            .filter(|entry| entry.declared == declared)?;
        entry.last_used = clock;
        Some(entry)
    }

    /// Whether a statement this long is worth keeping.
    pub fn admits(sql: &str) -> bool {
        sql.len() <= MAX_SQL_BYTES
    }

    /// A fresh name for a statement about to be parsed, prefixed so as not to meet the
    /// names of statements a user `PREPARE`s. When the cache is full, the least recently
    /// used entry is evicted now, so that its Close goes out before the new Parse and the
    /// server never holds more than [`CAPACITY`] statements.
    pub fn next_name(&mut self) -> String {
        if self.entries.len() >= CAPACITY {
            self.evict_oldest();
        }
        self.clock += 1;
        format!("__lathe_{}", self.clock)
    }

    /// Records a statement the server acknowledged, replacing an older entry for the
    /// same text.
    pub fn insert(&mut self, sql: &str, name: String, declared: Vec<u32>) {
        if let Some(old) = self.entries.remove(sql) {
            self.evicted.push(old.name);
        }
        if self.entries.len() >= CAPACITY {
            self.evict_oldest();
        }
        self.clock += 1;
        let entry = Prepared {
            name,
            declared,
            inferred: None,
            last_used: self.clock,
        };
        self.entries.insert(sql.to_string(), entry);
    }

    /// Remembers the parameter types the server inferred for the statement `name`.
    pub fn set_inferred(&mut self, sql: &str, name: &str, types: Vec<u32>) {
        if let Some(entry) = self.entries.get_mut(sql).filter(|e| e.name == name) {
            entry.inferred = Some(types);
        }
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, entry)| entry.last_used)
            .map(|(sql, _)| sql.clone());
        if let Some(entry) = oldest.and_then(|sql| self.entries.remove(&sql)) {
            self.evicted.push(entry.name);
        }
    }

    /// Drops the entry for `sql` (its plan can't be used any more); the server's copy is
    /// closed with the next statement.
    pub fn evict(&mut self, sql: &str) {
        if let Some(entry) = self.entries.remove(sql) {
            self.evicted.push(entry.name);
        }
    }

    /// Forgets every statement without closing any: the server no longer has them, or
    /// the session is gone.
    pub fn forget_all(&mut self) {
        self.entries.clear();
        self.evicted.clear();
    }

    /// The names to close on the server; they are forgotten here.
    pub fn take_evicted(&mut self) -> Vec<String> {
        std::mem::take(&mut self.evicted)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepare(cache: &mut StatementCache, sql: &str) -> String {
        let name = cache.next_name();
        cache.insert(sql, name.clone(), Vec::new());
        name
    }

    #[test]
    fn a_statement_is_found_by_its_text_and_declared_types() {
        let mut cache = StatementCache::default();
        let name = prepare(&mut cache, "select 1");
        assert_eq!(cache.get("select 1", &[]).unwrap().name, name);
        assert!(cache.get("select 1", &[23]).is_none());
        assert!(cache.get("select 2", &[]).is_none());
    }

    #[test]
    fn the_least_recently_used_statement_is_evicted_and_closed() {
        let mut cache = StatementCache::default();
        let first = prepare(&mut cache, "select 0");
        for i in 1..CAPACITY {
            prepare(&mut cache, &format!("select {i}"));
        }
        // Using the first makes the second the oldest.
        cache.get("select 0", &[]).unwrap();
        prepare(&mut cache, "select 'new'");
        assert_eq!(cache.len(), CAPACITY);
        assert!(cache.get("select 1", &[]).is_none());
        assert_eq!(cache.get("select 0", &[]).unwrap().name, first);
        assert_eq!(cache.take_evicted(), ["__lathe_3"]);
        assert!(cache.take_evicted().is_empty());
    }

    #[test]
    fn names_are_never_reused() {
        let mut cache = StatementCache::default();
        let a = prepare(&mut cache, "select 1");
        cache.evict("select 1");
        let b = prepare(&mut cache, "select 1");
        assert_ne!(a, b);
        assert_eq!(cache.take_evicted(), [a]);
    }

    #[test]
    fn forgetting_drops_entries_and_pending_closes() {
        let mut cache = StatementCache::default();
        prepare(&mut cache, "select 1");
        prepare(&mut cache, "select 2");
        cache.evict("select 2");
        cache.forget_all();
        assert!(cache.is_empty());
        assert!(cache.take_evicted().is_empty());
    }

    #[test]
    fn inferred_types_stick_to_the_statement_they_describe() {
        let mut cache = StatementCache::default();
        let name = prepare(&mut cache, "select $1::int");
        cache.set_inferred("select $1::int", "__lathe_other", vec![25]);
        assert_eq!(cache.get("select $1::int", &[]).unwrap().inferred, None);
        cache.set_inferred("select $1::int", &name, vec![23]);
        assert_eq!(
            cache.get("select $1::int", &[]).unwrap().inferred,
            Some(vec![23])
        );
    }

    #[test]
    fn very_long_statements_are_not_admitted() {
        assert!(StatementCache::admits("select 1"));
        assert!(!StatementCache::admits(&"x".repeat(MAX_SQL_BYTES + 1)));
    }
}
