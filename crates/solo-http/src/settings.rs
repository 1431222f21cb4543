use std::path::PathBuf;
use std::time::Duration;

/// How the HTTP stack behaves. Built by the binary from `solo.toml` and flags.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// A request still running after this is answered 503 and dropped.
    pub request_timeout: Duration,
    /// A client has this long to send a request head (and to finish a TLS
    /// handshake); an idle keep-alive connection is closed after it too.
    pub header_read_timeout: Duration,
    /// Open connections beyond this wait in the kernel's backlog.
    pub max_connections: usize,
    /// Largest request body accepted, in bytes (413 beyond).
    pub body_limit: usize,
    /// Browser origins allowed to call the API; empty means none.
    pub cors_origins: Vec<String>,
    /// After SIGTERM, how long in-flight requests get to finish.
    pub shutdown_grace: Duration,
    /// Serve HTTPS with this certificate instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Request paths that take uploads: they bound their own body and run
    /// without the request time limit (a release archive, then its deploy).
    pub upload_paths: Vec<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            body_limit: 2 * 1024 * 1024,
            cors_origins: Vec::new(),
            shutdown_grace: Duration::from_secs(10),
            tls: None,
            upload_paths: Vec::new(),
        }
    }
}

/// PEM files of a certificate chain and its private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}
