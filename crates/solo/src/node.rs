//! The node: composes the store, the capability crates and the HTTP stack,
//! serves, and shuts down cleanly.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use solo_access::rules::AccessRules;
use solo_access::{Access, AccessSettings, Guard};
use solo_cluster::{Cluster, NodeInfo};
use solo_dashboard::Dashboard;
use solo_http::{AppRoutes, HttpMetrics, NodeIdentity, SystemState};
use solo_observe::{MetricsRegistry, Redactor};
use solo_store::{Db, Migrator};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::commands::init::create_data_dir;
use crate::exit::{CliError, Exit, OrFail};
use crate::settings::NodeSettings;
use crate::{access_rules, migrations};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// Three missed heartbeats and a node counts as silent.
const SILENCE_LIMIT: Duration = Duration::from_secs(30);
/// Longest wait for each clean-up step after the server has stopped.
const STOP_STEP_LIMIT: Duration = Duration::from_secs(5);

pub async fn run(
    settings: NodeSettings,
    redactor: Redactor,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CliError> {
    let started = Instant::now();
    let started_at = Utc::now();

    create_data_dir(&settings.data_dir)?;
    let _lock = lock_data_dir(&settings.data_dir)?;
    let node_id = node_id(&settings.data_dir)?;

    let db = Db::open(&settings.db).await?;
    let migrator = Migrator::new(migrations::ALL, VERSION)?;
    let migrated = migrator.run(&db).await?;

    let listener = TcpListener::bind(settings.listen).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            "; another process (another solo?) listens there: stop it, or pick another address with --listen"
        } else {
            ""
        };
        CliError::failure(anyhow::Error::new(e).context(format!("cannot listen on {}{hint}", settings.listen)))
    })?;
    let addr = listener
        .local_addr()
        .or_fail(|| "cannot read the bound address".into())?;
    let proxy_listeners =
        crate::deploy::bind_proxy(&settings.stack, &settings.config_dir(), &settings.http).await?;
    let tls = settings
        .http
        .tls
        .as_ref()
        .map(solo_http::load_tls)
        .transpose()
        .map_err(|e| CliError::new(Exit::Config, "tls", e))?;

    let metrics = MetricsRegistry::new();
    register_node_metrics(&metrics, &db, started_at);
    let http_metrics = HttpMetrics::register(&metrics);
    let job_metrics = solo_jobs::JobMetrics::register(&metrics);
    let proxy_metrics = solo_deploy::ProxyMetrics::register(&metrics);

    let cluster = Cluster::new(db.clone());
    let me = NodeInfo {
        node_id: node_id.clone(),
        hostname: hostname(),
        version: VERSION.to_owned(),
        listen: addr.to_string(),
        started_at,
    };
    cluster
        .register(&me, started_at)
        .await
        .or_fail(|| "cannot register this node".into())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let heartbeat = solo_cluster::spawn_heartbeat(cluster.clone(), me, HEARTBEAT_INTERVAL, stop_rx);

    let system = SystemState::new(
        db.clone(),
        migrator,
        metrics,
        NodeIdentity {
            node_id: node_id.clone(),
            version: VERSION.to_owned(),
            started_at,
            started,
            listen: addr,
        },
        settings.db.target.describe(),
    );
    let access = Access::new(db.clone(), access_settings(&settings.stack.access));
    write_local_tokens(&settings.data_dir, &access, &node_id).await?;
    let rules = AccessRules::new(&access_rules::table(settings.stack.http.public_metrics))
        .map_err(|e| {
            CliError::failure(anyhow::Error::new(e).context("the access rules are invalid"))
        })?;
    let jobs = solo_jobs::Jobs::new(
        db.clone(),
        crate::jobs::settings(
            &settings.stack,
            &settings.config_dir(),
            &node_id,
            settings.jobs_signing_secret.as_deref(),
        )?,
        job_metrics,
    );
    let proxy = solo_deploy::Proxy::new(
        proxy_metrics,
        settings.stack.proxy.request_timeout.as_std(),
        usize::try_from(settings.stack.proxy.body_limit.bytes()).unwrap_or(usize::MAX),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let deploys = solo_deploy::Deploys::new(
        db.clone(),
        crate::deploy::settings(&settings.stack, &settings.data_dir),
        proxy.clone(),
        redactor,
    );
    let pages = solo_dashboard::routes(Dashboard {
        access: access.clone(),
        db: db.clone(),
        system: system.clone(),
        cluster: cluster.clone(),
        silence_limit: SILENCE_LIMIT,
        jobs: jobs.clone(),
        deploys: deploys.clone(),
    });
    let api = solo_cluster::routes(cluster, SILENCE_LIMIT)
        .merge(crate::api::routes())
        .merge(solo_access::routes(access.clone()))
        .merge(solo_audit::routes(db.clone()))
        .merge(solo_jobs::routes(jobs.clone()))
        .merge(solo_deploy::routes(deploys.clone()));
    let app = solo_http::build_app_with(
        AppRoutes { api, pages },
        Guard::new(access, rules),
        system,
        &settings.http,
        http_metrics,
    );

    let scheme = if tls.is_some() { "https" } else { "http" };
    let proxy_addrs = match &proxy_listeners {
        Some(proxy) => crate::deploy::addresses(proxy)?,
        None => Vec::new(),
    };
    tracing::info!(
        addr = %addr,
        proxy = %proxy_addrs.join(","),
        url = %format!("{scheme}://{addr}"),
        node_id = %node_id,
        version = VERSION,
        database = %db.engine(),
        schema_version = migrated.schema_version,
        migrations_applied = migrated.applied.len(),
        startup_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        "ready"
    );

    // Jobs stop claiming as soon as shutdown starts, while requests drain.
    let (jobs_stop_tx, jobs_stop_rx) = watch::channel(false);
    let jobs_grace = settings.stack.jobs.shutdown_grace.as_std();
    let jobs_task = tokio::spawn(jobs.run(jobs_stop_rx));
    // The proxy stops accepting with the API and drains its requests;
    // only then is the app stopped.
    let (serve_stop_tx, serve_stop_rx) = watch::channel(false);
    let (deploys_stop_tx, deploys_stop_rx) = watch::channel(false);
    let deploys_task = tokio::spawn(deploys.run(deploys_stop_rx));
    let proxy_threads = match proxy_listeners {
        Some(bound) => crate::deploy::spawn_proxy(&proxy, bound, serve_stop_rx)?,
        None => Vec::new(),
    };
    let shutdown = async move {
        shutdown.await;
        let _ = jobs_stop_tx.send(true);
        let _ = serve_stop_tx.send(true);
    };
    let drained = solo_http::serve(listener, tls, app, &settings.http, shutdown).await;
    let proxy_stopped = tokio::task::spawn_blocking(move || {
        for thread in proxy_threads {
            let _ = thread.join();
        }
    });
    if tokio::time::timeout(
        settings.http.shutdown_grace + STOP_STEP_LIMIT,
        proxy_stopped,
    )
    .await
    .is_err()
    {
        tracing::warn!("the proxy did not stop in time");
    }
    let _ = deploys_stop_tx.send(true);
    let app_stop = settings
        .stack
        .app
        .as_ref()
        .map_or(Duration::ZERO, |app| app.stop_timeout.as_std());
    match tokio::time::timeout(app_stop + STOP_STEP_LIMIT, deploys_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => tracing::warn!(%error, "the app's supervisor stopped with an error"),
        Ok(Err(error)) => tracing::warn!(%error, "the app's supervisor panicked"),
        Err(_) => tracing::warn!("the app did not stop in time"),
    }
    // Running jobs get their grace; the workers then hand back what is left.
    let jobs_abort = jobs_task.abort_handle();
    match tokio::time::timeout(jobs_grace + STOP_STEP_LIMIT, jobs_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => tracing::warn!(%error, "the job workers stopped with an error"),
        Ok(Err(error)) => tracing::warn!(%error, "the job workers panicked"),
        Err(_) => {
            jobs_abort.abort();
            tracing::warn!("the job workers did not stop in time; their leases will run out");
        }
    }

    // Every step of the way out is bounded: a stuck database must not keep
    // a stopping node alive.
    let _ = stop_tx.send(true);
    let heartbeat_abort = heartbeat.abort_handle();
    if tokio::time::timeout(STOP_STEP_LIMIT, heartbeat)
        .await
        .is_err()
    {
        heartbeat_abort.abort();
        tracing::warn!("the node registry did not record the stop in time");
    }
    if tokio::time::timeout(STOP_STEP_LIMIT, db.close())
        .await
        .is_err()
    {
        tracing::warn!("the database connections did not close in time; leaving them");
    }
    tracing::info!(drained, "stopped");
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM. A second one exits at once, for
/// an operator who does not want to wait out the grace period.
///
/// The handlers are installed when this is called, not when the future is
/// first polled: a signal that lands between "ready" and the first poll
/// must still mean a clean shutdown, not the default (killed) action.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    let mut signals = Signals::install();
    async move {
        signals.next().await;
        tracing::info!("shutdown requested; a second signal exits at once");
        tokio::spawn(async move {
            signals.next().await;
            tracing::warn!("second signal: exiting without waiting");
            std::process::exit(130);
        });
    }
}

