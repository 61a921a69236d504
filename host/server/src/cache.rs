//! Caches on the request path: what an API token or a session resolves to, a member's role, a
//! workspace's authorization policy, a released app's queries with their compiled inputs
//! schemas, and datasources by name. Without them a
//! query run costs five store reads and a parse of the whole app definition before the
//! connector is even called.
//!
//! Freshness: every change to a cached table moves `cache_epoch.epoch` in the same
//! transaction (triggers in the migrations, so that no write path can forget). Before a
//! request uses any entry, [`Caches::sync`] waits for a read of the epoch that *began after
//! the request arrived*; a different epoch empties every cache. So a revoked token, a removed
//! member, a new release or a changed datasource is seen by the very next request on every
//! server sharing the store, exactly as without caches. Concurrent requests share one epoch
//! read: a request that arrives while a read is out waits for the next one, so under load the
//! store sees about one tiny read per round trip instead of five per request.
//!
//! An entry is stored only under the epoch its request synced to, and only while the caches
//! still hold that epoch: a value read from the store while a change was committing can land
//! under the old epoch, which the next request's sync throws away.
//!
//! Each map holds at most [`MAX_ENTRIES`]; a full map is emptied rather than tracked for age,
//! which keeps memory bounded without bookkeeping on the hot path. Misses (an unknown token, a
//! non-member) are never cached, so guessing can't fill memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::authz::Policy;
use crate::error::{Error, Result};
use crate::store::{
    AppQuery, DatasourceRow, QueryLookup, Role, SessionUser, Store, TokenRow, UserRow, Which,
    now_ms,
};

/// Entries per map before the map is emptied.
pub const MAX_ENTRIES: usize = 4096;

/// The epoch a request synced to; entries it reads from the store are stored under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch(i64);

impl Epoch {
    pub fn value(self) -> i64 {
        self.0
    }
}

/// A query of an app, ready to run: its inputs schema compiled.
pub struct StoredQuery {
    pub app_id: String,
    /// The released version's number; `None` for the draft.
    pub version: Option<i64>,
    /// Whether the app is public (anonymous callers may run its released queries).
    pub public: bool,
    pub query: crate::definition::Query,
    pub inputs: InputsSchema,
    /// The query's expressions, found at its first run.
    pub expressions: crate::pipeline::Expressions,
}

/// A query's inputs schema with its compiled validator.
pub struct InputsSchema {
    pub schema: Value,
    validator: jsonschema::Validator,
}

impl InputsSchema {
    pub fn compile(schema: Value) -> Result<InputsSchema> {
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| Error::Validation(format!("the query's inputs schema is invalid: {e}")))?;
        Ok(InputsSchema { schema, validator })
    }

    /// Checks `inputs`, naming up to five failing places.
    pub fn check(&self, inputs: &Value) -> Result<()> {
        let errors: Vec<String> = self
            .validator
            .iter_errors(inputs)
            .take(5)
            .map(|e| format!("inputs{}: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(errors.join("; ")))
        }
    }
}

/// How a released query lookup ended.
pub enum Released {
    Found(Arc<StoredQuery>),
    /// No such app, no release yet, or no query of that name in the release.
    Missing,
}

#[derive(Default)]
struct Entries {
    epoch: Option<i64>,
    /// The number of the epoch read `epoch` came from (see [`Gate`]).
    read: u64,
    tokens: HashMap<String, (TokenRow, UserRow)>,
    sessions: HashMap<String, SessionUser>,
    roles: HashMap<(String, String), Role>,
    queries: HashMap<(String, String, String), Arc<StoredQuery>>,
    datasources: HashMap<(String, String), Arc<DatasourceRow>>,
    policies: HashMap<String, Arc<Policy>>,
}

impl Entries {
    /// Moves to the `epoch` that read `read` found, emptying everything filled under another
    /// one, unless a later read is already in. Reads are ordered by when they began, not by
    /// the value they found: a request that synced to an older read must not take the caches
    /// back (an entry filled under that older epoch could be stale for a request that saw the
    /// newer one), while a store restored to a lower epoch still moves them.
    fn advance(&mut self, read: u64, epoch: i64) {
        if read <= self.read {
            return;
        }
        if self.epoch != Some(epoch) {
            *self = Entries::default();
            self.epoch = Some(epoch);
        }
        self.read = read;
    }
}

fn put<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

#[derive(Default)]
pub struct Caches {
    entries: Mutex<Entries>,
    gate: Gate,
}

