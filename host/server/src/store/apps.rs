//! Apps and their released versions. An app has one draft definition that builders edit;
//! a release copies the draft into `app_versions` under the next number and points
//! `apps.released_version` at it. Versions are never changed once written; restoring one
//! copies it back into the draft. Every lookup is scoped by workspace.

use serde_json::Value;

use super::{Change, Store, new_id, now_ms};
use crate::definition::{self, Query};
use crate::error::{Error, Result};

/// Which definition of an app to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The current released version, what viewers run.
    Released,
    /// The draft, what builders edit and preview.
    Draft,
}

/// An app with its draft and, when it has been released, its current release.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub slug: String,
    /// The draft definition, JSON text.
    pub draft: String,
    pub released_version: Option<i64>,
    /// 1 when anonymous callers may load the release and run its queries.
    pub public: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_by: Option<String>,
    pub updated_at: i64,
    /// Moves by one with every write to the draft; what a save sends back as its base.
    pub draft_revision: i64,
    /// The released definition, JSON text.
    pub released_definition: Option<String>,
    pub released_by: Option<String>,
    pub released_at: Option<i64>,
    pub released_note: Option<String>,
}

/// An app as listed: no definitions.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppSummaryRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub released_version: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A released version; `definition` is empty text in listings.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppVersionRow {
    pub number: i64,
    pub definition: String,
    pub note: Option<String>,
    pub released_by: Option<String>,
    pub released_at: i64,
}

/// Which apps to list: all conditions hold; ordered by slug.
#[derive(Debug, Default, Clone)]
pub struct AppFilter {
    /// Only apps whose name or slug contains this text, case folded.
    pub search: Option<String>,
    /// Only apps with a release (what a viewer may see).
    pub released_only: bool,
    /// Only apps whose slug sorts after this one (the previous page's cursor).
    pub after_slug: Option<String>,
    pub limit: i64,
}

/// A new app: name, slug and the draft as JSON text.
#[derive(Debug, Clone)]
pub struct AppFields<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub draft: &'a str,
}

/// A change to an app: its name and slug (as they are, or new), and maybe a new draft.
#[derive(Debug, Clone)]
pub struct AppChange<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    /// A new draft as JSON text; `None` leaves the stored one, whatever it has become.
    pub draft: Option<&'a str>,
    /// Write only if the draft is still at this revision (the one the client loaded).
    pub base_revision: Option<i64>,
}

/// What [`Change::app_update`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppUpdated {
    Done,
    /// The draft moved past the base revision: nothing was written. Who moved it last and
    /// when, as the app row says (`by` is their email; `None` once the user is deleted).
    DraftMoved {
        revision: i64,
        by: Option<String>,
        at: i64,
    },
}

/// A stored query, found for a run.
#[derive(Debug, Clone)]
pub struct AppQuery {
    pub app_id: String,
    /// The released version's number; `None` for the draft.
    pub version: Option<i64>,
    /// Whether the app is public.
    pub public: bool,
    /// The draft's revision when the query is the draft's.
    pub draft_revision: Option<i64>,
    pub query: Query,
}

/// The outcome of [`Store::app_query`].
#[derive(Debug, Clone)]
pub enum QueryLookup {
    Found(Box<AppQuery>),
    /// No app with this id or slug in the workspace.
    NoApp,
    /// The app exists but has never been released, and the release was asked for.
    NotReleased,
    /// The chosen definition has no query of this name.
    NoQuery,
}

const SLUG_TAKEN: &str = "another app in this workspace has this slug";

/// The text `?q=` matches against: name and slug, lower-cased by Rust so that both
/// backends fold case alike.
fn search_text(name: &str, slug: &str) -> String {
    format!("{} {}", name.to_lowercase(), slug)
}

/// How an `{app}` path segment names an app: a UUID is an id, anything else a slug.
/// Text that can be neither finds nothing without reaching the database.
enum AppRef {
    Id(String),
    Slug(String),
}

