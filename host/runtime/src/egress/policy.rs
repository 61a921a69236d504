//! Which addresses a connector may reach: classification of every spelling of an address,
//! and the admin's policy on top of it.

use ipnet::IpNet;
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

/// A cloud metadata address inside `entry` (an allow-list entry: a network or an address),
/// if it holds one. Such addresses are refused whatever the allow-list says; an entry that
/// covers one is refused where admins edit the list, so that it can't look as if it worked.
pub fn metadata_covered_by(entry: &str) -> Option<IpAddr> {
    let net = match entry.trim().parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(entry.trim().parse::<IpAddr>().ok()?),
    };
    METADATA
        .iter()
        .map(|m| m.parse::<IpNet>().expect("valid literal"))
        .find(|m| net.contains(&m.addr()) || m.contains(&net.addr()))
        .map(|m| m.addr())
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

    /// Adds one allow-list entry as an admin writes it: a network (`10.0.0.0/8`), an address
    /// (`10.1.2.3`) or a host name (`db.internal`).
    pub fn allow(&mut self, entry: &str) -> Result<(), String> {
        let entry = entry.trim();
        if let Ok(net) = entry.parse::<IpNet>() {
            self.allow_cidrs.push(net);
        } else if let Ok(ip) = entry.parse::<IpAddr>() {
            self.allow_cidrs.push(IpNet::from(ip));
        } else if entry.is_empty() || entry.contains(['/', ' ', ':']) {
            return Err(format!(
                "`{entry}` is neither a network, an address nor a host name"
            ));
        } else {
            self.allow_hosts.push(entry.to_ascii_lowercase());
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_entries_covering_a_metadata_address_are_named() {
        for entry in [
            "169.254.169.254",
            "169.254.0.0/16",
            "0.0.0.0/0",
            "fd00:ec2::/64",
        ] {
            assert!(metadata_covered_by(entry).is_some(), "{entry}");
        }
        for entry in [
            "127.0.0.1",
            "10.0.0.0/8",
            "169.254.1.0/24",
            "db.internal",
            "::1",
        ] {
            assert_eq!(metadata_covered_by(entry), None, "{entry}");
        }
    }

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
}