impl Caches {
    /// Brings the caches up to the store's epoch as of a read that began after this call.
    pub async fn sync(&self, store: &Store) -> Result<Epoch> {
        let (read, epoch) = self.gate.fresh(|| store.cache_epoch()).await?;
        self.lock().advance(read, epoch);
        Ok(Epoch(epoch))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `value` in the map `pick` chooses, if the caches are still at `epoch`.
    fn fill<K, V>(
        &self,
        epoch: Epoch,
        pick: impl FnOnce(&mut Entries) -> &mut HashMap<K, V>,
        key: K,
        value: V,
    ) where
        K: std::hash::Hash + Eq,
    {
        let mut entries = self.lock();
        if entries.epoch == Some(epoch.0) {
            put(pick(&mut entries), key, value);
        }
    }

    /// The live token with this hash and its enabled owner.
    pub async fn token(
        &self,
        store: &Store,
        epoch: Epoch,
        token_hash: &str,
    ) -> Result<Option<(TokenRow, UserRow)>> {
        let cached = self.lock().tokens.get(token_hash).cloned();
        if let Some((token, user)) = cached {
            // Expiry is a matter of time, not of a change in the store.
            return Ok((token.expires_at > now_ms()).then_some((token, user)));
        }
        let found = store.token_lookup(token_hash).await?;
        if let Some(found) = &found {
            self.fill(
                epoch,
                |e| &mut e.tokens,
                token_hash.to_string(),
                found.clone(),
            );
        }
        Ok(found)
    }

    /// The user behind a live session with this id hash.
    ///
    /// A cached session is trusted only while it is live by its cached times. Its last use
    /// can only be older than the store's (another server may have moved it on since), so a
    /// cached session that looks live is live; one that looks idle is asked of the store.
    /// Ending a session deletes its row, which moves the epoch.
    pub async fn session(
        &self,
        store: &Store,
        epoch: Epoch,
        id_hash: &str,
        idle: std::time::Duration,
    ) -> Result<Option<SessionUser>> {
        let cached = self.lock().sessions.get(id_hash).cloned();
        if let Some(session) = cached
            && session.live_at(now_ms(), idle)
        {
            return Ok(Some(session));
        }
        let found = store.session_user(id_hash, idle).await?;
        if let Some(found) = &found {
            self.fill(
                epoch,
                |e| &mut e.sessions,
                id_hash.to_string(),
                found.clone(),
            );
        }
        Ok(found)
    }

    /// Records in the cache that the session was just used (after the store was told).
    pub fn session_touched(&self, id_hash: &str, at: i64) {
        if let Some(session) = self.lock().sessions.get_mut(id_hash) {
            session.last_seen_at = session.last_seen_at.max(at);
        }
    }

    /// The user's role in the workspace, `None` for a non-member.
    pub async fn role(
        &self,
        store: &Store,
        epoch: Epoch,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<Option<Role>> {
        let key = (workspace_id.to_string(), user_id.to_string());
        if let Some(role) = self.lock().roles.get(&key).copied() {
            return Ok(Some(role));
        }
        let role = store.member_role(workspace_id, user_id).await?;
        if let Some(role) = role {
            self.fill(epoch, |e| &mut e.roles, key, role);
        }
        Ok(role)
    }

    /// The released version's query `name` of the app with this id or slug.
    pub async fn released_query(
        &self,
        store: &Store,
        epoch: Epoch,
        workspace_id: &str,
        app: &str,
        name: &str,
    ) -> Result<Released> {
        let key = (workspace_id.to_string(), app.to_string(), name.to_string());
        if let Some(found) = self.lock().queries.get(&key).cloned() {
            return Ok(Released::Found(found));
        }
        let lookup = store
            .app_query(workspace_id, app, Which::Released, name)
            .await?;
        let QueryLookup::Found(found) = lookup else {
            return Ok(Released::Missing);
        };
        let AppQuery {
            app_id,
            version,
            public,
            query,
            ..
        } = *found;
        if version.is_none() {
            return Ok(Released::Missing);
        }
        let inputs = InputsSchema::compile(query.inputs.clone())?;
        let released = Arc::new(StoredQuery {
            app_id,
            version,
            public,
            query,
            inputs,
            expressions: Default::default(),
        });
        self.fill(epoch, |e| &mut e.queries, key, released.clone());
        Ok(Released::Found(released))
    }

    /// The workspace's datasource called `name`.
    pub async fn datasource(
        &self,
        store: &Store,
        epoch: Epoch,
        workspace_id: &str,
        name: &str,
    ) -> Result<Option<Arc<DatasourceRow>>> {
        let key = (workspace_id.to_string(), name.to_string());
        if let Some(found) = self.lock().datasources.get(&key).cloned() {
            return Ok(Some(found));
        }
        let Some(row) = store.datasource_by_name(workspace_id, name).await? else {
            return Ok(None);
        };
        let row = Arc::new(row);
        self.fill(epoch, |e| &mut e.datasources, key, row.clone());
        Ok(Some(row))
    }
}

impl Caches {
    /// The authorization policy of a workspace, built from its members, groups and grants.
    pub async fn policy(
        &self,
        store: &Store,
        epoch: Epoch,
        workspace_id: &str,
    ) -> Result<Arc<Policy>> {
        if let Some(found) = self.lock().policies.get(workspace_id).cloned() {
            return Ok(found);
        }
        let rows = store.policy_rows(workspace_id).await?;
        let policy = Arc::new(Policy::build(workspace_id, rows).await?);
        self.fill(
            epoch,
            |e| &mut e.policies,
            workspace_id.to_string(),
            policy.clone(),
        );
        Ok(policy)
    }
}

/// Shares epoch reads between concurrent requests without ever answering a request with a
/// read that began before it arrived.
///
/// Reads are numbered as they begin. A request notes how many had begun when it arrived; any
/// read numbered higher began after it. Requests take turns (a fair mutex): the one whose turn
/// it is either finds such a read already finished, or makes one itself. A request cancelled
/// mid-read just gives up its turn; the next one reads.
#[derive(Default)]
struct Gate {
    begun: AtomicU64,
    turn: tokio::sync::Mutex<()>,
    /// The number and result of the latest finished read.
    last: Mutex<(u64, i64)>,
}

impl Gate {
    /// The result of a `read` that began after this call did: another caller's, if one
    /// finished by this caller's turn, or its own.
    /// Returns the read's number with its result.
    async fn fresh<F, Fut>(&self, read: F) -> Result<(u64, i64)>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<i64>>,
    {
        let needed = self.begun.load(Ordering::SeqCst) + 1;
        let _turn = self.turn.lock().await;
        let (number, epoch) = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        if number >= needed {
            return Ok((number, epoch));
        }
        let number = self.begun.fetch_add(1, Ordering::SeqCst) + 1;
        let epoch = read().await?;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = (number, epoch);
        Ok((number, epoch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicI64;
    use std::time::Duration;

    /// Every answer comes from a read that began after the caller asked, and concurrent
    /// callers share reads.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_gate_answers_only_with_reads_begun_after_the_call() {
        let gate = Arc::new(Gate::default());
        // The "store": each read returns its own number, counted as it begins.
        let reads = Arc::new(AtomicI64::new(0));
        let mut callers = Vec::new();
        for _ in 0..64 {
            let (gate, reads) = (gate.clone(), reads.clone());
            callers.push(tokio::spawn(async move {
                let begun_before = reads.load(Ordering::SeqCst);
                let seen = gate
                    .fresh(|| async {
                        let n = reads.fetch_add(1, Ordering::SeqCst) + 1;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        Ok(n)
                    })
                    .await
                    .unwrap()
                    .1;
                assert!(
                    seen > begun_before,
                    "answered with read {seen}, asked after {begun_before}"
                );
            }));
        }
        for caller in callers {
            caller.await.unwrap();
        }
        let total = reads.load(Ordering::SeqCst);
        assert!(total < 64, "{total} reads for 64 concurrent callers");
    }

    /// A slow request that synced to an older read can't take the caches back to its epoch.
    #[test]
    fn the_caches_move_only_to_later_reads() {
        let mut entries = Entries::default();
        entries.advance(2, 6);
        entries
            .roles
            .insert(("ws".into(), "u".into()), Role::Viewer);
        entries.advance(1, 5);
        assert_eq!((entries.epoch, entries.roles.len()), (Some(6), 1));
        // A later read that finds the same epoch keeps the entries; another epoch, even a
        // lower one (a restored store), empties them.
        entries.advance(3, 6);
        assert_eq!(entries.roles.len(), 1);
        entries.advance(4, 2);
        assert_eq!((entries.epoch, entries.roles.len()), (Some(2), 0));
    }

    /// A caller cancelled in the middle of its read leaves no one waiting forever.
    #[tokio::test]
    async fn a_cancelled_read_hands_the_turn_on() {
        let gate = Gate::default();
        let stuck = gate.fresh(std::future::pending::<Result<i64>>);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), stuck)
                .await
                .is_err()
        );
        let next = gate.fresh(|| async { Ok(7) });
        let answer = tokio::time::timeout(Duration::from_secs(5), next).await;
        assert_eq!(answer.unwrap().unwrap().1, 7);
    }
}
