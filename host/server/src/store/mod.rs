//! The store: one sqlx pool over the `Any` driver, backed by SQLite in the data directory or by
//! PostgreSQL when a `postgres://` URL is configured.
//!
//! Both backends run the same SQL text: numbered `$n` placeholders (SQLite accepts them too),
//! `TEXT` ids, `BIGINT` Unix-millisecond timestamps and 0/1 integers instead of booleans, so the
//! `Any` driver decodes every column the same way on both. Each backend has its own migrations
//! folder for the DDL that differs.

mod apps;
mod audit;
mod audit_journal;
mod audit_queue;
mod constants;
mod data_keys;
mod datasources;
mod direct;
mod email_tokens;
mod groups;
mod members;
mod plugins;
mod rate_limits;
mod sessions;
mod tokens;
mod users;
mod wal_index;
mod workspaces;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

pub use apps::{
    AppChange, AppFields, AppFilter, AppQuery, AppRow, AppSummaryRow, AppUpdated, AppVersionRow,
    QueryLookup, Which, is_slug,
};
pub use audit::{AuditEvent, AuditFilter, AuditRow};
pub use audit_queue::AuditQueue;
pub use constants::ConstantRow;
pub use data_keys::{DataKeyRow, Rotation, SealedKind, SealedValue};
pub use datasources::DatasourceRow;
pub use email_tokens::{EmailTokenKind, EmailTokenRow, InviteRow, NewEmailToken};
pub use groups::{
    DEFAULT_ROLE_GRANTS, GrantRow, GroupMemberRow, GroupRow, Holder, NewGrant, PolicyRows,
};
pub use members::{MemberRow, Role};
pub use plugins::{EGRESS_ALLOW, InstalledRow, PackageRow, RegistryRow, TrustedKeyRow};
pub use sessions::SessionUser;
pub use tokens::TokenRow;
pub use users::UserRow;
pub use workspaces::{WorkspaceRow, WorkspaceWithRole};

use crate::config::StoreArgs;
use crate::error::{Error, Result};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// The SQLite database's file name in the data directory.
const SQLITE_FILE: &str = "lathe.db";

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The SQLite data directory, where the migration lock file lives; `None` on PostgreSQL.
    data_dir: Option<PathBuf>,
    /// On SQLite, the cache epoch read of every request, off sqlx (see `direct.rs`).
    epoch_reader: Option<Arc<direct::EpochReader>>,
}

impl Store {
    /// Connects to the configured database. SQLite gets WAL, `synchronous=FULL` and foreign
    /// keys on every connection.
    pub async fn open(args: &StoreArgs) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();

