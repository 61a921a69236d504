//! Where a connector may connect, and the check every connection passes.
//!
//! 1. The manifest lists capabilities, destinations templated on configuration fields
//!    ([`Capability`]). Rendered with a datasource's configuration they become concrete
//!    [`Destination`]s.
//! 2. When an instance opens, the host resolves each destination's host itself, checks every
//!    address against the [`EgressPolicy`], and pins the result ([`Grants`]).
//! 3. The guest may then resolve only those host names (and gets the pinned addresses back),
//!    connect only to pinned addresses on granted ports, and send HTTP only to granted
//!    origins, whose addresses are checked again on every request (so DNS rebinding gets
//!    nowhere).
//!
//! Cloud metadata addresses are refused whatever the policy says. Loopback, private,
//! link-local and other special ranges are refused unless the policy allows them.

use crate::error::RuntimeError;
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Addresses of cloud instance-metadata services: never reachable, whatever the policy.
const METADATA: &[&str] = &[
    "169.254.169.254/32", // AWS, GCP, Azure, OpenStack, DigitalOcean, …
    "169.254.170.2/32",   // AWS ECS task metadata
    "169.254.170.23/32",  // AWS EKS pod identity
    "100.100.100.200/32", // Alibaba Cloud
    "192.0.0.192/32",     // Oracle Cloud (legacy)
    "fd00:ec2::254/128",  // AWS IMDS over IPv6
    "fd00:ec2::23/128",   // AWS EKS pod identity over IPv6
];

/// What an address is, for the egress decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// A cloud metadata service: always refused.
    Metadata,
    /// `0.0.0.0`, `::`: always refused (connecting to them reaches the local machine).
    Unspecified,
    /// Multicast and broadcast: always refused.
    Multicast,
    Loopback,
    /// RFC 1918, unique-local IPv6, carrier-grade NAT.
    Private,
    LinkLocal,
    /// Documentation, benchmarking, reserved and other special-purpose ranges.
    Special,
    Public,
}

impl AddressClass {
    fn describe(self) -> &'static str {
        match self {
            AddressClass::Metadata => "a cloud metadata address",
            AddressClass::Unspecified => "an unspecified address",
            AddressClass::Multicast => "a multicast or broadcast address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::Special => "a special-purpose address",
            AddressClass::Public => "a public address",
        }
    }
}

/// The address an IPv6 address stands for when it embeds an IPv4 one (mapped, compatible,
/// NAT64, 6to4), so that no IPv6 spelling slips past an IPv4 rule.
pub fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let embedded = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    // IPv4-compatible (::a.b.c.d, deprecated), but not :: and ::1 themselves.
    if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        return IpAddr::V4(embedded());
    }
    // NAT64 well-known prefix 64:ff9b::/96.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return IpAddr::V4(embedded());
    }
    // 6to4 2002:aabb:ccdd::/48 carries a.b.c.d in the second and third segments.
    if s[0] == 0x2002 {
        return IpAddr::V4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    ip
}

/// Classifies `ip` (after [`canonical`]).
pub fn classify(ip: IpAddr) -> AddressClass {
    let ip = canonical(ip);
    if METADATA
        .iter()
        .any(|net| net.parse::<IpNet>().expect("valid literal").contains(&ip))
    {
        return AddressClass::Metadata;
    }
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let o = ip.octets();
    if o[0] == 0 {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        AddressClass::Private
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_multicast() || ip.is_broadcast() {
        AddressClass::Multicast
    } else if ip.is_documentation()
        || o[0] >= 240
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
    {
        AddressClass::Special
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let s = ip.segments();
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if (s[0] & 0xfe00) == 0xfc00 {
        AddressClass::Private
    } else if (s[0] & 0xffc0) == 0xfe80 || (s[0] & 0xffc0) == 0xfec0 {
        AddressClass::LinkLocal
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if (s[0] & 0xe000) != 0x2000
        || (s[0] == 0x2001 && s[1] < 0x200)
        || (s[0] == 0x2001 && s[1] == 0xdb8)
        || s[0] == 0x3fff
    {
        // Outside global unicast, Teredo and other IETF-reserved blocks, documentation.
        AddressClass::Special
    } else {
        AddressClass::Public
    }
}

/// Which non-public destinations a connector may reach. Public addresses are always allowed
/// and metadata addresses never are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Networks allowed although they are loopback, private, link-local or special.
    pub allow_cidrs: Vec<IpNet>,
    /// Host names whose addresses are allowed whatever range they are in (compared without
    /// case; a leading `*.` matches any subdomain).
    pub allow_hosts: Vec<String>,
}

impl EgressPolicy {
    /// The server's default: public addresses only.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// `lathe plugin run`'s default: public addresses and this machine's loopback, so that a
    /// local database works.
    pub fn local_development() -> Self {
        EgressPolicy {
            allow_cidrs: vec![
                "127.0.0.0/8".parse().expect("valid literal"),
                "::1/128".parse().expect("valid literal"),
            ],
            allow_hosts: Vec::new(),
        }
    }

    /// Checks one resolved address of `host`. `Err` says why it is refused and how an admin
    /// can allow it.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        let class = classify(ip);
        match class {
            AddressClass::Public => Ok(()),
            AddressClass::Metadata | AddressClass::Unspecified | AddressClass::Multicast => {
                Err(format!(
                    "{ip} is {}, which connectors may never reach",
                    class.describe()
                ))
            }
            _ if self.allows_host(host) => Ok(()),
            _ if self
                .allow_cidrs
                .iter()
                .any(|net| net.contains(&canonical(ip)))
                || self.allow_cidrs.iter().any(|net| net.contains(&ip)) =>
            {
                Ok(())
            }
            _ => Err(format!(
                "{ip} is {}; an admin can allow it by adding its network to the egress \
                 allow-list (for example {}) or the host name {host}",
                class.describe(),
                suggest_cidr(ip)
            )),
        }
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allow_hosts.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            match pattern.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => host == pattern,
            }
        })
    }
}

