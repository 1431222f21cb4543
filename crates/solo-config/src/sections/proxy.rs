use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::TlsFiles;
use crate::diagnose::Note;
use crate::values::{ByteSize, Duration, ListenAddr};

/// `[proxy]`: solo's reverse proxy in front of the app's current release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawProxySection", into = "RawProxySection")]
pub struct ProxySection {
    /// `listen`: the addresses clients reach the app on (default `127.0.0.1:8080`).
    pub listen: Vec<ListenAddr>,
    /// `tls_cert` + `tls_key`: serve HTTPS with these PEM files.
    pub tls: Option<TlsFiles>,
    /// `request_timeout`: the longest a request may take, upgrades excepted (default `60s`).
    pub request_timeout: Duration,
    /// `body_limit`: the largest request body passed on (default `10MiB`).
    pub body_limit: ByteSize,
}

impl Default for ProxySection {
    fn default() -> Self {
        Self {
            listen: vec![ListenAddr::from(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                8080,
            )))],
            tls: None,
            request_timeout: Duration::from_secs(60),
            body_limit: ByteSize::mib(10),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawProxySection {
    listen: Vec<ListenAddr>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::opt_path"
    )]
    tls_cert: Option<PathBuf>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::opt_path"
    )]
    tls_key: Option<PathBuf>,
    request_timeout: Duration,
    body_limit: ByteSize,
}

impl Default for RawProxySection {
    fn default() -> Self {
        ProxySection::default().into()
    }
}

impl From<ProxySection> for RawProxySection {
    fn from(proxy: ProxySection) -> Self {
        let (tls_cert, tls_key) = super::http::tls_unpair(proxy.tls);
        Self {
            listen: proxy.listen,
            tls_cert,
            tls_key,
            request_timeout: proxy.request_timeout,
            body_limit: proxy.body_limit,
        }
    }
}

impl TryFrom<RawProxySection> for ProxySection {
    type Error = Note;

    fn try_from(raw: RawProxySection) -> Result<Self, Note> {
        if raw.listen.is_empty() {
            return Err(Note::new("`listen` is empty")
                .help(Some(
                    "list at least one address, like [\"0.0.0.0:80\"], or leave the key out for \
                     127.0.0.1:8080"
                        .to_owned(),
                ))
                .key("listen"));
        }
        if raw.request_timeout.as_std().is_zero() {
            return Err(Note::new("`request_timeout` must be longer than zero")
                .help(Some("the default is `60s`".to_owned()))
                .key("request_timeout"));
        }
        let tls = super::http::tls_pair(raw.tls_cert, raw.tls_key)?;
        Ok(Self {
            listen: raw.listen,
            tls,
            request_timeout: raw.request_timeout,
            body_limit: raw.body_limit,
        })
    }
}
