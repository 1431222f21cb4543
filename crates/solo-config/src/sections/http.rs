use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

use crate::diagnose::Note;
use crate::values::{ByteSize, Duration, Origin};

/// `[http]`: solo's HTTP API.
///
/// In the file, TLS is two keys, `tls_cert` and `tls_key`, that must come together; here they
/// are one `Option<TlsFiles>`, so "a certificate without a key" cannot be represented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawHttpSection", into = "RawHttpSection")]
pub struct HttpSection {
    /// `request_timeout`: how long one request may take.
    pub request_timeout: Duration,
    /// `body_limit`: the largest request body accepted.
    pub body_limit: ByteSize,
    /// `shutdown_grace`: how long in-flight requests get to finish on shutdown.
    pub shutdown_grace: Duration,
    /// `cors_origins`: the browser origins allowed to call the API (none by default).
    pub cors_origins: Vec<Origin>,
    /// `tls_cert` + `tls_key`: serve HTTPS with these PEM files (paths as written, relative to
    /// the directory holding `solo.toml`). `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
    /// `public_metrics`: `true` (the default) when `/metrics` needs no credentials; `false`
    /// asks a viewer's token or session of every scrape.
    pub public_metrics: bool,
}

/// The certificate chain and private key for HTTPS, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `tls_cert`
    pub cert: PathBuf,
    /// `tls_key`
    pub key: PathBuf,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            body_limit: ByteSize::mib(2),
            shutdown_grace: Duration::from_secs(10),
            cors_origins: Vec::new(),
            tls: None,
            public_metrics: true,
        }
    }
}

/// The section as written in the file.
#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawHttpSection {
    #[serde(deserialize_with = "request_timeout")]
    request_timeout: Duration,
    body_limit: ByteSize,
    #[serde(deserialize_with = "shutdown_grace")]
    shutdown_grace: Duration,
    cors_origins: Vec<Origin>,
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
    public_metrics: bool,
}

impl Default for RawHttpSection {
    fn default() -> Self {
        HttpSection::default().into()
    }
}

impl From<HttpSection> for RawHttpSection {
    fn from(http: HttpSection) -> Self {
        let (tls_cert, tls_key) = tls_unpair(http.tls);
        Self {
            request_timeout: http.request_timeout,
            body_limit: http.body_limit,
            shutdown_grace: http.shutdown_grace,
            cors_origins: http.cors_origins,
            tls_cert,
            tls_key,
            public_metrics: http.public_metrics,
        }
    }
}

impl TryFrom<RawHttpSection> for HttpSection {
    type Error = Note;

    fn try_from(raw: RawHttpSection) -> Result<Self, Note> {
        let tls = tls_pair(raw.tls_cert, raw.tls_key)?;
        Ok(Self {
            request_timeout: raw.request_timeout,
            body_limit: raw.body_limit,
            shutdown_grace: raw.shutdown_grace,
            cors_origins: raw.cors_origins,
            tls,
            public_metrics: raw.public_metrics,
        })
    }
}

/// The two keys the file writes for optional TLS files.
pub(super) fn tls_unpair(tls: Option<TlsFiles>) -> (Option<PathBuf>, Option<PathBuf>) {
    match tls {
        Some(TlsFiles { cert, key }) => (Some(cert), Some(key)),
        None => (None, None),
    }
}

/// `tls_cert` and `tls_key` come together or not at all.
pub(super) fn tls_pair(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<Option<TlsFiles>, Note> {
    let both = "set both `tls_cert` and `tls_key` to serve HTTPS, or neither for plain HTTP";
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Note::new("`tls_cert` is set, but `tls_key` is missing")
            .help(Some(both.to_owned()))
            .key("tls_cert")),
        (None, Some(_)) => Err(Note::new("`tls_key` is set, but `tls_cert` is missing")
            .help(Some(both.to_owned()))
            .key("tls_key")),
    }
}

fn request_timeout<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    super::positive_duration(
        deserializer,
        "request_timeout",
        "every request would time out at once",
        HttpSection::default().request_timeout,
    )
}

fn shutdown_grace<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    super::positive_duration(
        deserializer,
        "shutdown_grace",
        "requests in flight would be cut off at every shutdown",
        HttpSection::default().shutdown_grace,
    )
}
