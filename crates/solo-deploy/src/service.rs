//! [`Deploys`]: what the node holds for its app — the proxy, the release
//! that serves (its process, upstream and log), and the lock that lets one
//! deploy or rollback run at a time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use solo_observe::Redactor;
use solo_store::Db;
use tokio::sync::{Mutex, watch};

use crate::logs::{LogFiles, ReleaseLog};
use crate::process::{self, AppProcess};
use crate::proxy::{Proxy, Upstream};
use crate::{DeployError, Release, store};

/// `[app.health]`
#[derive(Debug, Clone)]
pub struct HealthSpec {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub successes: u32,
    pub wait: Duration,
}

/// `[app.watch]`
#[derive(Debug, Clone)]
pub struct WatchSpec {
    /// Zero: no watch.
    pub window: Duration,
    pub max_error_percent: u32,
    pub min_requests: u64,
    pub health_failures: u32,
}

/// `[app.restart]`
#[derive(Debug, Clone)]
pub struct RestartSpec {
    pub max_restarts: u32,
    pub window: Duration,
}

/// `[app]`, as the node runs it.
#[derive(Debug, Clone)]
pub struct AppSpec {
    pub name: String,
    pub start: String,
    pub env: BTreeMap<String, String>,
    pub health: HealthSpec,
    pub watch: WatchSpec,
    pub restart: RestartSpec,
    pub drain_timeout: Duration,
    pub stop_timeout: Duration,
    pub keep_releases: usize,
}

#[derive(Debug, Clone)]
pub struct DeploySettings {
    /// None: solo runs no app on this node.
    pub app: Option<AppSpec>,
    /// The node's data directory: releases, logs and pid files live under it.
    pub data_dir: PathBuf,
    /// The largest release archive accepted.
    pub max_archive_bytes: u64,
    /// The largest a release may unpack to.
    pub max_unpacked_bytes: u64,
}

impl DeploySettings {
    pub(crate) fn releases_root(&self, app: &str) -> PathBuf {
        self.data_dir.join("releases").join(app)
    }

    pub(crate) fn pid_dir(&self) -> PathBuf {
        self.data_dir.join("run")
    }

    pub(crate) fn log_files(&self, app: &str) -> LogFiles {
        LogFiles {
            dir: self.data_dir.join("logs").join(app),
            max_bytes: 10 * 1024 * 1024,
            keep: 3,
        }
    }
}

/// The release serving now.
pub(crate) struct Serving {
    pub(crate) release: Release,
    pub(crate) process: Arc<AppProcess>,
    pub(crate) upstream: Arc<Upstream>,
    pub(crate) log: ReleaseLog,
    /// Changes with every switch and restart: a supervisor or watch that
    /// sees another generation knows its release was replaced.
    pub(crate) generation: u64,
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) settings: DeploySettings,
    pub(crate) proxy: Proxy,
    pub(crate) redactor: Redactor,
    /// One deploy or rollback at a time.
    pub(crate) pipeline: Mutex<()>,
    pub(crate) serving: std::sync::Mutex<Option<Serving>>,
    pub(crate) generation: std::sync::atomic::AtomicU64,
    /// True while the current release is in a crash loop (not restarted).
    pub(crate) crash_loop: std::sync::atomic::AtomicBool,
}

/// The node's deploys.
#[derive(Clone)]
pub struct Deploys {
    pub(crate) inner: Arc<Inner>,
}

/// What serves now, for status pages and `solo releases`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ServingStatus {
    pub app: String,
    pub version: Option<String>,
    pub pid: Option<i32>,
    pub port: Option<u16>,
    pub crash_loop: bool,
}

