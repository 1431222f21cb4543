use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::{ValueError, serde_via_str, show};

/// A web origin allowed to call solo's API from a browser (CORS): `scheme://host[:port]`.
///
/// Only `http` and `https`, no path, query, user or trailing slash; `*` is refused. The canonical
/// form is lowercase and drops the scheme's default port (`https://App.Example.com:443` becomes
/// `https://app.example.com`), which is what browsers send in the `Origin` header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    canonical: String,
    scheme_len: usize,
    host_end: usize,
    port: Option<u16>,
}

const EXPECTED: &str =
    "expected scheme://host[:port], like `https://app.example.com` or `http://localhost:3000`";

impl Origin {
    /// The canonical text, e.g. `https://app.example.com` or `http://localhost:3000`.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.canonical[..self.scheme_len]
    }

    /// The host, lowercase; IPv6 addresses keep their brackets.
    pub fn host(&self) -> &str {
        &self.canonical[self.scheme_len + 3..self.host_end]
    }

    /// The port, when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
}

fn wildcard() -> ValueError {
    ValueError::new("`*` is not allowed as an origin")
        .with_help("list each origin exactly; `*` would let any website call solo's API")
}

fn valid_dns_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl FromStr for Origin {
    type Err = ValueError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid =
            |why: &str| ValueError::new(format!("invalid origin `{}`: {why}", show(input)));
        if input.trim() == "*" {
            return Err(wildcard());
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            let err = invalid(EXPECTED);
            return Err(if !input.is_empty() && !input.contains([':', '/', ' ']) {
                err.with_help(format!("add the scheme: `https://{}`", show(input)))
            } else {
                err
            });
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(invalid("the scheme must be `http` or `https`"));
        }
        if let Some(cut) = rest.find(['/', '?', '#']) {
            let bare = format!("{scheme}://{}", &rest[..cut]);
            let err = if rest[cut..] == *"/" {
                invalid("an origin has no trailing slash")
            } else {
                invalid("an origin has no path, query or fragment")
            };
            return Err(err.with_help(format!(
                "browsers send just scheme://host[:port]: write `{}`",
                show(&bare)
            )));
        }
        if rest.contains('@') {
            return Err(invalid("an origin has no user name or password"));
        }
        if rest.contains('*') {
            return Err(wildcard());
        }
        let (host, port) = if let Some(after_bracket) = rest.strip_prefix('[') {
            let Some((ip, after)) = after_bracket.split_once(']') else {
                return Err(invalid(EXPECTED));
            };
            let Ok(ip) = ip.parse::<Ipv6Addr>() else {
                return Err(invalid("the host is not a valid IPv6 address"));
            };
            let port = match after {
                "" => None,
                _ => match after.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => return Err(invalid(EXPECTED)),
                },
            };
            (format!("[{ip}]"), port)
        } else {
            let (host, port) = match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            };
            let host = host.to_ascii_lowercase();
            if host.parse::<Ipv4Addr>().is_err() && !valid_dns_name(&host) {
                return Err(invalid("the host is not a valid host name or IP address"));
            }
            (host, port)
        };
        let port = match port {
            None => None,
            Some(port) => match port.parse::<u16>() {
                Ok(port) if port != 0 => Some(port),
                _ => return Err(invalid("the port must be a number from 1 to 65535")),
            },
        };
        let default_port = if scheme == "https" { 443 } else { 80 };
        let port = port.filter(|&p| p != default_port);
        let mut canonical = format!("{scheme}://{host}");
        let host_end = canonical.len();
        if let Some(port) = port {
            canonical.push_str(&format!(":{port}"));
        }
        Ok(Self {
            canonical,
            scheme_len: scheme.len(),
            host_end,
            port,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

serde_via_str!(Origin, "an origin like `https://app.example.com`");

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Origin, ValueError> {
        s.parse()
    }

    #[test]
    fn parses_and_canonicalizes() {
        for (input, canonical) in [
            ("https://app.example.com", "https://app.example.com"),
            ("http://localhost:3000", "http://localhost:3000"),
            ("HTTPS://App.Example.COM", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://example.com:80", "http://example.com"),
            ("http://example.com:443", "http://example.com:443"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("http://[0:0::1]", "http://[::1]"),
        ] {
            let origin = parse(input);
            assert_eq!(
                origin.as_ref().map(Origin::as_str).ok(),
                Some(canonical),
                "{input}"
            );
            // Display round trip.
            assert_eq!(parse(canonical).ok(), origin.ok());
        }
    }

    #[test]
    fn exposes_parts() {
        let origin = parse("http://LocalHost:3000").ok();
        assert_eq!(origin.as_ref().map(Origin::scheme), Some("http"));
        assert_eq!(origin.as_ref().map(Origin::host), Some("localhost"));
        assert_eq!(origin.as_ref().and_then(Origin::port), Some(3000));
        let origin = parse("https://[::1]").ok();
        assert_eq!(origin.as_ref().map(Origin::host), Some("[::1]"));
        assert_eq!(origin.as_ref().and_then(Origin::port), None);
    }

    #[test]
    fn refuses_bad_origins() {
        for bad in [
            "*",
            "",
            "app.example.com",
            "ftp://example.com",
            "https://example.com/",
            "https://example.com/app",
            "https://example.com?x=1",
            "https://example.com#x",
            "https://user:pw@example.com",
            "https://*.example.com",
            "https://",
            "https://exa mple.com",
            "https://example.com:0",
            "https://example.com:99999",
            "https://example.com:",
            "https://-bad.example.com",
            "https://a..b",
            "http://[::1",
            "http://[::1]x",
            "http://[nope]:80",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn errors_explain() {
        let err = parse("*").err();
        assert_eq!(
            err.as_ref().and_then(ValueError::help),
            Some("list each origin exactly; `*` would let any website call solo's API")
        );
        let err = parse("https://app.example.com/").err();
        assert_eq!(
            err.as_ref().map(ValueError::message),
            Some("invalid origin `https://app.example.com/`: an origin has no trailing slash")
        );
        assert_eq!(
            err.as_ref().and_then(ValueError::help),
            Some("browsers send just scheme://host[:port]: write `https://app.example.com`")
        );
        let err = parse("app.example.com").err();
        assert_eq!(
            err.as_ref().and_then(ValueError::help),
            Some("add the scheme: `https://app.example.com`")
        );
    }
}
