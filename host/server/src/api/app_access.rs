//! What the app handlers share: finding an app the caller may see or edit, checking what
//! is written (slugs, definitions, the datasources a definition names), and the stored
//! forms (definitions as JSON, their digests for the audit log).

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::apps::AppView;
use super::audit_event;
use crate::auth::{Actor, may, require};
use crate::authz::{Action, Object};
use crate::definition;
use crate::error::{Error, Result};
use crate::state::SharedState;
use crate::store::{AppFields, AppRow, is_slug};

/// A stored definition as JSON; stored text is always checked JSON, so a failure means the
/// store was changed behind the server's back.
pub(super) fn parse_stored(app_id: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| {
        Error::Internal(anyhow::anyhow!(
            "app {app_id} has a stored definition that is not JSON: {e}"
        ))
    })
}

/// A slug as given, or a 422 naming the field.
pub(super) fn check_slug(field: &str, slug: &str) -> Result<()> {
    if is_slug(slug) {
        return Ok(());
    }
    Err(Error::Validation(format!(
        "`{field}` must be 1 to 64 lower-case letters, digits and inner hyphens, and neither a UUID nor `import`"
    )))
}

/// A definition checked and serialised for the store, or a 422 whose pointer is relative to
/// the request body (`at` is where the definition sits in it).
pub(super) fn check_definition(definition: &Value, at: &str) -> Result<String> {
    definition::validate(definition).map_err(|invalid| Error::Validation(invalid.describe(at)))?;
    serde_json::to_string(definition).map_err(|e| Error::Internal(e.into()))
}

/// What the audit log keeps of a definition: its size and digest, never its text.
pub(super) fn definition_digest(text: &str) -> Value {
    serde_json::json!({
        "bytes": text.len(),
        "sha256": hex::encode(Sha256::digest(text.as_bytes())),
    })
}

/// The app `app` (an id or a slug) names in `ws`, or a 404.
pub(super) async fn find(state: &SharedState, ws: &str, app: &str) -> Result<AppRow> {
    state.store.app_find(ws, app).await?.ok_or(Error::NotFound)
}

/// Writes a new app with its audit record and reads it back. The record's detail is
/// `extra` plus the app's name, slug and the definition's digest.
#[allow(clippy::too_many_arguments)]
pub(super) async fn insert(
    state: &SharedState,
    actor: &Actor,
    addr: std::net::IpAddr,
    ws: &str,
    fields: &AppFields<'_>,
    action: &'static str,
    mut extra: serde_json::Map<String, Value>,
) -> Result<AppView> {
    require_datasources(state, actor, ws, fields.draft).await?;
    extra.insert("name".into(), fields.name.into());
    extra.insert("slug".into(), fields.slug.into());
    extra.insert("definition".into(), definition_digest(fields.draft));

    let mut change = state.store.change().await?;
    let id = change.app_insert(ws, fields, &actor.user.id).await?;
    change
        .commit(audit_event(actor, ws, addr, action, &id, extra.into()))
        .await?;
    view_after_change(state, ws, &id).await
}

/// The app `app` names in `ws` as the actor may see it, and whether they may edit it. Someone
/// who may not edit a never-released app gets the same 404 as for one that doesn't exist.
pub(super) async fn find_visible(
    state: &SharedState,
    actor: &Actor,
    ws: &str,
    app: &str,
) -> Result<(AppRow, bool)> {
    let row = find(state, ws, app).await?;
    let object = Object::App(Some(row.id.clone()));
    let can_edit = may(state, actor, ws, &object, Action::Edit).await?;
    if !can_edit
        && (row.released_version.is_none() || !may(state, actor, ws, &object, Action::View).await?)
    {
        return Err(Error::NotFound);
    }
    Ok((row, can_edit))
}

/// The app `app` names in `ws`, for a change: a 403 unless the actor may edit it.
pub(super) async fn find_editable(
    state: &SharedState,
    actor: &Actor,
    ws: &str,
    app: &str,
) -> Result<AppRow> {
    let row = find(state, ws, app).await?;
    let object = Object::App(Some(row.id.clone()));
    if may(state, actor, ws, &object, Action::Edit).await? {
        return Ok(row);
    }
    // An app the caller can't even open is one they can't tell exists.
    if row.released_version.is_none() || !may(state, actor, ws, &object, Action::View).await? {
        return Err(Error::NotFound);
    }
    Err(Error::Forbidden(
        "this needs `edit` on this app, which neither your role nor your groups grant".into(),
    ))
}

/// A 403 unless the actor may `use` every existing datasource the definition's queries name:
/// otherwise someone who may edit an app could aim its queries at a datasource they were
/// not given, for others to run.
pub(super) async fn require_datasources(
    state: &SharedState,
    actor: &Actor,
    ws: &str,
    definition: &str,
) -> Result<()> {
    let definition: Value = serde_json::from_str(definition)
        .map_err(|e| Error::Internal(anyhow::anyhow!("a checked definition is not JSON: {e}")))?;
    let names: std::collections::BTreeSet<&str> = definition
        .get("queries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|q| q.get("datasource").and_then(Value::as_str))
        .collect();
    for name in names {
        let Some(row) = state.store.datasource_by_name(ws, name).await? else {
            continue;
        };
        let object = Object::Datasource(Some(row.id.clone()));
        require(
            state,
            actor,
            ws,
            &object,
            Action::Use,
            &format!("datasource `{name}`"),
        )
        .await?;
    }
    Ok(())
}

/// Reads an app back after a change, as the builder who made it sees it.
pub(super) async fn view_after_change(
    state: &SharedState,
    ws: &str,
    app_id: &str,
) -> Result<AppView> {
    let row = state
        .store
        .app_find(ws, app_id)
        .await?
        .ok_or(Error::NotFound)?;
    AppView::new(row, true)
}