        match args.database_url.as_ref().map(|u| u.expose()) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                // `sslmode` in the URL turns on TLS through rustls, which needs one
                // process-wide crypto provider: ring, the one the workspace builds.
                let _ = rustls::crypto::ring::default_provider().install_default();
                let options = AnyConnectOptions::from_str(url)
                    .context("parsing the PostgreSQL database URL")?;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .context("connecting to PostgreSQL")?;
                Ok(Store {
                    pool,
                    backend: Backend::Postgres,
                    data_dir: None,
                    epoch_reader: None,
                })
            }
            Some(_) => anyhow::bail!(
                "LATHE_DATABASE_URL must be a postgres:// URL; leave it unset for SQLite in the data dir"
            ),
            None => Self::open_sqlite(&args.data_dir).await,
        }
    }

    async fn open_sqlite(data_dir: &Path) -> anyhow::Result<Store> {
        // The database holds password hashes and sealed secrets: a directory and a file that
        // Lathe creates are readable by their owner only (SQLite gives its -wal and -shm
        // files the database file's mode).
        if !data_dir.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(data_dir)
                .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        }
        let data_dir = std::fs::canonicalize(data_dir)
            .with_context(|| format!("resolving data directory {}", data_dir.display()))?;
        let file = data_dir.join(SQLITE_FILE);
        if !file.exists() {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&file) {
                Ok(_) => {}
                // Another process starting on the same store (`lathe migrate` beside `lathe
                // serve`, say) made it first, with the same mode.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("creating {}", file.display()));
                }
            }
        }
        let file_url = url::Url::from_file_path(&file)
            .map_err(|()| anyhow::anyhow!("data directory {} is not absolute", file.display()))?;
        let url = format!("sqlite://{}?mode=rwc", file_url.path());

        let options = AnyConnectOptions::from_str(&url).context("building the SQLite URL")?;
        // WAL lets readers run beside the writer; FULL makes every acknowledged commit
        // survive power loss, not only a process crash.
        let pool = sqlite_pool(&options, 8)
            .await
            .with_context(|| format!("opening SQLite database {}", file.display()))?;
        let epoch_reader = direct::EpochReader::open(&file)
            .with_context(|| format!("opening SQLite database {}", file.display()))?;
        Ok(Store {
            pool,
            backend: Backend::Sqlite,
            data_dir: Some(data_dir),
            epoch_reader: Some(Arc::new(epoch_reader)),
        })
    }

    /// The SQLite database file; `None` on PostgreSQL.
    fn sqlite_file(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|dir| dir.join(SQLITE_FILE))
    }

    /// Where the audit journals of the servers on this SQLite store live; `None` on
    /// PostgreSQL.
    fn audit_journal_root(&self) -> Option<PathBuf> {
        self.data_dir
            .as_ref()
            .map(|dir| dir.join(audit_journal::FOLDER))
    }

    /// Waits for open connections to finish and closes the pools.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies pending migrations. Safe to run from several processes at once: PostgreSQL
    /// serialises them with sqlx's advisory lock, SQLite with an exclusive lock on a file in
    /// the data directory (sqlx takes no lock on SQLite).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let _guard = match &self.data_dir {
            Some(dir) => {
                let path = dir.join("migrate.lock");
                let file = File::create(&path)
                    .with_context(|| format!("creating lock file {}", path.display()))?;
                let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
                    .await
                    .context("waiting for the migration lock")?
                    .with_context(|| format!("locking {}", path.display()))?;
                Some(file)
            }
            None => None,
        };
        self.migrator()
            .run(&self.pool)
            .await
            .context("applying migrations")?;
        Ok(())
    }

    /// The counter that every change to a cached table moves (see `cache.rs`).
    pub async fn cache_epoch(&self) -> Result<i64> {
        if let Some(reader) = &self.epoch_reader {
            return reader.read();
        }
        Ok(
            sqlx::query_scalar("SELECT epoch FROM cache_epoch WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// True when the database answers and every migration this build knows is applied.
    pub async fn ready(&self) -> Result<bool> {
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(&self.pool)
            .await?;
        Ok(self.migrator().iter().all(|m| applied.contains(&m.version)))
    }
}

/// A set of writes that commit together with the audit record describing them, so the log
/// can't miss a change that happened nor record one that didn't. Its first statement should
/// be a write: SQLite then takes the write lock at once instead of failing to upgrade a read.
/// Dropping a `Change` without committing rolls it back.
pub struct Change {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
}

impl Store {
    pub async fn change(&self) -> Result<Change> {
        Ok(Change {
            tx: self.pool.begin().await?,
            backend: self.backend,
        })
    }
}

impl Change {
    /// Appends `event` to what this change will commit, for a change that is several events.
    pub async fn record(&mut self, event: AuditEvent) -> Result<()> {
        audit::insert(&mut self.tx, event).await
    }

    /// Appends `event` and commits everything.
    pub async fn commit(mut self, event: AuditEvent) -> Result<()> {
        audit::insert(&mut self.tx, event).await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// A SQLite pool of `size` connections in WAL mode with foreign keys on, syncing every commit
/// to disk (`synchronous = FULL`).
async fn sqlite_pool(
    options: &AnyConnectOptions,
    size: u32,
) -> std::result::Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await
}

/// Milliseconds since the Unix epoch: the store's one time representation.
pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// A fresh random id for a stored row.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Maps a unique-constraint violation to a 409 with the given detail; anything else stays a
/// store error (a generic 500).
fn conflict_on_unique(err: sqlx::Error, detail: &str) -> Error {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(detail.into()),
        _ => Error::Store(err),
    }
}

/// Like [`conflict_on_unique`], and a foreign-key violation (what the row refers to was
/// deleted by a concurrent request) is a 409 with `gone` as its detail.
fn conflict_on_constraint(err: sqlx::Error, taken: &str, gone: &str) -> Error {
    match &err {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::Conflict(gone.into()),
        _ => conflict_on_unique(err, taken),
    }
}

/// A migrated SQLite store in `dir`, for unit tests.
#[cfg(test)]
pub(crate) async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    let args = StoreArgs {
        data_dir: dir.path().to_path_buf(),
        database_url: None,
    };
    let store = Store::open(&args).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &'static str) -> AuditEvent {
        AuditEvent {
            action,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_change_commits_with_its_audit_record_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;

        let mut change = store.change().await.unwrap();
        change
            .user_insert("dropped@example.com", "h", false)
            .await
            .unwrap();
        drop(change);
        assert!(
            store
                .user_by_email("dropped@example.com")
                .await
                .unwrap()
                .is_none()
        );

        let mut change = store.change().await.unwrap();
        change
            .user_insert("kept@example.com", "h", false)
            .await
            .unwrap();
        change.commit(event("user.create")).await.unwrap();
        assert!(
            store
                .user_by_email("kept@example.com")
                .await
                .unwrap()
                .is_some()
        );

        let all = AuditFilter {
            limit: 10,
            ..Default::default()
        };
        let rows = store.audit_list(&all).await.unwrap();
        assert_eq!(
            rows.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
            ["user.create"]
        );
    }

    #[tokio::test]
    async fn audit_records_can_be_neither_changed_nor_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        store.audit_append(event("auth.login")).await.unwrap();

        let update = sqlx::query("UPDATE audit_events SET action = 'x'")
            .execute(&store.pool)
            .await;
        assert!(update.is_err());
        let delete = sqlx::query("DELETE FROM audit_events")
            .execute(&store.pool)
            .await;
        assert!(delete.is_err());
        let all = AuditFilter {
            limit: 10,
            ..Default::default()
        };
        assert_eq!(
            store.audit_list(&all).await.unwrap()[0].action,
            "auth.login"
        );
    }

    #[tokio::test]
    async fn sqlite_runs_in_wal_mode_with_full_sync_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let mut conn = store.pool.acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1));
    }
}
