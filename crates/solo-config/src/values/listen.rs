use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use super::{ValueError, serde_via_str, show};

/// The address solo's HTTP API listens on: `IP:PORT`, `[IPv6]:PORT`, or `localhost:PORT`
/// (which means `127.0.0.1:PORT`). Host names other than `localhost` are not looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenAddr(SocketAddr);

impl ListenAddr {
    /// `127.0.0.1:7070`, what solo listens on when nothing says otherwise.
    pub const DEFAULT: ListenAddr =
        ListenAddr(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7070));

    /// The address to bind.
    pub const fn socket_addr(self) -> SocketAddr {
        self.0
    }
}

impl From<SocketAddr> for ListenAddr {
    fn from(addr: SocketAddr) -> Self {
        Self(addr)
    }
}

impl From<ListenAddr> for SocketAddr {
    fn from(addr: ListenAddr) -> Self {
        addr.0
    }
}

impl FromStr for ListenAddr {
    type Err = ValueError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if let Ok(addr) = input.parse::<SocketAddr>() {
            return Ok(Self(addr));
        }
        if let Some(port) = input.strip_prefix("localhost:")
            && let Ok(port) = port.parse::<u16>()
        {
            return Ok(Self(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)));
        }
        let err = ValueError::new(format!(
            "invalid address `{}`: expected IP:PORT, like `127.0.0.1:7070` or `[::1]:7070`",
            show(input)
        ));
        let text = input.trim();
        let port_only = text.strip_prefix(':').unwrap_or(text);
        Err(if text != input && text.parse::<ListenAddr>().is_ok() {
            err.with_help(format!("remove the spaces: `{text}`"))
        } else if let Ok(port) = port_only.parse::<u16>() {
            err.with_help(format!(
                "add the IP: `127.0.0.1:{port}` for this machine only, `0.0.0.0:{port}` for every interface"
            ))
        } else if let Some((ip, port)) = text.rsplit_once(':')
            && ip.parse::<std::net::Ipv6Addr>().is_ok()
            && port.parse::<u16>().is_ok()
        {
            err.with_help(format!("put IPv6 addresses in brackets: `[{ip}]:{port}`"))
        } else if let Ok(ip) = text.parse::<IpAddr>() {
            let with_port = match ip {
                IpAddr::V4(ip) => format!("{ip}:7070"),
                IpAddr::V6(ip) => format!("[{ip}]:7070"),
            };
            err.with_help(format!("add a port, like `{with_port}`"))
        } else if text.matches(':').count() > 1 && !text.starts_with('[') {
            err.with_help("put IPv6 addresses in brackets, like `[::1]:7070`")
        } else if let Some((host, port)) = text.rsplit_once(':')
            && port.parse::<u16>().is_ok()
            && !host.is_empty()
            && host.parse::<IpAddr>().is_err()
        {
            err.with_help(format!(
                "use an IP address: solo does not look up host names here (only `localhost:{port}` is understood)"
            ))
        } else {
            err
        })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

serde_via_str!(ListenAddr, "an address like `127.0.0.1:7070`");

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ListenAddr, ValueError> {
        s.parse()
    }

    #[test]
    fn parses_addresses() {
        assert_eq!(parse("127.0.0.1:7070").ok(), Some(ListenAddr::DEFAULT));
        assert_eq!(parse("localhost:7070").ok(), Some(ListenAddr::DEFAULT));
        assert_eq!(
            parse("[::1]:7070").map(|a| a.socket_addr()).ok(),
            "[::1]:7070".parse().ok()
        );
        assert_eq!(
            parse("0.0.0.0:80").map(|a| a.to_string()).ok().as_deref(),
            Some("0.0.0.0:80")
        );
        assert!(parse("127.0.0.1:0").is_ok());
    }

    #[test]
    fn refuses_bad_input_with_help() {
        let help = |s: &str| parse(s).err().and_then(|e| e.help().map(str::to_owned));
        for bad in [
            "",
            "7070",
            ":7070",
            "127.0.0.1",
            "::1:7070",
            "example.com:80",
            "localhost",
            "localhost:99999",
            "1.2.3.4:70000",
            " 127.0.0.1:7070",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            parse("x").err().map(|e| e.message().to_owned()).as_deref(),
            Some("invalid address `x`: expected IP:PORT, like `127.0.0.1:7070` or `[::1]:7070`")
        );
        assert!(help("7070").is_some_and(|h| h.contains("`127.0.0.1:7070`")));
        assert_eq!(
            help("127.0.0.1").as_deref(),
            Some("add a port, like `127.0.0.1:7070`")
        );
        assert_eq!(
            help("::1").as_deref(),
            Some("add a port, like `[::1]:7070`")
        );
        assert_eq!(
            help("::1:7070").as_deref(),
            Some("put IPv6 addresses in brackets: `[::1]:7070`")
        );
        assert!(help("example.com:80").is_some_and(|h| h.contains("host names")));
        assert!(help(" 127.0.0.1:7070").is_some_and(|h| h.contains("spaces")));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "127.0.0.1:7070",
            "[::1]:7070",
            "0.0.0.0:8080",
            "[2001:db8::1]:443",
        ] {
            let parsed = parse(s).ok();
            assert_eq!(parsed.map(|a| a.to_string()).as_deref(), Some(s));
        }
        assert_eq!(
            parse("localhost:9000")
                .map(|a| a.to_string())
                .ok()
                .as_deref(),
            Some("127.0.0.1:9000")
        );
    }
}
