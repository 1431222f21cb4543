use std::net::SocketAddr;

/// Facts about the connection a request came in on; every request carries
/// one in its extensions (inserted by [`crate::serve`]).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionInfo {
    pub peer: SocketAddr,
    /// True when the connection is TLS: cookies get `Secure`, responses HSTS.
    pub tls: bool,
}
