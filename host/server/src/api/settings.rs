//! `/api/v1/settings/egress`: the private networks and host names connectors may reach
//! besides public addresses (instance admins). The list adds to `--egress-allow`; cloud
//! metadata addresses stay refused whatever it says. A change applies to every connector on
//! every server at its next connection: pools opened under the old list are replaced on
//! their next run.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiJson;
use crate::auth::{Actor, ClientAddr, require_instance_admin};
use crate::authz::InstanceAction;
use crate::connectors::egress_policy;
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{AuditEvent, EGRESS_ALLOW};

/// The most entries the allow-list holds.
const MAX_ENTRIES: usize = 256;

#[derive(Serialize, ToSchema)]
pub struct EgressView {
    /// CIDRs, addresses and host names allowed by this setting.
    pub allow: Vec<String>,
    /// Those allowed by the server's `--egress-allow` flag, which only its operator changes.
    pub flags: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EgressUpdate {
    /// CIDRs (`10.1.0.0/16`), addresses and host names; replaces the list.
    pub allow: Vec<String>,
}

/// Why an entry would not do what it seems to, if it wouldn't: IPv4 written inside IPv6
/// (mapped, NAT64, 6to4) is compared as IPv4 by the policy, a bare or one-label wildcard
/// would open whole top-level domains, and metadata host names resolve to addresses that
/// stay refused.
fn misleading(entry: &str) -> Option<&'static str> {
    const EMBEDDING: [&str; 3] = ["::ffff:0:0/96", "64:ff9b::/96", "2002::/16"];
    let lower = entry.to_ascii_lowercase();
    if lower.contains(':') {
        let net = lower.parse::<ipnet::IpNet>().ok().or_else(|| {
            lower
                .parse::<std::net::IpAddr>()
                .ok()
                .map(ipnet::IpNet::from)
        });
        if let Some(net) = net {
            let embeds = EMBEDDING.iter().any(|e| {
                let e: ipnet::IpNet = e.parse().expect("valid literal");
                e.contains(&net.network()) || net.contains(&e.network())
            });
            if embeds {
                return Some("write IPv4 destinations as IPv4 addresses or networks");
            }
        }
    }
    let label_count = lower.trim_start_matches("*.").split('.').count();
    if lower == "*" || (lower.starts_with("*.") && label_count < 2) {
        return Some("a wildcard must name a domain with at least two labels (*.corp.example)");
    }
    if ["metadata", "metadata.google.internal", "instance-data"]
        .contains(&lower.trim_end_matches('.'))
    {
        return Some("a cloud metadata host name, which connectors may never reach");
    }
    None
}

async fn view(state: &SharedState) -> Result<EgressView> {
    let stored = state.store.setting_get(EGRESS_ALLOW).await?;
    Ok(EgressView {
        allow: stored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
        flags: state.connectors.flag_allow().to_vec(),
    })
}

/// The egress allow-list (instance admins).
#[utoipa::path(get, path = "/api/v1/settings/egress", tag = "settings",
    responses(
        (status = 200, body = EgressView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn settings_egress_get(
    State(state): State<SharedState>,
    actor: Actor,
) -> Result<Json<EgressView>> {
    require_instance_admin(&state, &actor, InstanceAction::ManageSettings)?;
    Ok(Json(view(&state).await?))
}

/// Replace the egress allow-list (instance admins). Every entry is checked first; a metadata
/// address or an entry that is not a CIDR, an address or a host name refuses the whole list.
#[utoipa::path(put, path = "/api/v1/settings/egress", tag = "settings",
    request_body = EgressUpdate,
    responses(
        (status = 200, body = EgressView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn settings_egress_update(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    ApiJson(body): ApiJson<EgressUpdate>,
) -> Result<Json<EgressView>> {
    require_instance_admin(&state, &actor, InstanceAction::ManageSettings)?;
    if body.allow.len() > MAX_ENTRIES {
        return Err(Error::Validation(format!(
            "`allow` holds at most {MAX_ENTRIES} entries"
        )));
    }
    let mut allow: Vec<String> = Vec::with_capacity(body.allow.len());
    for entry in body.allow.iter().map(|e| e.trim()) {
        if entry.is_empty() || entry.len() > 253 || entry.chars().any(char::is_control) {
            return Err(Error::Validation(
                "`allow` entries are CIDRs, addresses or host names of 1-253 characters".into(),
            ));
        }
        if let Some(why) = misleading(entry) {
            return Err(Error::Validation(format!("`{entry}`: {why}")));
        }
        if let Some(metadata) = lathe_runtime::egress::metadata_covered_by(entry) {
            return Err(Error::Validation(format!(
                "`{entry}` covers {metadata}, a cloud metadata address, which connectors may \
                 never reach; list narrower networks that leave it out"
            )));
        }
        if !allow.iter().any(|a| a == entry) {
            allow.push(entry.to_string());
        }
    }
    egress_policy(&[], &allow).map_err(|e| Error::Validation(format!("`allow`: {e}")))?;

    let text = serde_json::to_string(&allow).unwrap_or_else(|_| "[]".into());
    let mut change = state.store.change().await?;
    change
        .setting_set(EGRESS_ALLOW, &text, &actor.user.id)
        .await?;
    change
        .commit(AuditEvent {
            target: Some(EGRESS_ALLOW.to_string()),
            detail: Some(serde_json::json!({ "allow": allow })),
            ..actor.audit(addr, "settings.egress")
        })
        .await?;
    tracing::info!(
        event = "settings.egress",
        entries = allow.len(),
        "egress allow-list changed"
    );
    Ok(Json(view(&state).await?))
}
