//! Who may ask the observer: requests for the address it listens on, and kills only with
//! proof.
//!
//! A browser sends a page's requests to whatever address a name resolves to, and a page on
//! an attacker's domain can make its name resolve to 127.0.0.1 (DNS rebinding): the browser
//! then treats the observer as that domain's own. So the observer answers only requests whose
//! `Host` names it — the address it listens on as an IP literal, `localhost` when that is a
//! loopback address, or a name it was given (`--observe-host`) — and a kill's `Origin`, when
//! there is one, must name it too. A rebound name is refused with 421.
//!
//! Listening beyond loopback is a choice the embedder states (`ObserveConfig::public`,
//! `--observe-public`), and then a kill also needs the token made at start
//! ([`Guard::token`]), sent as `x-warren-observer-token` (the page reads it from the
//! `#token=` part of its URL, which browsers never send to a server).

use std::net::{IpAddr, SocketAddr};

/// The header a kill carries its token in.
pub(crate) const TOKEN_HEADER: &str = "x-warren-observer-token";

/// What the observer accepts.
#[derive(Clone, Debug)]
pub(crate) struct Guard {
    listen: SocketAddr,
    /// Names besides IP literals and `localhost` (lowercase).
    hosts: Vec<String>,
    /// Needed for a kill (listening beyond loopback), if any.
    token: Option<String>,
}

impl Guard {
    pub(crate) fn new(listen: SocketAddr, hosts: &[String], token: Option<String>) -> Guard {
        Guard {
            listen,
            hosts: hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            token,
        }
    }

    /// Whether a `Host` header value (`name[:port]`) names this observer.
    pub(crate) fn host_ok(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let (name, port) = split_host(&host);
        if port.unwrap_or(80) != self.listen.port() {
            return false;
        }
        let ip = self.listen.ip();
        match name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            // An IP literal cannot be rebound.
            Ok(asked) => {
                ip.is_unspecified() || asked == ip || (ip.is_loopback() && asked.is_loopback())
            }
            Err(_) => {
                (name == "localhost" && (ip.is_loopback() || ip.is_unspecified()))
                    || self.hosts.iter().any(|h| *h == name)
            }
        }
    }

    /// Whether an `Origin` header value (`scheme://host[:port]`) names this observer.
    pub(crate) fn origin_ok(&self, origin: &str) -> bool {
        let Some((scheme, host)) = origin.split_once("://") else {
            return false;
        };
        let host = host.trim_end_matches('/');
        if host.contains(':') && !host.ends_with(']') {
            self.host_ok(host)
        } else {
            let port = if scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                80
            };
            self.host_ok(&format!("{host}:{port}"))
        }
    }

    /// Whether a kill's token is right (or none is needed).
    pub(crate) fn token_ok(&self, given: Option<&str>) -> bool {
        match &self.token {
            None => true,
            Some(t) => given.is_some_and(|g| {
                // Compared without stopping at the first difference.
                g.len() == t.len() && g.bytes().zip(t.bytes()).fold(0, |d, (a, b)| d | (a ^ b)) == 0
            }),
        }
    }

    /// What the refusal of a `Host` says.
    pub(crate) fn expected(&self) -> String {
        let mut names = vec![self.listen.to_string()];
        if self.listen.ip().is_loopback() {
            names.push(format!("localhost:{}", self.listen.port()));
        }
        names.extend(
            self.hosts
                .iter()
                .map(|h| format!("{h}:{}", self.listen.port())),
        );
        names.join(", ")
    }
}

/// `name:port` (or `[v6]:port`, or a name alone) as its parts.
fn split_host(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').unwrap_or((rest, ""));
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return (
            inside,
            port.or(if after.is_empty() { None } else { Some(0) }),
        );
    }
    match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port.parse().unwrap_or(0))),
        None => (host, None),
    }
}

/// A fresh token: 16 random bytes as hex.
pub(crate) fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut raw = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut raw)?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(addr: &str) -> Guard {
        Guard::new(addr.parse().unwrap(), &["Observer.example".into()], None)
    }

    #[test]
    fn only_hosts_that_name_the_observer_are_answered() {
        let g = guard("127.0.0.1:9000");
        for ok in [
            "127.0.0.1:9000",
            "localhost:9000",
            "LOCALHOST:9000",
            "[::1]:9000",
            "127.0.0.2:9000",
            "observer.example:9000",
        ] {
            assert!(g.host_ok(ok), "{ok}");
        }
        for bad in [
            "evil.example:9000",
            "127.0.0.1:9001",
            "127.0.0.1",
            "localhost",
            "",
            "10.0.0.1:9000",
            "[::1]x:9000",
        ] {
            assert!(!g.host_ok(bad), "{bad}");
        }
        let public = guard("0.0.0.0:80");
        assert!(public.host_ok("10.1.2.3") && public.host_ok("localhost:80"));
        assert!(!public.host_ok("rebound.example"));
        let one = guard("10.0.0.5:9000");
        assert!(one.host_ok("10.0.0.5:9000") && !one.host_ok("localhost:9000"));
    }

    #[test]
    fn origins_and_tokens() {
        let g = guard("127.0.0.1:9000");
        assert!(g.origin_ok("http://127.0.0.1:9000"));
        assert!(g.origin_ok("http://localhost:9000"));
        assert!(!g.origin_ok("http://evil.example:9000"));
        assert!(!g.origin_ok("null"));
        assert!(guard("127.0.0.1:80").origin_ok("http://localhost"));
        let t = Guard::new("0.0.0.0:1".parse().unwrap(), &[], Some("abc".into()));
        assert!(t.token_ok(Some("abc")));
        assert!(!t.token_ok(Some("abd")) && !t.token_ok(None) && !t.token_ok(Some("ab")));
        assert!(g.token_ok(None));
    }
}
