//! `/api/v1/plugins`: the connectors this server can run, with their manifests (configuration
//! schema, secret fields, operations and the destinations they may reach).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::error::Result;
use crate::state::SharedState;

#[derive(Serialize, ToSchema)]
pub struct PluginView {
    /// The plugin's manifest: id, version, name, kind, capabilities, config schema, secret
    /// fields and operations.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
    /// sha256 of the component, hex.
    pub digest: String,
}

/// The installed connectors (any signed-in user).
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, body = Vec<PluginView>)))]
pub async fn plugins_list(
    State(state): State<SharedState>,
    _actor: Actor,
) -> Result<Json<Vec<PluginView>>> {
    let plugins = state
        .connectors
        .plugins()
        .map(|p| PluginView {
            manifest: serde_json::to_value(&p.manifest).unwrap_or_default(),
            digest: p.digest.clone(),
        })
        .collect();
    Ok(Json(plugins))
}
