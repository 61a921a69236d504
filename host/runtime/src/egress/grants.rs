//! Capabilities from a manifest, rendered with a datasource's configuration into concrete
//! destinations, resolved and pinned as an instance's grants.

use super::policy::{EgressPolicy, canonical};
use crate::error::RuntimeError;
use std::fmt;
use std::net::IpAddr;

/// A destination template from a manifest, e.g. `tcp://{host}:{port}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    Tcp { host: Part, port: Part },
    Http { https_only: bool, field: String },
}

/// A literal or a `{field}` of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    Field(String),
}

impl Part {
    fn parse(text: &str) -> Result<Part, String> {
        if let Some(field) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            if field.is_empty() || !field.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(format!("`{text}` is not a valid field reference"));
            }
            return Ok(Part::Field(field.to_string()));
        }
        if text.is_empty() || text.contains(['*', '{', '}', '/', '@']) {
            return Err(format!(
                "`{text}` is not a host or port (wildcards are not allowed)"
            ));
        }
        Ok(Part::Literal(text.to_string()))
    }

    fn render(&self, config: &serde_json::Value) -> Result<String, String> {
        match self {
            Part::Literal(text) => Ok(text.clone()),
            Part::Field(field) => match config.get(field) {
                Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                _ => Err(format!("the configuration has no value for `{field}`")),
            },
        }
    }
}

impl Capability {
    pub fn parse(text: &str) -> Result<Capability, String> {
        let bad = |why: &str| format!("capability `{text}`: {why}");
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| bad("expected scheme://destination"))?;
        match scheme {
            "tcp" => {
                let (host, port) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| bad("expected tcp://host:port"))?;
                // The host is always the datasource's own: a literal host would be a fixed
                // destination every datasource of the plugin reaches, whatever the admin
                // configured. A literal port (`tcp://{host}:5432`) is fine.
                let host = match Part::parse(host).map_err(|e| bad(&e))? {
                    Part::Field(field) => Part::Field(field),
                    Part::Literal(_) => {
                        return Err(bad("a TCP grant names the host by a configuration field: \
                             tcp://{host}:{port} or tcp://{host}:5432"));
                    }
                };
                let port = Part::parse(port).map_err(|e| bad(&e))?;
                if let Part::Literal(literal) = &port
                    && !literal.parse::<u16>().is_ok_and(|p| p > 0)
                {
                    return Err(bad("a literal port is a number from 1 to 65535"));
                }
                Ok(Capability::Tcp { host, port })
            }
            "http" | "https" => match Part::parse(rest).map_err(|e| bad(&e))? {
                Part::Field(field) => Ok(Capability::Http {
                    https_only: scheme == "https",
                    field,
                }),
                Part::Literal(_) => Err(bad(
                    "an HTTP grant names a configuration field: http://{base_url}",
                )),
            },
            _ => Err(bad("the scheme must be tcp, http or https")),
        }
    }

    /// The configuration fields the destination is made of.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Capability::Tcp { host, port } => [host, port]
                .into_iter()
                .filter_map(|p| match p {
                    Part::Field(f) => Some(f.as_str()),
                    Part::Literal(_) => None,
                })
                .collect(),
            Capability::Http { field, .. } => vec![field.as_str()],
        }
    }

    /// The concrete destination for a datasource configuration.
    pub fn render(&self, config: &serde_json::Value) -> Result<Destination, String> {
        match self {
            Capability::Tcp { host, port } => {
                let host = host.render(config)?;
                let port = port.render(config)?;
                let port: u16 = port
                    .parse()
                    .map_err(|_| format!("`{port}` is not a TCP port"))?;
                Ok(Destination::Tcp {
                    host: strip_brackets(&host).to_string(),
                    port,
                })
            }
            Capability::Http { https_only, field } => {
                let value = Part::Field(field.clone()).render(config)?;
                let url =
                    url::Url::parse(&value).map_err(|e| format!("`{field}` is not a URL ({e})"))?;
                let scheme = url.scheme();
                if scheme != "https" && (scheme != "http" || *https_only) {
                    return Err(format!(
                        "`{field}` must be an {} URL",
                        if *https_only {
                            "https"
                        } else {
                            "http or https"
                        }
                    ));
                }
                let host = url
                    .host_str()
                    .ok_or_else(|| format!("`{field}` has no host"))?;
                Ok(Destination::Http {
                    scheme: scheme.to_string(),
                    host: strip_brackets(host).to_string(),
                    port: url.port_or_known_default().unwrap_or(443),
                })
            }
        }
    }
}

