//! Composes the deploys capability from `solo.toml`: `[app]` into the
//! node's `AppSpec`, `[proxy]` into the proxy's listeners and HTTP
//! settings.

use std::path::Path;
use std::sync::Arc;

use solo_config::StackFile;
use solo_deploy::{AppSpec, DeploySettings, HealthSpec, RestartSpec, WatchSpec};
use solo_http::{HttpSettings, TlsFiles};
use tokio::net::TcpListener;

use crate::exit::{CliError, Exit, OrFail};

/// The largest release archive the node takes.
pub const MAX_ARCHIVE_BYTES: u64 = 1024 * 1024 * 1024;

pub fn settings(stack: &StackFile, data_dir: &Path) -> DeploySettings {
    DeploySettings {
        app: stack.app.as_ref().map(|app| AppSpec {
            name: app.name.clone(),
            start: app.start.clone(),
            env: app.env.clone(),
            health: HealthSpec {
                path: app.health.path.clone(),
                interval: app.health.interval.as_std(),
                timeout: app.health.timeout.as_std(),
                successes: app.health.successes,
                wait: app.health.wait.as_std(),
            },
            watch: WatchSpec {
                window: app.watch.window.as_std(),
                max_error_percent: app.watch.max_error_percent,
                min_requests: u64::from(app.watch.min_requests),
                health_failures: app.watch.health_failures,
            },
            restart: RestartSpec {
                max_restarts: app.restart.max_restarts,
                window: app.restart.window.as_std(),
            },
            drain_timeout: app.drain_timeout.as_std(),
            stop_timeout: app.stop_timeout.as_std(),
            keep_releases: app.keep_releases as usize,
        }),
        data_dir: data_dir.to_owned(),
        max_archive_bytes: MAX_ARCHIVE_BYTES,
        max_unpacked_bytes: 4 * MAX_ARCHIVE_BYTES,
    }
}

/// The proxy's listeners (bound now, so a taken address stops `solo up`
/// with a clear message) and how it serves.
pub struct ProxyListeners {
    pub listeners: Vec<TcpListener>,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub http: HttpSettings,
}

pub async fn bind_proxy(
    stack: &StackFile,
    base: &Path,
    api: &HttpSettings,
) -> Result<Option<ProxyListeners>, CliError> {
    if stack.app.is_none() {
        return Ok(None);
    }
    let mut listeners = Vec::new();
    for addr in &stack.proxy.listen {
        let addr = addr.socket_addr();
        let listener = reuseport_listener(addr).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                "; another process listens there: stop it, or change [proxy] listen in solo.toml"
            } else {
                ""
            };
            CliError::failure(
                anyhow::Error::new(e).context(format!("the proxy cannot listen on {addr}{hint}")),
            )
        })?;
        listeners.push(listener);
    }
    let tls = stack
        .proxy
        .tls
        .as_ref()
        .map(|files| TlsFiles {
            cert: base.join(&files.cert),
            key: base.join(&files.key),
        })
        .as_ref()
        .map(solo_http::load_tls)
        .transpose()
        .map_err(|e| CliError::new(Exit::Config, "proxy_tls", e))?;
    let http = HttpSettings {
        request_timeout: stack.proxy.request_timeout.as_std(),
        body_limit: usize::try_from(stack.proxy.body_limit.bytes()).unwrap_or(usize::MAX),
        max_connections: 16 * 1024,
        ..api.clone()
    };
    Ok(Some(ProxyListeners {
        listeners,
        tls,
        http,
    }))
}

/// A listener other listeners can share (SO_REUSEPORT): each proxy worker
/// accepts on its own, and the kernel spreads connections across them.
fn reuseport_listener(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves the proxy on one thread per core, each with its own
/// single-threaded runtime, listeners and connection pools, like nginx's
/// workers: a request and its upstream connection never cross threads.
/// The threads end when `stop` turns true and their connections drained.
pub fn spawn_proxy(
    proxy: &solo_deploy::Proxy,
    bound: ProxyListeners,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<std::thread::JoinHandle<()>>, CliError> {
    let addrs: Vec<std::net::SocketAddr> = bound
        .listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<_, _>>()
        .or_fail(|| "cannot read the proxy's address".into())?;
    let mut first = Some(
        bound
            .listeners
            .into_iter()
            .map(|l| l.into_std())
            .collect::<Result<Vec<_>, _>>()
            .or_fail(|| "cannot hand the proxy's listeners over".into())?,
    );
    let mut threads = Vec::new();
    for index in 0..proxy.workers() {
        let inherited = first.take();
        let (proxy, addrs, tls, http, stop) = (
            proxy.clone(),
            addrs.clone(),
            bound.tls.clone(),
            bound.http.clone(),
            stop.clone(),
        );
        let thread = std::thread::Builder::new()
            .name(format!("solo-proxy-{index}"))
            .spawn(move || {
                solo_deploy::enter_worker(index);
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        tracing::error!(%error, "a proxy worker cannot start");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listeners: Vec<TcpListener> = match inherited {
                        Some(std_listeners) => std_listeners
                            .into_iter()
                            .filter_map(|l| TcpListener::from_std(l).ok())
                            .collect(),
                        None => addrs
                            .iter()
                            .filter_map(|addr| match reuseport_listener(*addr) {
                                Ok(l) => Some(l),
                                Err(error) => {
                                    tracing::warn!(%error, %addr, "a proxy worker cannot share the address");
                                    None
                                }
                            })
                            .collect(),
                    };
                    let mut serving = tokio::task::JoinSet::new();
                    for listener in listeners {
                        let (router, tls, http, mut stop) =
                            (proxy.router(), tls.clone(), http.clone(), stop.clone());
                        serving.spawn(async move {
                            let stopped = async move {
                                let _ = stop.wait_for(|stop| *stop).await;
                            };
                            solo_http::serve(listener, tls, router, &http, stopped).await
                        });
                    }
                    while serving.join_next().await.is_some() {}
                });
            })
            .or_fail(|| "cannot start the proxy's threads".into())?;
        threads.push(thread);
    }
    Ok(threads)
}

/// The addresses the proxy listens on, for the `ready` line.
pub fn addresses(proxy: &ProxyListeners) -> Result<Vec<String>, CliError> {
    proxy
        .listeners
        .iter()
        .map(|l| {
            l.local_addr()
                .map(|a| a.to_string())
                .or_fail(|| "cannot read the proxy's address".into())
        })
        .collect()
}
