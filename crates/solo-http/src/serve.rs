//! The accept loop: plain or TLS, HTTP/1.1 or HTTP/2, with the guards a
//! server on the open internet needs, and a shutdown that always ends.
//!
//! Guards, and why:
//! - **A cap on open connections.** Past it the loop stops accepting and the
//!   kernel's backlog holds newcomers, so a flood costs queue slots, not
//!   memory or file descriptors.
//! - **Nothing waits on a silent client for ever.** The protocol is chosen
//!   before hyper sees the connection (ALPN under TLS, the HTTP/2 preface on
//!   plain TCP) within the header read timeout, the TLS handshake has its
//!   own limit, HTTP/1 request heads (the first and every keep-alive one)
//!   must arrive within the header read timeout, and HTTP/2 connections are
//!   pinged and dropped when the peer stops answering.
//! - **Shutdown is bounded.** Connections still busy after the grace period
//!   are aborted, not left running behind a returned `serve`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::conn::ConnectionInfo;
use crate::settings::HttpSettings;

/// What an HTTP/2 client sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// HTTP/2 connections are pinged this often when idle, and dropped when a
/// ping goes unanswered for as long.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);
const H2_MAX_STREAMS: u32 = 128;
/// Longest wait after the grace period for aborted connections to unwind.
const ABORT_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// The two connection builders, one per protocol, configured once.
#[derive(Clone)]
struct Builders {
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

impl Builders {
    fn new(settings: &HttpSettings) -> Self {
        let mut http1 = auto::Builder::new(TokioExecutor::new()).http1_only();
        http1
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout);
        let mut http2 = auto::Builder::new(TokioExecutor::new()).http2_only();
        http2
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(H2_KEEP_ALIVE)
            .keep_alive_timeout(H2_KEEP_ALIVE)
            .max_concurrent_streams(H2_MAX_STREAMS);
        Builders { http1, http2 }
    }

    fn for_protocol(&self, protocol: Protocol) -> &auto::Builder<TokioExecutor> {
        match protocol {
            Protocol::Http1 => &self.http1,
            Protocol::Http2 => &self.http2,
        }
    }
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until
/// `shutdown` completes; then stops accepting, lets in-flight requests
/// finish for up to `settings.shutdown_grace`, aborts what is left, and
/// returns. Returns true when every connection closed within the grace.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    settings: &HttpSettings,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let builders = Builders::new(settings);
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let mut saturated = false;
    tokio::pin!(shutdown);

    loop {
        // Reap finished connection tasks so the set stays small.
        while connections.try_join_next().is_some() {}
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !saturated {
                    saturated = true;
                    tracing::warn!(
                        max_connections = settings.max_connections,
                        "connection limit reached; new connections wait in the backlog"
                    );
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    permit = Arc::clone(&slots).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                }
            }
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        saturated = false;
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            stream,
            peer,
            app: app.clone(),
            builders: builders.clone(),
            acceptor: acceptor.clone(),
            protocol_timeout: settings.header_read_timeout,
            watcher: graceful.watcher(),
            _permit: permit,
        };
        connections.spawn(connection.run());
    }

    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        grace_s = settings.shutdown_grace.as_secs_f64(),
        "stopped accepting; finishing in-flight requests"
    );
    let drained = tokio::time::timeout(settings.shutdown_grace, graceful.shutdown())
        .await
        .is_ok();
    if !drained {
        tracing::warn!(
            connections = connections.len(),
            grace_s = settings.shutdown_grace.as_secs_f64(),
            "connections still open after the grace period; closing them"
        );
    }
    connections.abort_all();
    let _ = tokio::time::timeout(ABORT_WAIT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    drained
}

/// One accepted connection, until it is handed to hyper and served.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builders: Builders,
    acceptor: Option<TlsAcceptor>,
    protocol_timeout: Duration,
    watcher: Watcher,
    /// Frees the connection's slot when the connection ends.
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(self) {
        let Connection {
            stream,
            peer,
            app,
            builders,
            acceptor,
            protocol_timeout,
            watcher,
            _permit,
        } = self;
        let info = ConnectionInfo {
            peer,
            tls: acceptor.is_some(),
        };
        let service = TowerToHyperService::new(app.map_request(
            move |mut request: http::Request<Incoming>| {
                request.extensions_mut().insert(info);
                request
            },
        ));
        let result = match acceptor {
            None => {
                let protocol =
                    match tokio::time::timeout(protocol_timeout, sniff_protocol(&stream)).await {
                        Ok(Ok(Some(protocol))) => protocol,
                        Ok(Ok(None)) => return, // closed before a byte
                        Ok(Err(error)) => {
                            tracing::debug!(%error, %peer, "connection failed before a request");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "no request head in time; closing");
                            return;
                        }
                    };
                serve_io(&builders, protocol, stream, service, watcher).await
            }
            Some(acceptor) => {
                let stream =
                    match tokio::time::timeout(protocol_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(%error, %peer, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                let protocol = match stream.get_ref().1.alpn_protocol() {
                    Some(b"h2") => Protocol::Http2,
                    _ => Protocol::Http1,
                };
                serve_io(&builders, protocol, stream, service, watcher).await
            }
        };
        if let Err(error) = result {
            tracing::debug!(error = %error, %peer, "connection ended with an error");
        }
    }
}

async fn serve_io<S, I>(
    builders: &Builders,
    protocol: Protocol,
    io: I,
    service: S,
    watcher: Watcher,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<http::Request<Incoming>, Response = axum::response::Response>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = builders
        .for_protocol(protocol)
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    watcher.watch(conn.into_owned()).await
}

/// Reads, without consuming, until the bytes tell HTTP/2 prior knowledge
/// (the full preface) from HTTP/1 (anything else). None when the client
/// closed first.
async fn sniff_protocol(stream: &TcpStream) -> io::Result<Option<Protocol>> {
    let mut buf = [0u8; H2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        if buf[..n] != H2_PREFACE[..n] {
            return Ok(Some(Protocol::Http1));
        }
        if n == H2_PREFACE.len() {
            return Ok(Some(Protocol::Http2));
        }
        // Part of a preface: peek returns at once while those bytes sit
        // unread, so wait a little for the rest (the caller's timeout bounds it).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
