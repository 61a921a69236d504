//! `/api/v1/workspaces/{ws}/apps`: create, list, read, update the draft, delete. `{app}` is
//! an app's id or its slug. Builders and admins see and edit the draft; viewers see only
//! released apps, and only their released definition.

use super::app_access::{
    check_definition, check_slug, definition_digest, find_editable, find_visible, insert,
    parse_stored, require_datasources, view_after_change,
};
use super::audit_event;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiQuery, rfc3339, validate_name};
use crate::auth::{Actor, ClientAddr, Permission, authorize, may, require};
use crate::authz::{Action, Object};
use crate::definition;
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{AppChange, AppFields, AppFilter, AppRow, AppSummaryRow, AppUpdated, is_slug};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppCreate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// 1 to 64 lower-case letters, digits and inner hyphens; unique in the workspace.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
    )]
    pub slug: String,
    /// The draft definition (see `GET /api/v1/schemas/app-definition`); one empty page when
    /// absent.
    #[schema(value_type = Option<Object>)]
    pub definition: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppUpdate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
    )]
    pub slug: Option<String>,
    /// A new draft definition, replacing the old one whole.
    #[schema(value_type = Option<Object>)]
    pub definition: Option<Value>,
    /// Make the app public or private; needs `manage_workspace` besides `edit`.
    pub public: Option<bool>,
    /// The `draft_revision` the client's copy of the draft is based on. When given and the
    /// draft has changed since (someone saved it, restored a version), nothing is changed
    /// and the answer is a 409 `draft-changed`. Without it the request overwrites whatever
    /// the draft has become.
    #[schema(minimum = 1)]
    pub base_revision: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AppListQuery {
    /// Only apps whose name or slug contains this text (case-insensitive), up to 100
    /// characters.
    pub q: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// An app as listed.
#[derive(Serialize, ToSchema)]
pub struct AppSummary {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// The number of the version viewers get; absent until the first release.
    pub released_version: Option<i64>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<AppSummaryRow> for AppSummary {
    fn from(r: AppSummaryRow) -> Self {
        AppSummary {
            id: r.id,
            name: r.name,
            slug: r.slug,
            released_version: r.released_version,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AppPage {
    pub items: Vec<AppSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The current release of an app.
#[derive(Serialize, ToSchema)]
pub struct ReleaseView {
    pub version: i64,
    /// RFC 3339.
    pub released_at: String,
    pub released_by: Option<String>,
    pub note: Option<String>,
    #[schema(value_type = Object)]
    pub definition: Value,
}

/// One app. `draft` and `draft_changed` are present for builders and admins only.
#[derive(Serialize, ToSchema)]
pub struct AppView {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub slug: String,
    pub created_by: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_by: Option<String>,
    /// RFC 3339.
    pub updated_at: String,
    /// The draft definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub draft: Option<Value>,
    /// Whether the draft differs from the current release (true before the first release).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft_changed: Option<bool>,
    /// Moves with every change to the draft (a save, a restored version); send it back as
    /// `base_revision` with a save so that it can't overwrite a change made since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft_revision: Option<i64>,
    /// The current release; absent until the first release.
    pub released: Option<ReleaseView>,
    /// Anyone, signed in or not, may load the release and run its queries
    /// (`/api/v1/public/…`).
    pub public: bool,
}

impl AppView {
    /// The app as its viewer sees it: the draft only for someone who may edit the app.
    pub(super) fn new(row: AppRow, can_edit: bool) -> Result<AppView> {
        let released = match (row.released_version, &row.released_definition) {
            (Some(version), Some(text)) => Some(ReleaseView {
                version,
                released_at: rfc3339(row.released_at.unwrap_or_default()),
                released_by: row.released_by.clone(),
                note: row.released_note.clone(),
                definition: parse_stored(&row.id, text)?,
            }),
            _ => None,
        };
        let (draft, draft_changed, draft_revision) = if can_edit {
            let draft = parse_stored(&row.id, &row.draft)?;
            let changed = released.as_ref().is_none_or(|r| r.definition != draft);
            (Some(draft), Some(changed), Some(row.draft_revision))
        } else {
            (None, None, None)
        };
        Ok(AppView {
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            slug: row.slug,
            created_by: row.created_by,
            created_at: rfc3339(row.created_at),
            updated_by: row.updated_by,
            updated_at: rfc3339(row.updated_at),
            draft,
            draft_changed,
            draft_revision,
            released,
            public: row.public == 1,
        })
    }
}

/// Create an app (builders and admins).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/apps", tag = "apps", request_body = AppCreate,
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 201, body = AppView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn apps_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<AppCreate>,
) -> Result<(StatusCode, Json<AppView>)> {
    authorize(&state, &actor, &ws, Permission::Build).await?;
    let name = validate_name("name", &body.name)?;
    check_slug("slug", &body.slug)?;
    let definition = body.definition.unwrap_or_else(definition::empty);
    let draft = check_definition(&definition, "/definition")?;

    let fields = AppFields {
        name: &name,
        slug: &body.slug,
        draft: &draft,
    };
    let no_extra = serde_json::Map::new();
    let view = insert(&state, &actor, addr, &ws, &fields, "app.create", no_extra).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The workspace's apps, by slug. Viewers see released apps only.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/apps", tag = "apps",
    params(("ws" = String, Path, description = "Workspace id"), AppListQuery),
    responses(
        (status = 200, body = AppPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn apps_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path(ws): Path<String>,
    ApiQuery(query): ApiQuery<AppListQuery>,
) -> Result<Json<AppPage>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::BadRequest(format!(
            "`limit` must be 1 to {MAX_LIMIT}"
        )));
    }
    if let Some(q) = &query.q
        && (q.chars().count() > 100 || q.chars().any(char::is_control))
    {
        return Err(Error::BadRequest(
            "`q` must be at most 100 characters with no control characters".into(),
        ));
    }
    if let Some(cursor) = &query.cursor
        && !is_slug(cursor)
    {
        return Err(Error::BadRequest(
            "`cursor` is not one this API returned".into(),
        ));
    }

    let filter = AppFilter {
        search: query.q.filter(|q| !q.is_empty()),
        released_only: false,
        after_slug: query.cursor,
        limit,
    };
    let rows = state.store.apps_list(&ws, &filter).await?;
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) == limit;
    let next_cursor = if full {
        rows.last().map(|r| r.slug.clone())
    } else {
        None
    };
    // Each app as `apps_get` would show it: released ones to those who may view them, any to
    // those who may edit them. A page can come out shorter than `limit`; `next_cursor` still
    // says whether more follow.
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let object = Object::App(Some(row.id.clone()));
        let visible = may(&state, &actor, &ws, &object, Action::Edit).await?
            || (row.released_version.is_some()
                && may(&state, &actor, &ws, &object, Action::View).await?);
        if visible {
            items.push(AppSummary::from(row));
        }
    }
    Ok(Json(AppPage { items, next_cursor }))
}

/// One app, by id or slug. Builders and admins get the draft and the release; viewers get
/// the release only, and a 404 for an app that was never released.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/apps/{app}", tag = "apps",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("app" = String, Path, description = "App id or slug"),
    ),
    responses(
        (status = 200, body = AppView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn apps_get(
    State(state): State<SharedState>,
    actor: Actor,
    Path((ws, app)): Path<(String, String)>,
) -> Result<Json<AppView>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    let (row, can_edit) = find_visible(&state, &actor, &ws, &app).await?;
    Ok(Json(AppView::new(row, can_edit)?))
}

/// Rename an app, change its slug, or replace its draft definition (builders and admins).
/// The release is unchanged until the next `release`. With `base_revision`, a draft that
/// changed since that revision is a 409 `draft-changed` and nothing is written.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/apps/{app}", tag = "apps",
    request_body = AppUpdate,
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("app" = String, Path, description = "App id or slug"),
    ),
    responses(
        (status = 200, body = AppView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn apps_update(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, app)): Path<(String, String)>,
    ApiJson(body): ApiJson<AppUpdate>,
) -> Result<Json<AppView>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    if body.name.is_none()
        && body.slug.is_none()
        && body.definition.is_none()
        && body.public.is_none()
    {
        return Err(Error::Validation(
            "send at least one of `name`, `slug`, `definition`, `public`".into(),
        ));
    }
    let name = body
        .name
        .as_deref()
        .map(|n| validate_name("name", n))
        .transpose()?;
    if let Some(slug) = &body.slug {
        check_slug("slug", slug)?;
    }
    let draft = body
        .definition
        .as_ref()
        .map(|d| check_definition(d, "/definition"))
        .transpose()?;
    if body.base_revision.is_some_and(|r| r < 1) {
        return Err(Error::Validation(
            "`base_revision` must be a `draft_revision` this API returned".into(),
        ));
    }
    let before = find_editable(&state, &actor, &ws, &app).await?;
    if let Some(text) = &draft {
        require_datasources(&state, &actor, &ws, text).await?;
    }

    let fields = AppChange {
        name: name.as_deref().unwrap_or(&before.name),
        slug: body.slug.as_deref().unwrap_or(&before.slug),
        draft: draft.as_deref(),
        base_revision: body.base_revision,
    };
    let mut detail = serde_json::Map::new();
    if fields.name != before.name {
        detail.insert(
            "name".into(),
            serde_json::json!({ "from": before.name, "to": fields.name }),
        );
    }
    if fields.slug != before.slug {
        detail.insert(
            "slug".into(),
            serde_json::json!({ "from": before.slug, "to": fields.slug }),
        );
    }
    if let Some(text) = &draft {
        detail.insert("definition".into(), definition_digest(text));
    }
    if let Some(public) = body.public {
        // Publishing puts the release's data in front of anyone who has the link: more than
        // editing the app.
        require(
            &state,
            &actor,
            &ws,
            &Object::Workspace,
            Action::ManageWorkspace,
            "the workspace (making an app public or private)",
        )
        .await?;
        if public != (before.public == 1) {
            detail.insert("public".into(), public.into());
        }
    }
    let mut change = state.store.change().await?;
    let updated = change
        .app_update(&ws, &before.id, &fields, &actor.user.id)
        .await?;
    if let AppUpdated::DraftMoved { revision, by, at } = updated {
        return Err(draft_moved(&actor, body.base_revision, (revision, by, at)));
    }
    if let Some(public) = body.public {
        change.app_set_public(&ws, &before.id, public).await?;
    }
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "app.update",
            &before.id,
            detail.into(),
        ))
        .await?;
    Ok(Json(view_after_change(&state, &ws, &before.id).await?))
}

