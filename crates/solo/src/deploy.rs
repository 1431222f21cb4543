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
        let listener = TcpListener::bind(addr).await.map_err(|e| {
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
