//! The network allow-list: which addresses processes may connect to, bind, and send to.
//!
//! A rule is `*` (everything), an address (`10.0.0.5`, `::1`), a CIDR block (`10.0.0.0/8`),
//! or a host name (`example.org`, resolved when the rule is parsed), each optionally with a
//! port (`10.0.0.5:80`, `[::1]:7000`, `10.0.0.0/8:443`, `localhost:6379`). With no rules the
//! default is loopback only: `127.0.0.0/8` and `::1`, any port. Binding the unspecified
//! address (`0.0.0.0`) needs a rule that covers it (`*` or `0.0.0.0`); connecting or sending
//! to an unspecified address is always refused (Linux would quietly route it to this host).
//!
//! Host names a process connects to are resolved only when a rule could allow them: `*`, or
//! a name rule for that very name. Anything else is refused before any lookup, so a guest
//! cannot leak data through DNS queries under a policy that does not allow it. `localhost`
//! is always loopback and needs no lookup.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// `None`: any address.
    net: Option<(IpAddr, u8)>,
    /// `None`: any port.
    port: Option<u16>,
}

impl Rule {
    fn allows(&self, addr: SocketAddr) -> bool {
        if self.port.is_some_and(|p| p != addr.port()) {
            return false;
        }
        match self.net {
            None => true,
            Some((net, prefix)) => in_block(addr.ip(), net, prefix),
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn in_block(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (canonical(ip), net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - prefix as u32).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The allow-list of one runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetPolicy {
    rules: Vec<Rule>,
    /// Host names given as rules (lower case): the only names resolved for processes, unless
    /// a rule allows everything.
    names: Vec<String>,
    /// The rules as given, for messages.
    spec: Vec<String>,
}

impl Default for NetPolicy {
    /// Loopback only.
    fn default() -> Self {
        NetPolicy {
            rules: vec![
                Rule {
                    net: Some((IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8)),
                    port: None,
                },
                Rule {
                    net: Some((IpAddr::V6(Ipv6Addr::LOCALHOST), 128)),
                    port: None,
                },
            ],
            names: Vec::new(),
            spec: Vec::new(),
        }
    }
}

/// A rule that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("network rule {spec:?}: {problem}")]
pub struct PolicyError {
    /// The rule as given.
    pub spec: String,
    /// What is wrong with it.
    pub problem: String,
}

impl NetPolicy {
    /// Everything allowed.
    pub fn allow_all() -> Self {
        NetPolicy::from_rules(&["*"]).expect("`*` parses")
    }

    /// A policy from rules; no rules means the loopback-only default.
    pub fn from_rules<S: AsRef<str>>(specs: &[S]) -> Result<Self, PolicyError> {
        if specs.is_empty() {
            return Ok(NetPolicy::default());
        }
        let mut rules = Vec::new();
        let mut names = Vec::new();
        for spec in specs {
            let (parsed, name) = parse_rule(spec.as_ref())?;
            rules.extend(parsed);
            names.extend(name);
        }
        Ok(NetPolicy {
            rules,
            names,
            spec: specs.iter().map(|s| s.as_ref().to_string()).collect(),
        })
    }

    /// Whether binding `addr` is allowed.
    pub fn allows(&self, addr: SocketAddr) -> bool {
        self.rules.iter().any(|r| r.allows(addr))
    }

    /// Whether connecting or sending to `addr` is allowed: never to an unspecified address.
    pub fn allows_connect(&self, addr: SocketAddr) -> bool {
        !canonical(addr.ip()).is_unspecified() && self.allows(addr)
    }

    /// Whether a process may have host name `host` resolved: only if a rule allows everything
    /// or names it.
    pub fn may_resolve(&self, host: &str) -> bool {
        self.rules.iter().any(|r| r.net.is_none())
            || self.names.iter().any(|n| n.eq_ignore_ascii_case(host))
    }
}

impl fmt::Display for NetPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.spec.is_empty() {
            write!(f, "loopback only (the default)")
        } else {
            write!(f, "{}", self.spec.join(", "))
        }
    }
}

/// The rules one spec makes, and the host name it names (if it is a name rule).
fn parse_rule(spec: &str) -> Result<(Vec<Rule>, Option<String>), PolicyError> {
    let err = |problem: &str| PolicyError {
        spec: spec.to_string(),
        problem: problem.to_string(),
    };
    let spec = spec.trim();
    if spec == "*" {
        return Ok((
            vec![Rule {
                net: None,
                port: None,
            }],
            None,
        ));
    }
    // Split off a port: `[v6]:port`, `v4:port`, `cidr:port`, `name:port`; a bare IPv6
    // address has several colons and no port.
    let (host, port) = if let Some(rest) = spec.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| err("missing `]` after an IPv6 address"))?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(err("expected `:port` after `]`")),
        }
    } else if spec.matches(':').count() == 1 {
        let (h, p) = spec.split_once(':').expect("one colon");
        (h, Some(p))
    } else {
        (spec, None)
    };
    let port = match port {
        None | Some("*") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| err("the port is not a number 0-65535"))?,
        ),
    };
    if host.is_empty() {
        return Err(err("no address"));
    }
    if let Some((addr, prefix)) = host.split_once('/') {
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| err("a CIDR block needs an IP address before `/`"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| err("the prefix length is out of range"))?;
        // An IPv4-mapped block (`::ffff:10.0.0.0/104`) is the IPv4 block it maps
        // (`10.0.0.0/8`); it must cover no more than the mapped range.
        let net = match (addr, canonical(addr)) {
            (IpAddr::V6(_), v4 @ IpAddr::V4(_)) => {
                let prefix = prefix.checked_sub(96).ok_or_else(|| {
                    err("an IPv4-mapped block needs a prefix length of at least 96")
                })?;
                (v4, prefix)
            }
            _ => (addr, prefix),
        };
        return Ok((
            vec![Rule {
                net: Some(net),
                port,
            }],
            None,
        ));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        let ip = canonical(ip);
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        return Ok((
            vec![Rule {
                net: Some((ip, bits)),
                port,
            }],
            None,
        ));
    }
    // A host name: every address it resolves to now.
    let addrs: Vec<SocketAddr> = (host, port.unwrap_or(0))
        .to_socket_addrs()
        .map_err(|e| err(&format!("cannot resolve {host}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(err(&format!("{host} resolves to no address")));
    }
    let rules = addrs
        .into_iter()
        .map(|a| {
            let ip = canonical(a.ip());
            Rule {
                net: Some((ip, if ip.is_ipv4() { 32 } else { 128 })),
                port,
            }
        })
        .collect();
    Ok((rules, Some(host.to_ascii_lowercase())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_is_loopback_only() {
        let p = NetPolicy::default();
        assert!(p.allows(a("127.0.0.1:80")));
        assert!(p.allows(a("127.1.2.3:1")));
        assert!(p.allows(a("[::1]:5000")));
        assert!(!p.allows(a("10.0.0.1:80")));
        assert!(!p.allows(a("0.0.0.0:80")));
        assert!(!p.allows(a("[::]:80")));
    }

    #[test]
    fn rules_with_ports_and_blocks() {
        let p = NetPolicy::from_rules(&["10.0.0.0/8:443", "192.168.1.5", "[::1]:7000"]).unwrap();
        assert!(p.allows(a("10.9.9.9:443")));
        assert!(!p.allows(a("10.9.9.9:80")));
        assert!(p.allows(a("192.168.1.5:22")));
        assert!(!p.allows(a("192.168.1.6:22")));
        assert!(p.allows(a("[::1]:7000")));
        assert!(!p.allows(a("[::1]:7001")));
        // Loopback is not implied once rules are given.
        assert!(!p.allows(a("127.0.0.1:80")));
        assert!(p.allows(a("[::ffff:10.1.1.1]:443")));
        assert!(NetPolicy::allow_all().allows(a("0.0.0.0:1")));
        assert!(
            NetPolicy::from_rules(&["localhost:6379"])
                .unwrap()
                .allows(a("127.0.0.1:6379"))
        );
    }

    #[test]
    fn mapped_blocks_bind_and_connect_and_names() {
        // Once a debug-build panic (prefix underflow) and in release an allow-all.
        let p = NetPolicy::from_rules(&["::ffff:10.0.0.0/104"]).unwrap();
        assert!(p.allows(a("10.1.2.3:80")));
        assert!(!p.allows(a("11.0.0.1:80")));
        assert!(NetPolicy::from_rules(&["::ffff:10.0.0.0/90"]).is_err());
        // Binding 0.0.0.0 may be allowed; connecting to it never is.
        let p = NetPolicy::from_rules(&["0.0.0.0"]).unwrap();
        assert!(p.allows(a("0.0.0.0:80")));
        assert!(!p.allows_connect(a("0.0.0.0:80")));
        assert!(!NetPolicy::allow_all().allows_connect(a("[::]:80")));
        assert!(!NetPolicy::allow_all().allows_connect(a("[::ffff:0.0.0.0]:80")));
        // Names are resolved only when a rule could allow them.
        assert!(!NetPolicy::default().may_resolve("example.org"));
        assert!(NetPolicy::allow_all().may_resolve("example.org"));
        let p = NetPolicy::from_rules(&["localhost:6379"]).unwrap();
        assert!(p.may_resolve("LOCALHOST") && !p.may_resolve("example.org"));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for bad in ["10.0.0.0/33", "1.2.3.4:99999", "[::1", "/8", ":80"] {
            let e = NetPolicy::from_rules(&[bad]).unwrap_err();
            assert_eq!(e.spec, bad);
        }
    }
}