fn strip_brackets(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

/// A concrete place a connector may reach.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    Tcp {
        host: String,
        port: u16,
    },
    Http {
        scheme: String,
        host: String,
        port: u16,
    },
}

impl Destination {
    pub fn host(&self) -> &str {
        match self {
            Destination::Tcp { host, .. } | Destination::Http { host, .. } => host,
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bracket = |h: &str| {
            if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_string()
            }
        };
        match self {
            Destination::Tcp { host, port } => write!(f, "tcp://{}:{port}", bracket(host)),
            Destination::Http { scheme, host, port } => {
                write!(f, "{scheme}://{}:{port}", bracket(host))
            }
        }
    }
}

/// One granted host, resolved and checked when the instance opened.
#[derive(Debug, Clone)]
pub struct PinnedHost {
    /// The name as the configuration gave it (lower-case), or the IP literal.
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub tcp_ports: Vec<u16>,
    /// `(scheme, port)` pairs granted for HTTP on this host.
    pub http: Vec<(String, u16)>,
    /// The grant that admitted it, for error messages.
    pub grant: String,
}

/// The destinations of one instance, pinned. Everything the guest reaches is checked here.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub plugin: String,
    pub hosts: Vec<PinnedHost>,
    pub policy: EgressPolicy,
    /// The datasource's secret values, masked in the refusals logged for the operator (a
    /// secret can be part of a granted host name).
    pub secrets: Vec<String>,
}

impl Grants {
    /// Renders the plugin's capabilities with `config`, resolves every host and checks every
    /// address against `policy`. Any refused address refuses the whole destination: a name
    /// that resolves partly to a private address is not trusted.
    pub async fn resolve(
        plugin: &str,
        capabilities: &[String],
        config: &serde_json::Value,
        policy: &EgressPolicy,
    ) -> Result<Grants, RuntimeError> {
        let mut grants = Grants {
            plugin: plugin.to_string(),
            hosts: Vec::new(),
            policy: policy.clone(),
            secrets: Vec::new(),
        };
        for template in capabilities {
            let capability = Capability::parse(template).map_err(RuntimeError::InvalidPlugin)?;
            let destination =
                capability
                    .render(config)
                    .map_err(|message| RuntimeError::InvalidConfig {
                        plugin: plugin.to_string(),
                        message: format!("{message} (needed by the grant {template})"),
                    })?;
            let addresses = resolve_host(destination.host()).await.map_err(|reason| {
                RuntimeError::EgressDenied {
                    plugin: plugin.to_string(),
                    grant: template.clone(),
                    destination: destination.to_string(),
                    reason,
                }
            })?;
            for ip in &addresses {
                policy.check(destination.host(), *ip).map_err(|reason| {
                    RuntimeError::EgressDenied {
                        plugin: plugin.to_string(),
                        grant: template.clone(),
                        destination: destination.to_string(),
                        reason,
                    }
                })?;
            }
            grants.add(template, &destination, addresses);
        }
        Ok(grants)
    }

    fn add(&mut self, grant: &str, destination: &Destination, addresses: Vec<IpAddr>) {
        let name = destination.host().to_ascii_lowercase();
        let index = match self.hosts.iter().position(|h| h.name == name) {
            Some(i) => i,
            None => {
                self.hosts.push(PinnedHost {
                    name,
                    addresses,
                    tcp_ports: Vec::new(),
                    http: Vec::new(),
                    grant: grant.to_string(),
                });
                self.hosts.len() - 1
            }
        };
        let host = &mut self.hosts[index];
        match destination {
            Destination::Tcp { port, .. } => host.tcp_ports.push(*port),
            Destination::Http { scheme, port, .. } => host.http.push((scheme.clone(), *port)),
        }
    }

    /// The pinned addresses of `name`, if the guest may resolve it.
    pub fn lookup(&self, name: &str) -> Option<&[IpAddr]> {
        let name = strip_brackets(name.trim_end_matches('.')).to_ascii_lowercase();
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.addresses.as_slice())
    }

    /// Whether the guest may open a TCP connection to `ip:port`.
    pub fn allows_tcp(&self, ip: IpAddr, port: u16) -> bool {
        let ip = canonical(ip);
        self.hosts
            .iter()
            .any(|h| h.tcp_ports.contains(&port) && h.addresses.iter().any(|a| canonical(*a) == ip))
    }

    /// The pinned host for an HTTP request to `scheme://host:port`, if granted.
    pub fn http_host(&self, scheme: &str, host: &str, port: u16) -> Option<&PinnedHost> {
        let name = strip_brackets(host).to_ascii_lowercase();
        self.hosts
            .iter()
            .find(|h| h.name == name && h.http.iter().any(|(s, p)| s == scheme && *p == port))
    }

    /// The grants as written, for messages: `tcp://{host}:{port}` and so on.
    pub fn describe(&self) -> String {
        let list: Vec<&str> = self.hosts.iter().map(|h| h.grant.as_str()).collect();
        if list.is_empty() {
            "no destinations".to_string()
        } else {
            list.join(", ")
        }
    }
}