fn app_ref(text: &str) -> Option<AppRef> {
    if let Ok(id) = uuid::Uuid::parse_str(text) {
        return Some(AppRef::Id(id.hyphenated().to_string()));
    }
    is_slug(text).then(|| AppRef::Slug(text.to_string()))
}

/// A slug: 1 to 64 lower-case letters, digits and inner hyphens; not a UUID (which would
/// read as an app id in a path) and not `import` (which is a route beside the apps).
pub fn is_slug(text: &str) -> bool {
    let bytes = text.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (1..=64).contains(&bytes.len())
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes.iter().all(|b| edge(b) || *b == b'-')
        && uuid::Uuid::parse_str(text).is_err()
        && text != "import"
}

const APP_COLUMNS: &str = "a.id, a.workspace_id, a.name, a.slug, a.draft, a.released_version, a.public, \
     a.created_by, a.created_at, a.updated_by, a.updated_at, a.draft_revision, v.definition AS released_definition, \
     v.released_by, v.released_at, v.note AS released_note \
     FROM apps a LEFT JOIN app_versions v ON v.app_id = a.id AND v.number = a.released_version";

impl Store {
    /// `(id, released)` of every app of the workspace, by slug.
    pub async fn app_ids(&self, workspace_id: &str) -> Result<Vec<(String, bool)>> {
        let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT id, released_version FROM apps WHERE workspace_id = $1 ORDER BY slug",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, released)| (id, released.is_some()))
            .collect())
    }

    /// The app that `app` (an id or a slug) names in the workspace.
    pub async fn app_find(&self, workspace_id: &str, app: &str) -> Result<Option<AppRow>> {
        let (column, value) = match app_ref(app) {
            Some(AppRef::Id(id)) => ("a.id", id),
            Some(AppRef::Slug(slug)) => ("a.slug", slug),
            None => return Ok(None),
        };
        let sql = format!("SELECT {APP_COLUMNS} WHERE a.workspace_id = $1 AND {column} = $2");
        // Only fixed column names are spliced; values are bound.
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn apps_list(
        &self,
        workspace_id: &str,
        filter: &AppFilter,
    ) -> Result<Vec<AppSummaryRow>> {
        let mut conditions = vec!["workspace_id = $1".to_string()];
        let mut args: Vec<String> = vec![workspace_id.to_string()];
        if let Some(search) = &filter.search {
            args.push(format!("%{}%", escape_like(&search.to_lowercase())));
            conditions.push(format!("search_text LIKE ${} ESCAPE '\\'", args.len()));
        }
        if let Some(after) = &filter.after_slug {
            args.push(after.clone());
            conditions.push(format!("slug > ${}", args.len()));
        }
        if filter.released_only {
            conditions.push("released_version IS NOT NULL".into());
        }
        let sql = format!(
            "SELECT id, name, slug, released_version, created_at, updated_at FROM apps \
             WHERE {} ORDER BY slug LIMIT ${}",
            conditions.join(" AND "),
            args.len() + 1
        );
        // The SQL text holds only fixed conditions and placeholders; values are bound.
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for arg in args {
            query = query.bind(arg);
        }
        Ok(query.bind(filter.limit).fetch_all(&self.pool).await?)
    }

    /// An app's released versions, newest first, without their definitions.
    pub async fn app_versions_list(&self, app_id: &str) -> Result<Vec<AppVersionRow>> {
        Ok(sqlx::query_as(
            "SELECT number, '' AS definition, note, released_by, released_at FROM app_versions \
             WHERE app_id = $1 ORDER BY number DESC",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn app_version_get(
        &self,
        app_id: &str,
        number: i64,
    ) -> Result<Option<AppVersionRow>> {
        Ok(sqlx::query_as(
            "SELECT number, definition, note, released_by, released_at FROM app_versions \
             WHERE app_id = $1 AND number = $2",
        )
        .bind(app_id)
        .bind(number)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Finds the stored query `name` of an app for a run: the app named by `app` (its id or
    /// its slug) in `workspace_id`, in its current release or its draft as `which` says.
    /// Returns the app's id, the released version's number (`None` for the draft) and the
    /// query as the definition holds it (datasource name, operation, template, inputs
    /// schema), or which of those three was missing. It checks no permission: the caller
    /// decides who may run the draft, and should answer a viewer's `NotReleased` like
    /// `NoApp`.
    pub async fn app_query(
        &self,
        workspace_id: &str,
        app: &str,
        which: Which,
        name: &str,
    ) -> Result<QueryLookup> {
        let Some(row) = self.app_find(workspace_id, app).await? else {
            return Ok(QueryLookup::NoApp);
        };
        let draft_revision = matches!(which, Which::Draft).then_some(row.draft_revision);
        let (text, version) = match which {
            Which::Draft => (row.draft, None),
            Which::Released => match (row.released_definition, row.released_version) {
                (Some(text), Some(n)) => (text, Some(n)),
                _ => return Ok(QueryLookup::NotReleased),
            },
        };
        let definition: Value = serde_json::from_str(&text).map_err(|e| {
            Error::Internal(anyhow::anyhow!(
                "app {} has a stored definition that is not JSON: {e}",
                row.id
            ))
        })?;
        Ok(match definition::find_query(&definition, name) {
            Some(query) => QueryLookup::Found(Box::new(AppQuery {
                public: row.public == 1,
                app_id: row.id,
                version,
                draft_revision,
                query,
            })),
            None => QueryLookup::NoQuery,
        })
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally in `LIKE … ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Change {
    /// Creates an app; a slug already used in the workspace is a 409. Returns the new id.
    pub async fn app_insert(
        &mut self,
        workspace_id: &str,
        fields: &AppFields<'_>,
        user_id: &str,
    ) -> Result<String> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO apps (id, workspace_id, name, slug, search_text, draft, created_by, \
             created_at, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $8)",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(fields.name)
        .bind(fields.slug)
        .bind(search_text(fields.name, fields.slug))
        .bind(fields.draft)
        .bind(user_id)
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| super::conflict_on_unique(e, SLUG_TAKEN))?;
        Ok(id)
    }

    /// Makes an app public or private again.
    pub async fn app_set_public(
        &mut self,
        workspace_id: &str,
        app_id: &str,
        public: bool,
    ) -> Result<()> {
        sqlx::query("UPDATE apps SET public = $3 WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(app_id)
            .bind(i64::from(public))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Replaces an app's name and slug, and its draft when `change.draft` is given (which
    /// moves the draft revision). With a base revision, the check and the write are one
    /// conditional UPDATE, so of two saves from the same base exactly one is written; the
    /// other gets [`AppUpdated::DraftMoved`]. A taken slug is a 409, no such app a 404.
    pub async fn app_update(
        &mut self,
        workspace_id: &str,
        app_id: &str,
        change: &AppChange<'_>,
        user_id: &str,
    ) -> Result<AppUpdated> {
        let updated = sqlx::query(
            "UPDATE apps SET name = $3, slug = $4, search_text = $5, draft = COALESCE($6, draft), \
             draft_revision = draft_revision + CASE WHEN $6 IS NULL THEN 0 ELSE 1 END, \
             updated_by = $7, updated_at = $8 \
             WHERE workspace_id = $1 AND id = $2 AND draft_revision = COALESCE($9, draft_revision)",
        )
        .bind(workspace_id)
        .bind(app_id)
        .bind(change.name)
        .bind(change.slug)
        .bind(search_text(change.name, change.slug))
        .bind(change.draft)
        .bind(user_id)
        .bind(now_ms())
        .bind(change.base_revision)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| super::conflict_on_unique(e, SLUG_TAKEN))?;
        if updated.rows_affected() == 1 {
            return Ok(AppUpdated::Done);
        }

        // Nothing matched: the app is gone, or its draft moved past the base.
        let moved: Option<(i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT a.draft_revision, u.email, a.updated_at FROM apps a \
             LEFT JOIN users u ON u.id = a.updated_by WHERE a.workspace_id = $1 AND a.id = $2",
        )
        .bind(workspace_id)
        .bind(app_id)
        .fetch_optional(&mut *self.tx)
        .await?;
        match moved {
            Some((revision, by, at)) => Ok(AppUpdated::DraftMoved { revision, by, at }),
            None => Err(Error::NotFound),
        }
    }

    /// Deletes an app and its versions; no such app is a 404.
    pub async fn app_delete(&mut self, workspace_id: &str, app_id: &str) -> Result<()> {
        let deleted = sqlx::query("DELETE FROM apps WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(app_id)
            .execute(&mut *self.tx)
            .await?;
        found(deleted.rows_affected())
    }

    /// Freezes the draft as the next numbered version and makes it the release. The first
    /// statement write-locks the app row, so concurrent releases number one after another.
    pub async fn app_release(
        &mut self,
        workspace_id: &str,
        app_id: &str,
        note: Option<&str>,
        user_id: &str,
    ) -> Result<(i64, String)> {
        let locked = sqlx::query(
            "UPDATE apps SET updated_at = updated_at WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(app_id)
        .execute(&mut *self.tx)
        .await?;
        found(locked.rows_affected())?;

        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(number) FROM app_versions WHERE app_id = $1")
                .bind(app_id)
                .fetch_one(&mut *self.tx)
                .await?;
        let number = last.unwrap_or(0) + 1;
        let definition: String = sqlx::query_scalar("SELECT draft FROM apps WHERE id = $1")
            .bind(app_id)
            .fetch_one(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO app_versions (app_id, number, definition, note, released_by, released_at) \
             VALUES ($1, $2, $6, $3, $4, $5)",
        )
        .bind(app_id)
        .bind(number)
        .bind(note)
        .bind(user_id)
        .bind(now_ms())
        .bind(&definition)
        .execute(&mut *self.tx)
        .await?;
        sqlx::query("UPDATE apps SET released_version = $2 WHERE id = $1")
            .bind(app_id)
            .bind(number)
            .execute(&mut *self.tx)
            .await?;
        Ok((number, definition))
    }

    /// Copies version `number` into the draft and moves the draft revision, so that a save
    /// based on the draft before is refused; the release is unchanged. No such app or version
    /// is a 404.
    pub async fn app_restore(
        &mut self,
        workspace_id: &str,
        app_id: &str,
        number: i64,
        user_id: &str,
    ) -> Result<()> {
        let restored = sqlx::query(
            "UPDATE apps SET draft = v.definition, draft_revision = apps.draft_revision + 1, \
             updated_by = $4, updated_at = $5 FROM app_versions v \
             WHERE apps.workspace_id = $1 AND apps.id = $2 AND v.app_id = apps.id AND v.number = $3",
        )
        .bind(workspace_id)
        .bind(app_id)
        .bind(number)
        .bind(user_id)
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await?;
        found(restored.rows_affected())
    }
}

fn found(rows: u64) -> Result<()> {
    if rows == 0 {
        Err(Error::NotFound)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_user_text_literally() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
    }

    #[test]
    fn app_refs_are_ids_or_slugs_or_nothing() {
        let id = uuid::Uuid::new_v4();
        let upper = id.to_string().to_uppercase();
        assert!(matches!(app_ref(&upper), Some(AppRef::Id(i)) if i == id.to_string()));
        assert!(matches!(app_ref("customers"), Some(AppRef::Slug(_))));
        for nothing in [
            "",
            "Has Space",
            "a\0b",
            "x'; drop table apps; --",
            "-a",
            "a-",
        ] {
            assert!(app_ref(nothing).is_none(), "{nothing:?}");
        }
    }
}