impl Deploys {
    pub fn new(db: Db, settings: DeploySettings, proxy: Proxy, redactor: Redactor) -> Self {
        Deploys {
            inner: Arc::new(Inner {
                db,
                settings,
                proxy,
                redactor,
                pipeline: Mutex::new(()),
                serving: std::sync::Mutex::new(None),
                generation: std::sync::atomic::AtomicU64::new(0),
                crash_loop: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    pub fn proxy(&self) -> &Proxy {
        &self.inner.proxy
    }

    pub fn app(&self) -> Option<&AppSpec> {
        self.inner.settings.app.as_ref()
    }

    pub(crate) fn app_or_err(&self) -> Result<&AppSpec, DeployError> {
        self.app().ok_or(DeployError::NoApp)
    }

    pub fn status(&self) -> Option<ServingStatus> {
        let app = self.app()?;
        let serving = self.inner.lock_serving();
        Some(ServingStatus {
            app: app.name.clone(),
            version: serving.as_ref().map(|s| s.release.version.clone()),
            pid: serving.as_ref().map(|s| s.process.pid),
            port: serving.as_ref().map(|s| s.process.port),
            crash_loop: self
                .inner
                .crash_loop
                .load(std::sync::atomic::Ordering::SeqCst),
        })
    }

    /// At node start: clears what a killed solo left running, marks its
    /// unfinished runs interrupted, and brings the current release back
    /// (health-checked, then routed). Then waits for `stop` and stops the
    /// serving release.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Result<(), DeployError> {
        let Some(app) = self.app().cloned() else {
            return Ok(());
        };
        let pid_dir = self.inner.settings.pid_dir();
        std::fs::create_dir_all(&pid_dir)
            .map_err(|e| DeployError::io(format!("cannot create {}", pid_dir.display()), e))?;
        let root = self.inner.settings.releases_root(&app.name);
        std::fs::create_dir_all(&root)
            .map_err(|e| DeployError::io(format!("cannot create {}", root.display()), e))?;
        let cleared = process::clear_leftovers(&pid_dir, &root).await;
        if cleared > 0 {
            tracing::warn!(cleared, "stopped releases a previous solo left running");
        }
        let interrupted = store::interrupt_running(&self.inner.db, &app.name, Utc::now()).await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "deploys were interrupted when solo stopped; the release before them serves"
            );
        }
        if let Some((release_id, _)) = store::current(&self.inner.db, &app.name).await? {
            match store::release_by_id(&self.inner.db, release_id).await? {
                Some(release) => {
                    if let Err(error) = crate::pipeline::restore(&self, release).await {
                        tracing::error!(%error, "the current release could not be brought back");
                    }
                }
                None => tracing::error!(release_id, "the current release is not recorded"),
            }
        }
        while !*stop.borrow_and_update() {
            if stop.changed().await.is_err() {
                break;
            }
        }
        self.shutdown(&app).await;
        Ok(())
    }

    /// The app's releases, newest first.
    pub async fn releases(&self) -> Result<Vec<Release>, DeployError> {
        store::releases(&self.inner.db, &self.app_or_err()?.name).await
    }

    /// The app's runs, newest first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<crate::Run>, DeployError> {
        store::runs(&self.inner.db, &self.app_or_err()?.name, limit).await
    }

    pub async fn run_by_id(&self, id: i64) -> Result<Option<crate::Run>, DeployError> {
        store::run_by_id(&self.inner.db, id).await
    }

    /// The delivery figures of the last 30 days.
    pub async fn stats(&self) -> Result<crate::DeliveryStats, DeployError> {
        crate::stats::delivery_stats(&self.inner.db, &self.app_or_err()?.name, Utc::now()).await
    }

    async fn shutdown(&self, app: &AppSpec) {
        let serving = self.inner.lock_serving().take();
        self.inner.proxy.switch(None);
        if let Some(serving) = serving {
            serving.log.note("solo is stopping; stopping the release");
            serving.process.stop(app.stop_timeout).await;
        }
    }
}

impl Inner {
    pub(crate) fn lock_serving(&self) -> std::sync::MutexGuard<'_, Option<Serving>> {
        match self.serving.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub(crate) fn next_generation(&self) -> u64 {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1
    }
}
