//! solo's reverse proxy: every request to the app goes through here, to the
//! release that serves. A switch swaps one pointer; requests already on
//! the old release keep it (their [`Lease`]) until they end, which is what
//! a drain waits for.

mod body;
mod forward;
mod upgrade;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Notify;

use crate::metrics::{ProxyMetrics, ReleaseMetrics};

/// One release as the proxy sees it: where it listens, its own pool of
/// keep-alive connections, and the requests on it right now.
pub(crate) struct Upstream {
    pub(crate) version: String,
    pub(crate) addr: SocketAddr,
    authority: http::uri::Authority,
    metrics: ReleaseMetrics,
    /// One keep-alive pool per proxy worker (and one more for everyone
    /// else): a worker's connections are driven on its own thread.
    clients: Vec<Client<HttpConnector, Body>>,
    in_flight: AtomicUsize,
    idle: Notify,
    /// Since this upstream started serving: for the rollback watch.
    pub(crate) requests: AtomicU64,
    pub(crate) server_errors: AtomicU64,
}

impl Upstream {
    pub(crate) fn new(
        version: &str,
        addr: SocketAddr,
        metrics: &ProxyMetrics,
        workers: usize,
    ) -> Arc<Self> {
        let clients = (0..=workers.max(1))
            .map(|_| {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                connector.set_connect_timeout(Some(Duration::from_secs(5)));
                Client::builder(TokioExecutor::new())
                    .pool_idle_timeout(Duration::from_secs(60))
                    .pool_max_idle_per_host(256)
                    .build(connector)
            })
            .collect();
        Arc::new(Upstream {
            version: version.to_owned(),
            addr,
            authority: http::uri::Authority::try_from(addr.to_string().as_str())
                .unwrap_or_else(|_| http::uri::Authority::from_static("127.0.0.1")),
            metrics: metrics.for_release(version),
            clients,
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            requests: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
        })
    }

    /// A request straight to this release (health checks), outside the
    /// proxy's accounting.
    pub(crate) async fn request(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
        self.client().request(request).await
    }

    /// The pool of the proxy worker running this code (the shared one
    /// elsewhere).
    pub(crate) fn client(&self) -> &Client<HttpConnector, Body> {
        let last = self.clients.len() - 1;
        let index = WORKER.with(|w| w.get()).map_or(last, |w| w.min(last));
        &self.clients[index]
    }

    /// One answer, for the watch's counters and the metrics.
    pub(crate) fn record(&self, status: http::StatusCode, started: std::time::Instant) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if status.is_server_error() {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        self.metrics.record(status, started.elapsed());
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until no request or upgraded connection is on this upstream,
    /// at most `limit`. True when it drained.
    pub(crate) async fn drained(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.in_flight() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }
}

thread_local! {
    /// Which proxy worker this thread is (see [`enter_worker`]).
    static WORKER: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Marks the calling thread as proxy worker `index` (of
/// [`Proxy::workers`]): its requests use that worker's connection pools.
pub fn enter_worker(index: usize) {
    WORKER.with(|w| w.set(Some(index)));
}

/// A request's hold on the upstream it was sent to. Dropped when the
/// response body ends (or the upgraded connection closes).
pub(crate) struct Lease {
    upstream: Arc<Upstream>,
}

impl Lease {
    pub(crate) fn upstream(&self) -> &Arc<Upstream> {
        &self.upstream
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.upstream.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.upstream.idle.notify_waiters();
        }
    }
}

/// The proxy: which upstream serves, and how requests reach it.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<ProxyInner>,
}

struct ProxyInner {
    current: RwLock<Option<Arc<Upstream>>>,
    metrics: ProxyMetrics,
    request_timeout: Duration,
    body_limit: usize,
    workers: usize,
}

impl Proxy {
    /// `request_timeout`: the longest wait for the app's answer head;
    /// `body_limit`: the largest request body passed on.
    /// `workers`: how many threads serve the proxy's listeners (each
    /// gets its own connection pool per upstream).
    pub fn new(
        metrics: ProxyMetrics,
        request_timeout: Duration,
        body_limit: usize,
        workers: usize,
    ) -> Self {
        Proxy {
            inner: Arc::new(ProxyInner {
                current: RwLock::new(None),
                metrics,
                request_timeout,
                body_limit,
                workers,
            }),
        }
    }

    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// The router to serve on the proxy's listeners (every path, every
    /// method, forwarded).
    pub fn router(&self) -> Router {
        Router::new()
            .fallback(forward::forward)
            .with_state(self.clone())
    }

    /// The version serving now.
    pub(crate) fn metrics(&self) -> &ProxyMetrics {
        &self.inner.metrics
    }

    pub fn serving(&self) -> Option<String> {
        self.read().as_ref().map(|u| u.version.clone())
    }

    /// Routes every new request to `next`; returns the upstream that served
    /// before. Requests holding a lease on it finish there.
    pub(crate) fn switch(&self, next: Option<Arc<Upstream>>) -> Option<Arc<Upstream>> {
        let mut current = match self.inner.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        std::mem::replace(&mut *current, next)
    }

    /// The upstream serving now, leased: counted in flight before the read
    /// lock is let go, so a switch followed by a drain cannot miss it.
    fn lease(&self) -> Option<Lease> {
        let current = self.read();
        let upstream = current.as_ref()?;
        upstream.in_flight.fetch_add(1, Ordering::SeqCst);
        Some(Lease {
            upstream: Arc::clone(upstream),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Arc<Upstream>>> {
        match self.inner.current.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}