fn suggest_cidr(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => format!("{v4}/32"),
        IpAddr::V6(v6) => format!("{v6}/128"),
    }
}

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
                Ok(Capability::Tcp {
                    host: Part::parse(host).map_err(|e| bad(&e))?,
                    port: Part::parse(port).map_err(|e| bad(&e))?,
                })
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
    fn metadata_addresses_in_every_spelling() {
        for s in [
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "::ffff:a9fe:a9fe",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "fd00:ec2::254",
            "100.100.100.200",
        ] {
            assert_eq!(classify(ip(s)), AddressClass::Metadata, "{s}");
        }
    }

    #[test]
    fn ranges_are_classified() {
        let cases = [
            ("127.0.0.1", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::Private),
            ("fd12::1", AddressClass::Private),
            ("169.254.1.1", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("0.0.0.0", AddressClass::Unspecified),
            ("::", AddressClass::Unspecified),
            ("224.0.0.1", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Multicast),
            ("ff02::1", AddressClass::Multicast),
            ("192.0.2.1", AddressClass::Special),
            ("2001:db8::1", AddressClass::Special),
            ("240.0.0.1", AddressClass::Special),
            ("8.8.8.8", AddressClass::Public),
            ("2606:4700::1111", AddressClass::Public),
            ("::ffff:8.8.8.8", AddressClass::Public),
        ];
        for (s, class) in cases {
            assert_eq!(classify(ip(s)), class, "{s}");
        }
    }

    #[test]
    fn default_policy_refuses_everything_but_public() {
        let policy = EgressPolicy::public_only();
        assert!(policy.check("h", ip("8.8.8.8")).is_ok());
        for s in ["127.0.0.1", "10.0.0.1", "169.254.1.1", "::ffff:10.0.0.1"] {
            let err = policy.check("h", ip(s)).unwrap_err();
            assert!(err.contains("allow-list"), "{err}");
        }
    }

    #[test]
    fn allow_list_opens_ranges_but_never_metadata() {
        let policy = EgressPolicy {
            allow_cidrs: vec![
                "169.254.0.0/16".parse().unwrap(),
                "10.0.0.0/8".parse().unwrap(),
            ],
            allow_hosts: vec!["*.internal".into()],
        };
        assert!(policy.check("h", ip("10.9.9.9")).is_ok());
        assert!(policy.check("h", ip("::ffff:10.9.9.9")).is_ok());
        assert!(policy.check("h", ip("169.254.1.1")).is_ok());
        assert!(policy.check("h", ip("169.254.169.254")).is_err());
        assert!(policy.check("db.internal", ip("192.168.0.5")).is_ok());
        assert!(
            policy
                .check("metadata.internal", ip("169.254.169.254"))
                .is_err()
        );
        assert!(policy.check("h", ip("0.0.0.0")).is_err());
    }

    #[test]
    fn local_development_allows_loopback_only() {
        let policy = EgressPolicy::local_development();
        assert!(policy.check("localhost", ip("127.0.0.1")).is_ok());
        assert!(policy.check("localhost", ip("::1")).is_ok());
        assert!(policy.check("h", ip("192.168.0.1")).is_err());
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