/// SIGINT and SIGTERM, registered up front.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        {
            async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = recv(&mut self.term) => {}
                () = recv(&mut self.int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// One node per data directory: a second `solo up` on the same directory
/// would share its node id and, with SQLite, its database.
fn lock_data_dir(data_dir: &Path) -> Result<File, CliError> {
    let path = data_dir.join("node.lock");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .or_fail(|| format!("cannot open {}", path.display()))?;
    if file.try_lock().is_err() {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        return Err(CliError::new(
            Exit::Failure,
            "data_dir_locked",
            anyhow::anyhow!(
                "another solo node (pid {}) is running with the data directory {}; stop it, or give this one its own --data-dir",
                holder.trim(),
                data_dir.display()
            ),
        ));
    }
    file.set_len(0)
        .or_fail(|| format!("cannot write {}", path.display()))?;
    write!(file, "{}", std::process::id())
        .or_fail(|| format!("cannot write {}", path.display()))?;
    Ok(file)
}

/// `[access]` from solo.toml, for the access service.
pub fn access_settings(section: &solo_config::AccessSection) -> AccessSettings {
    AccessSettings {
        session_idle: section.session_idle.as_std(),
        session_lifetime: section.session_lifetime.as_std(),
        require_mfa_for_admins: section.require_mfa_for_admins,
        ..AccessSettings::default()
    }
}

/// The CLI on this machine reaches the node's API with this viewer token
/// (`solo status`). A new one at every start; the old one is revoked.
pub const LOCAL_TOKEN_FILE: &str = "local-token";
/// …and with this operator token for what only the node can do
/// (`solo deploy`, `solo rollback`): the node runs the app. Whoever can
/// read the data directory (0700) can read the SQLite database anyway.
pub const LOCAL_OPERATOR_TOKEN_FILE: &str = "local-operator-token";

async fn write_local_tokens(
    data_dir: &Path,
    access: &Access,
    node_id: &str,
) -> Result<(), CliError> {
    let viewer = access
        .issue_local_token(node_id, solo_access::Role::Viewer)
        .await
        .or_fail(|| "cannot issue the local CLI token".into())?;
    write_token_file(data_dir, LOCAL_TOKEN_FILE, &viewer)?;
    let operator = access
        .issue_local_token(&format!("operator:{node_id}"), solo_access::Role::Operator)
        .await
        .or_fail(|| "cannot issue the local CLI token".into())?;
    write_token_file(data_dir, LOCAL_OPERATOR_TOKEN_FILE, &operator)
}

fn write_token_file(data_dir: &Path, name: &str, token: &str) -> Result<(), CliError> {
    let path = data_dir.join(name);
    let tmp = data_dir.join(format!("{name}.tmp"));
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A leftover from a crash would keep its old mode: start afresh.
        let _ = std::fs::remove_file(&tmp);
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .or_fail(|| format!("cannot write {}", tmp.display()))?;
        file.write_all(token.as_bytes())
            .or_fail(|| format!("cannot write {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &path).or_fail(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The node's id, made at its first start and kept in the data directory.
fn node_id(data_dir: &Path) -> Result<String, CliError> {
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return Ok(id.to_owned());
        }
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    std::fs::write(&path, &id).or_fail(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

fn register_node_metrics(metrics: &MetricsRegistry, db: &Db, started_at: chrono::DateTime<Utc>) {
    let build: Family<BuildLabels, Gauge> = Family::default();
    build
        .get_or_create(&BuildLabels {
            version: VERSION.to_owned(),
        })
        .set(1);
    metrics.register("solo_build_info", "The running solo's version", build);

    let start: Gauge = Gauge::default();
    start.set(started_at.timestamp());
    metrics.register(
        "solo_node_start_time_seconds",
        "When this node started, in unix seconds",
        start,
    );

    let pool: Family<PoolLabels, Gauge> = Family::default();
    let pool_max: Gauge = Gauge::default();
    metrics.register(
        "solo_db_pool_connections",
        "Database connections by state (open, idle, in_use)",
        pool.clone(),
    );
    metrics.register(
        "solo_db_pool_max_connections",
        "The upper bound of the database pools",
        pool_max.clone(),
    );
    let db = db.clone();
    metrics.on_scrape(move || {
        let stats = db.pool_stats();
        for (state, value) in [
            ("open", stats.open),
            ("idle", stats.idle),
            ("in_use", stats.open.saturating_sub(stats.idle)),
        ] {
            pool.get_or_create(&PoolLabels {
                state: state.to_owned(),
            })
            .set(i64::from(value));
        }
        pool_max.set(i64::from(stats.max));
    });
}
