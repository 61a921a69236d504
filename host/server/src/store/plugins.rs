//! Connectors installed from registries: the registries and trusted publisher keys an
//! instance admin configured, verified packages by digest, what is installed (with the
//! capabilities approved for it), and instance settings such as the egress allow-list.

use super::{Change, Store, conflict_on_unique, now_ms};
use crate::error::{Error, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegistryRow {
    pub id: String,
    pub name: String,
    pub url: String,
    pub allow_unsigned: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TrustedKeyRow {
    pub id: String,
    pub name: String,
    pub public_key: String,
    pub created_by: Option<String>,
    pub created_at: i64,
}

/// A verified package: what was fetched, checked and (once installed) approved.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PackageRow {
    pub digest: String,
    pub plugin_id: String,
    pub version: String,
    pub manifest: String,
    pub component: Vec<u8>,
    pub publisher: Option<String>,
    pub registry: String,
    pub created_at: i64,
}

/// An installed plugin with its active and previous package (without component bytes).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstalledRow {
    pub plugin_id: String,
    pub digest: String,
    pub version: String,
    pub publisher: Option<String>,
    pub registry: String,
    /// JSON array of the approved capabilities.
    pub approved: String,
    pub previous_digest: Option<String>,
    pub previous_version: Option<String>,
    pub previous_approved: Option<String>,
    pub installed_by: Option<String>,
    pub installed_at: i64,
    pub updated_at: i64,
}

const REGISTRY_COLUMNS: &str = "id, name, url, allow_unsigned, created_by, created_at";
const KEY_COLUMNS: &str = "id, name, public_key, created_by, created_at";
const INSTALLED: &str = "SELECT i.plugin_id, i.digest, p.version, p.publisher, p.registry, \
     i.approved, i.previous_digest, q.version AS previous_version, i.previous_approved, \
     i.installed_by, i.installed_at, i.updated_at \
     FROM installed_plugins i JOIN plugin_packages p ON p.digest = i.digest \
     LEFT JOIN plugin_packages q ON q.digest = i.previous_digest";

/// The name of the egress allow-list in `instance_settings`.
pub const EGRESS_ALLOW: &str = "egress_allow";

