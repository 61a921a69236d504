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

/// Why an entry would not do what it seems to, if it wouldn't:
/// - IPv6 that embeds IPv4 (compatible, mapped, translated, NAT64, 6to4, Teredo) is compared as the
///   IPv4 inside by the policy, so it must be written as IPv4;
/// - a host name that is really a number (`2852039166`, `0xa9fe…`, octal, trailing dots) or
///   carries an IPv4 address in its labels names an address, not a host;
/// - names must be plain ASCII (no look-alike letters), and a wildcard needs a domain of two
///   labels at least;
/// - metadata host names (and wildcards over them) resolve to addresses that stay refused.
fn misleading(entry: &str) -> Option<&'static str> {
    const EMBEDDING: [&str; 7] = [
        "::/96",
        "::ffff:0:0/96",
        "::ffff:0:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2002::/16",
        "2001::/32",
    ];
    const METADATA_NAMES: [&str; 4] = [
        "metadata",
        "metadata.google.internal",
        "instance-data",
        "instance-data.ec2.internal",
    ];
    let lower = entry.to_ascii_lowercase();
    let net = lower.parse::<ipnet::IpNet>().ok().or_else(|| {
        lower
            .parse::<std::net::IpAddr>()
            .ok()
            .map(ipnet::IpNet::from)
    });
    if let Some(ipnet::IpNet::V6(net)) = net {
        // Loopback (and the unspecified address) sit inside ::/96 but embed nothing.
        if net.prefix_len() == 128
            && net.addr().segments()[..7].iter().all(|s| *s == 0)
            && net.addr().segments()[7] <= 1
        {
            return None;
        }
        let embeds = EMBEDDING.iter().any(|e| {
            let e: ipnet::Ipv6Net = e.parse().expect("valid literal");
            e.contains(&net.network()) || net.contains(&e.network())
        });
        return embeds.then_some("write IPv4 destinations as IPv4 addresses or networks");
    }
    if net.is_some() {
        return None;
    }
    if !lower
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.*".contains(&b))
    {
        return Some("host names are ASCII letters, digits, '-' and '.' (IDNs in punycode)");
    }
    let name = lower.trim_end_matches('.');
    let labels: Vec<&str> = name.split('.').collect();
    let numeric = |l: &&str| {
        !l.is_empty()
            && (l.bytes().all(|b| b.is_ascii_digit())
                || l.strip_prefix("0x")
                    .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())))
    };
    if labels.iter().all(numeric) || labels.windows(4).any(|w| w.iter().all(numeric)) {
        return Some("this names an IPv4 address: write it as a dotted IPv4 address or network");
    }
    let bare = name.trim_start_matches("*.");
    if name == "*" || (name.starts_with("*.") && bare.split('.').count() < 2) {
        return Some("a wildcard must name a domain with at least two labels (*.corp.example)");
    }
    let covers_metadata = METADATA_NAMES
        .iter()
        .any(|m| *m == name || (name.starts_with("*.") && m.ends_with(&format!(".{bare}"))));
    covers_metadata.then_some("a cloud metadata host name, which connectors may never reach")
}

#[cfg(test)]
mod tests {
    use super::misleading;

    #[test]
    fn entries_that_would_mislead_are_named() {
        for entry in [
            "::169.254.169.254",
            "::/96",
            "::ffff:0:a9fe:a9fe",
            "64:ff9b:1::a9fe:a9fe",
            "2001:0:4136:e378::/64",
            "2852039166",
            "0xa9fea9fe",
            "0251.0376.0251.0376",
            "169.254.43518",
            "169.254.169.254.",
            "169.254.169.254.nip.io",
            "*",
            "*.com",
            "*.google.internal",
            "metadata.google.internal",
            "instance-data.ec2.internal",
            "\u{ff4d}etadata.google.internal",
        ] {
            assert!(misleading(entry).is_some(), "{entry}");
        }
        for entry in [
            "127.0.0.1",
            "10.0.0.0/8",
            "::1",
            "fd12::/16",
            "db.internal",
            "*.corp.example",
        ] {
            assert_eq!(misleading(entry), None, "{entry}");
        }
    }
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