/// The 409 for a save whose base is no longer the draft: who changed it and when. Their
/// email is no secret here: any member may list the workspace's members.
fn draft_moved(actor: &Actor, base: Option<i64>, moved: (i64, Option<String>, i64)) -> Error {
    let (revision, by, at) = moved;
    let who = match by {
        Some(email) if email == actor.user.email => format!("you ({email}, elsewhere)"),
        Some(email) => email,
        None => "someone else".into(),
    };
    let base = base.unwrap_or_default();
    Error::DraftChanged(format!(
        "the draft was changed by {who} at {} after you opened it, so nothing was saved \
         (your copy is based on revision {base}, the draft is at revision {revision})",
        // Whole seconds: this is read by people.
        rfc3339(at - at.rem_euclid(1000))
    ))
}

/// Delete an app and all its versions (builders and admins).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/apps/{app}", tag = "apps",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("app" = String, Path, description = "App id or slug"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn apps_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, app)): Path<(String, String)>,
) -> Result<StatusCode> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    let before = find_editable(&state, &actor, &ws, &app).await?;

    let mut change = state.store.change().await?;
    change.app_delete(&ws, &before.id).await?;
    let detail = serde_json::json!({
        "name": before.name, "slug": before.slug, "released_version": before.released_version,
    });
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "app.delete",
            &before.id,
            detail,
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