/// Resolves `host` (an IP literal resolves to itself) with the system resolver.
async fn resolve_host(host: &str) -> Result<Vec<IpAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    if host.is_empty() || host.len() > 253 || host.contains(['/', '@', ' ', '%']) {
        return Err(format!("`{host}` is not a host name"));
    }
    let found = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| format!("{host} does not resolve: {e}"))?;
    let mut addresses: Vec<IpAddr> = Vec::new();
    for address in found {
        if !addresses.contains(&address.ip()) {
            addresses.push(address.ip());
        }
    }
    if addresses.is_empty() {
        return Err(format!("{host} has no addresses"));
    }
    Ok(addresses)
}

/// Fills in top-level `default`s of a JSON Schema object for fields the configuration leaves
/// out, so that templates like `{port}` see the value the connector will use.
pub fn apply_defaults(schema: &serde_json::Value, config: &mut serde_json::Value) {
    let (Some(properties), Some(object)) = (
        schema.get("properties").and_then(|p| p.as_object()),
        config.as_object_mut(),
    ) else {
        return;
    };
    for (name, property) in properties {
        if let Some(default) = property.get("default")
            && !object.contains_key(name)
        {
            object.insert(name.clone(), default.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn capabilities_parse_and_render() {
        let tcp = Capability::parse("tcp://{host}:{port}").unwrap();
        let config = serde_json::json!({"host": "db.example", "port": 5433});
        assert_eq!(
            tcp.render(&config).unwrap(),
            Destination::Tcp {
                host: "db.example".into(),
                port: 5433
            }
        );
        let http = Capability::parse("http://{base_url}").unwrap();
        let config = serde_json::json!({"base_url": "https://api.example.com/v1"});
        assert_eq!(
            http.render(&config).unwrap(),
            Destination::Http {
                scheme: "https".into(),
                host: "api.example.com".into(),
                port: 443
            }
        );
        let https = Capability::parse("https://{base_url}").unwrap();
        let plain = serde_json::json!({"base_url": "http://api.example.com"});
        assert!(https.render(&plain).is_err());
    }

    #[test]
    fn wildcards_and_bad_templates_are_refused() {
        for bad in [
            "tcp://*:5432",
            "tcp://{host}:*",
            "*",
            "ftp://{h}:1",
            "http://example.com",
            "tcp://{}:1",
            "tcp://db.example.com:5432",
            "tcp://10.0.0.1:{port}",
        ] {
            assert!(Capability::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_fill_missing_fields() {
        let schema = serde_json::json!({"properties": {"port": {"default": 5432}, "host": {}}});
        let mut config = serde_json::json!({"host": "x"});
        apply_defaults(&schema, &mut config);
        assert_eq!(config["port"], 5432);
    }

    #[tokio::test]
    async fn grants_pin_and_match_addresses() {
        let config = serde_json::json!({"host": "127.0.0.1", "port": 5432});
        let grants = Grants::resolve(
            "p@1",
            &["tcp://{host}:{port}".into()],
            &config,
            &EgressPolicy::local_development(),
        )
        .await
        .unwrap();
        assert!(grants.allows_tcp(ip("127.0.0.1"), 5432));
        assert!(grants.allows_tcp(ip("::ffff:127.0.0.1"), 5432));
        assert!(!grants.allows_tcp(ip("127.0.0.1"), 5433));
        assert!(!grants.allows_tcp(ip("127.0.0.2"), 5432));
        assert_eq!(grants.lookup("127.0.0.1"), Some(&[ip("127.0.0.1")][..]));
        assert_eq!(grants.lookup("example.com"), None);
    }

    #[tokio::test]
    async fn grants_refuse_a_forbidden_destination_with_its_grant() {
        let config = serde_json::json!({"host": "169.254.169.254", "port": 80});
        let err = Grants::resolve(
            "p@1",
            &["tcp://{host}:{port}".into()],
            &config,
            &EgressPolicy::local_development(),
        )
        .await
        .unwrap_err();
        match err {
            RuntimeError::EgressDenied {
                grant, destination, ..
            } => {
                assert_eq!(grant, "tcp://{host}:{port}");
                assert_eq!(destination, "tcp://169.254.169.254:80");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