impl Store {
    pub async fn registries_list(&self) -> Result<Vec<RegistryRow>> {
        let sql = format!("SELECT {REGISTRY_COLUMNS} FROM registries ORDER BY name");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn registry_get(&self, id: &str) -> Result<Option<RegistryRow>> {
        let sql = format!("SELECT {REGISTRY_COLUMNS} FROM registries WHERE id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn registry_by_name(&self, name: &str) -> Result<Option<RegistryRow>> {
        let sql = format!("SELECT {REGISTRY_COLUMNS} FROM registries WHERE name = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn trusted_keys_list(&self) -> Result<Vec<TrustedKeyRow>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM trusted_keys ORDER BY name, id");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn package_get(&self, digest: &str) -> Result<Option<PackageRow>> {
        Ok(sqlx::query_as(
            "SELECT digest, plugin_id, version, manifest, component, publisher, registry, \
             created_at FROM plugin_packages WHERE digest = $1",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn installed_list(&self) -> Result<Vec<InstalledRow>> {
        let sql = format!("{INSTALLED} ORDER BY i.plugin_id");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn installed_get(&self, plugin_id: &str) -> Result<Option<InstalledRow>> {
        let sql = format!("{INSTALLED} WHERE i.plugin_id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(plugin_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// How many datasources, in every workspace, use the plugin.
    pub async fn datasources_using(&self, plugin_id: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM datasources WHERE plugin_id = $1")
                .bind(plugin_id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// A setting's JSON text, if it was ever set.
    pub async fn setting_get(&self, name: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM instance_settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

impl Change {
    pub async fn registry_insert(&mut self, row: &RegistryRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO registries (id, name, url, allow_unsigned, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.url)
        .bind(row.allow_unsigned)
        .bind(&row.created_by)
        .bind(row.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| conflict_on_unique(e, "a registry with this name exists"))?;
        Ok(())
    }

    /// Replaces name, URL and the unsigned flag. `false` when the row is gone.
    pub async fn registry_update(&mut self, row: &RegistryRow) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE registries SET name = $2, url = $3, allow_unsigned = $4 WHERE id = $1",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.url)
        .bind(row.allow_unsigned)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| conflict_on_unique(e, "a registry with this name exists"))?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn registry_delete(&mut self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM registries WHERE id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn trusted_key_insert(&mut self, row: &TrustedKeyRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO trusted_keys (id, name, public_key, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.public_key)
        .bind(&row.created_by)
        .bind(row.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| conflict_on_unique(e, "this key is trusted already"))?;
        Ok(())
    }

    pub async fn trusted_key_delete(&mut self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM trusted_keys WHERE id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a verified package; one with its digest is the same bytes by definition of the
    /// digest, and only the registry it came from this time is updated.
    pub async fn package_insert(&mut self, row: &PackageRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO plugin_packages (digest, plugin_id, version, manifest, component, \
             publisher, registry, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (digest) DO UPDATE SET registry = excluded.registry",
        )
        .bind(&row.digest)
        .bind(&row.plugin_id)
        .bind(&row.version)
        .bind(&row.manifest)
        .bind(&row.component)
        .bind(&row.publisher)
        .bind(&row.registry)
        .bind(row.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// The installed row of a plugin, read inside this change and locked against concurrent
    /// changes of the same plugin until this change ends.
    pub async fn installed_for_update(&mut self, plugin_id: &str) -> Result<Option<InstalledRow>> {
        let sql = format!("{INSTALLED} WHERE i.plugin_id = $1");
        let sql = match self.backend {
            super::Backend::Postgres => format!("{sql} FOR UPDATE OF i"),
            super::Backend::Sqlite => {
                // A write first takes SQLite's writer lock, so a concurrent install waits
                // here instead of failing when it tries to write after reading.
                sqlx::query(
                    "UPDATE installed_plugins SET updated_at = updated_at WHERE plugin_id = $1",
                )
                .bind(plugin_id)
                .execute(&mut *self.tx)
                .await?;
                sql
            }
        };
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(plugin_id)
            .fetch_optional(&mut *self.tx)
            .await?)
    }

    /// Makes `digest` the active package of the plugin with `approved` capabilities; what
    /// was active becomes the previous package. Installs when the plugin is new.
    pub async fn installed_activate(
        &mut self,
        plugin_id: &str,
        digest: &str,
        approved: &str,
        by: Option<&str>,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO installed_plugins (plugin_id, digest, approved, previous_digest, \
             previous_approved, installed_by, installed_at, updated_at) \
             VALUES ($1, $2, $3, NULL, NULL, $4, $5, $5) \
             ON CONFLICT (plugin_id) DO UPDATE SET \
               previous_digest = installed_plugins.digest, \
               previous_approved = installed_plugins.approved, \
               digest = excluded.digest, approved = excluded.approved, \
               installed_by = excluded.installed_by, updated_at = excluded.updated_at",
        )
        .bind(plugin_id)
        .bind(digest)
        .bind(approved)
        .bind(by)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Swaps the active and previous packages. `false` when there is no previous one.
    pub async fn installed_rollback(&mut self, plugin_id: &str, by: Option<&str>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE installed_plugins SET digest = previous_digest, approved = previous_approved, \
             previous_digest = digest, previous_approved = approved, installed_by = $2, \
             updated_at = $3 WHERE plugin_id = $1 AND previous_digest IS NOT NULL",
        )
        .bind(plugin_id)
        .bind(by)
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uninstalls the plugin; with `disable`, marks every datasource using it as disabled
    /// with that reason. Returns how many datasources were disabled.
    pub async fn installed_delete(&mut self, plugin_id: &str, disable: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM installed_plugins WHERE plugin_id = $1")
            .bind(plugin_id)
            .execute(&mut *self.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        let disabled = sqlx::query(
            "UPDATE datasources SET disabled = $2, updated_at = $3 \
             WHERE plugin_id = $1 AND disabled IS NULL",
        )
        .bind(plugin_id)
        .bind(disable)
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await?;
        Ok(disabled.rows_affected())
    }

    /// Packages no installed plugin points at any more: their bytes can go.
    pub async fn packages_prune(&mut self) -> Result<()> {
        sqlx::query(
            "DELETE FROM plugin_packages WHERE digest NOT IN \
             (SELECT digest FROM installed_plugins UNION \
              SELECT previous_digest FROM installed_plugins WHERE previous_digest IS NOT NULL)",
        )
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn setting_set(&mut self, name: &str, value: &str, by: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO instance_settings (name, value, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET \
             value = excluded.value, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(value)
        .bind(by)
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Whether `plugin_id` is installed, locking its row against removal until this change
    /// ends (PostgreSQL): a datasource created meanwhile is then either refused or seen,
    /// and disabled, by a forced removal. (SQLite changes never overlap.)
    pub async fn installed_hold(&mut self, plugin_id: &str) -> Result<bool> {
        let sql = match self.backend {
            super::Backend::Postgres => {
                "SELECT plugin_id FROM installed_plugins WHERE plugin_id = $1 FOR SHARE"
            }
            super::Backend::Sqlite => {
                "SELECT plugin_id FROM installed_plugins WHERE plugin_id = $1"
            }
        };
        let found: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(plugin_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(found.is_some())
    }

    /// Enables a datasource (`None`) or disables it with `reason` unless it is disabled
    /// already (an earlier reason stays). Returns the mark as it now is.
    pub async fn datasource_set_disabled(
        &mut self,
        workspace_id: &str,
        id: &str,
        reason: Option<&str>,
    ) -> Result<Option<String>> {
        let sql = "UPDATE datasources SET disabled = CASE WHEN CAST($3 AS TEXT) IS NULL THEN NULL \
                   ELSE COALESCE(disabled, CAST($3 AS TEXT)) END \
                   WHERE workspace_id = $1 AND id = $2 RETURNING disabled";
        let row: Option<(Option<String>,)> = sqlx::query_as(sql)
            .bind(workspace_id)
            .bind(id)
            .bind(reason)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|(d,)| d).ok_or(Error::NotFound)
    }
}
