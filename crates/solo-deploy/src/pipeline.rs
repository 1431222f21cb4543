//! The pipeline: release → start beside the old one → healthy → switch →
//! drain → stop → record; rollback is the same from "start" on; the watch
//! after every switch; the supervisor that restarts a crashed release.
//!
//! Crash safety comes from the order of writes: `deploy_current` changes
//! only in the switch's transaction, after the new release passed its
//! health checks. A solo killed before it finds the old release current; a
//! solo killed after finds the new one; either way it starts that one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use solo_audit::Actor;
use solo_store::Tx;
use tokio::sync::mpsc;

use crate::archive::{self, Manifest};
use crate::health;
use crate::logs::ReleaseLog;
use crate::process::{AppProcess, StartSpec, free_port};
use crate::proxy::Upstream;
use crate::service::{AppSpec, Deploys, Serving};
use crate::store::{self, NewRelease, NewRun};
use crate::{DeployError, Release, Run, RunKind, RunState, Step, versions};

/// Who asks, for the run's record and the audit log.
pub use solo_audit::Requester;

/// How a run's record names who asked.
fn label(who: &Requester) -> String {
    match &who.actor {
        Actor::User { name, .. } => name.clone(),
        // The node's own token for the CLI on its machine.
        Actor::Token { name, .. } if name.starts_with("local:") => "local cli".to_owned(),
        Actor::Token { name, .. } => format!("token:{name}"),
        Actor::System { name } => name.clone(),
    }
}

async fn audit(
    tx: &mut Tx,
    who: &Requester,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<(), DeployError> {
    solo_audit::append(
        tx,
        who.entry(action, Some(target.to_owned()), details),
        Utc::now(),
    )
    .await
    .map(|_| ())
    .map_err(|e| DeployError::Audit(e.to_string()))
}

/// Takes the pipeline: one deploy or rollback at a time per node.
fn one_at_a_time(deploys: &Deploys) -> Result<tokio::sync::MutexGuard<'_, ()>, DeployError> {
    deploys.inner.pipeline.try_lock().map_err(|_| {
        DeployError::Conflict(
            "another deploy or rollback is running; try again when it ends".into(),
        )
    })
}

/// A step starting or ending, as the CLI shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub step: String,
    /// `started`, `done` or `failed`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

pub type ProgressSender = mpsc::UnboundedSender<Progress>;

/// The steps of one run: sent as they happen, kept for the record.
struct Steps {
    list: Vec<Step>,
    progress: Option<ProgressSender>,
}

impl Steps {
    fn new(progress: Option<ProgressSender>, before: Vec<Step>) -> Self {
        Steps {
            list: before,
            progress,
        }
    }

    fn begin(&self, name: &str) -> Instant {
        self.send(Progress {
            step: name.to_owned(),
            state: "started",
            ms: None,
            detail: None,
        });
        Instant::now()
    }

    fn end(&mut self, name: &str, started: Instant, ok: bool, detail: Option<String>) {
        let ms = started.elapsed().as_millis() as u64;
        self.send(Progress {
            step: name.to_owned(),
            state: if ok { "done" } else { "failed" },
            ms: Some(ms),
            detail: detail.clone(),
        });
        self.list.push(Step {
            name: name.to_owned(),
            ms,
            ok,
            detail,
        });
    }

    fn send(&self, progress: Progress) {
        if let Some(tx) = &self.progress {
            let _ = tx.send(progress);
        }
    }
}

/// A new release from an archive on disk (already checksummed by the
/// caller as `checksum`), then made live.
pub async fn deploy_archive(
    deploys: &Deploys,
    archive_path: &Path,
    checksum: &str,
    who: &Requester,
    progress: Option<ProgressSender>,
) -> Result<Run, DeployError> {
    let app = deploys.app_or_err()?.clone();
    let _one_at_a_time = one_at_a_time(deploys)?;
    let mut steps = Steps::new(progress, Vec::new());

    let started = steps.begin("release");
    let made = make_release(deploys, &app, archive_path, checksum, who).await;
    let (release, manifest) = match made {
        Ok(made) => made,
        Err(error) => {
            steps.end("release", started, false, Some(error.to_string()));
            return Err(error);
        }
    };
    // The packer's own steps (preflight, build, pack) go first in the record.
    let mut before = manifest.steps.clone();
    before.append(&mut steps.list);
    steps.list = before;
    steps.end(
        "release",
        started,
        true,
        Some(format!("{} ({})", release.version, release.dir)),
    );
    activate(deploys, &app, release, RunKind::Deploy, who, None, steps).await
}

/// Unpacks into a staging directory, names the version, moves it into
/// place read-only and records it.
async fn make_release(
    deploys: &Deploys,
    app: &AppSpec,
    archive_path: &Path,
    checksum: &str,
    who: &Requester,
) -> Result<(Release, Manifest), DeployError> {
    let inner = &deploys.inner;
    let root = inner.settings.releases_root(&app.name);
    std::fs::create_dir_all(&root)
        .map_err(|e| DeployError::io(format!("cannot create {}", root.display()), e))?;
    let staging = root.join(format!(".staging-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&staging)
        .map_err(|e| DeployError::io(format!("cannot create {}", staging.display()), e))?;
    let cleanup = StagingGuard(Some(staging.clone()));
    let max = inner.settings.max_unpacked_bytes;
    let (archive_file, staging_dir) = (archive_path.to_owned(), staging.clone());
    let manifest = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&archive_file)
            .map_err(|e| DeployError::io("cannot read the uploaded archive", e))?;
        archive::unpack(std::io::BufReader::new(file), &staging_dir, max)
    })
    .await
    .map_err(|e| DeployError::Io(format!("unpacking failed: {e}")))??;
    if manifest.app != app.name {
        return Err(DeployError::invalid(
            "archive",
            format!(
                "it is a release of `{}`, but this node runs `{}`",
                manifest.app, app.name
            ),
        ));
    }
    let previous = store::releases(&inner.db, &app.name).await?;
    let version = versions::next_version(
        previous.first().map(|r| r.version.as_str()),
        &manifest.messages,
    );
    let short: String = manifest
        .commit
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(7)
        .collect();
    let dir = format!(
        "{version}-{}",
        if short.is_empty() { "nocommit" } else { &short }
    );
    let final_dir = root.join(&dir);
    archive::freeze(&staging)
        .map_err(|e| DeployError::io("cannot make the release read-only", e))?;
    std::fs::rename(&staging, &final_dir).map_err(|e| {
        DeployError::io(
            format!("cannot move the release to {}", final_dir.display()),
            e,
        )
    })?;
    cleanup.disarm();
    let now = Utc::now();
    let mut tx = inner.db.begin().await?;
    let id = store::insert_release(
        &mut tx,
        &NewRelease {
            app: &app.name,
            version: &version,
            commit: &manifest.commit,
            committed_at: manifest.committed_at,
            dir: &dir,
            checksum,
            created_by: &label(who),
        },
        now,
    )
    .await?;
    audit(
        &mut tx,
        who,
        "deploy.release",
        &format!("{}@{version}", app.name),
        serde_json::json!({
            "commit": manifest.commit,
            "checksum": checksum,
            "dir": dir,
            // A skipped preflight is on the record.
            "preflight": manifest
                .steps
                .iter()
                .find(|s| s.name == "preflight")
                .map_or("not run".to_owned(), |s| s.detail.clone().unwrap_or_else(|| "passed".into())),
        }),
    )
    .await?;
    tx.commit().await?;
    let release = store::release_by_id(&inner.db, id)
        .await?
        .ok_or_else(|| DeployError::NotFound(format!("release {id} vanished")))?;
    Ok((release, manifest))
}

/// Removes a staging directory unless the release made it into place.
struct StagingGuard(Option<PathBuf>);

impl StagingGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for StagingGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = archive::thaw(&dir);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// Brings back the previous release (or `to`), by hand or by the watch.
pub async fn rollback(
    deploys: &Deploys,
    to: Option<&str>,
    kind: RunKind,
    who: &Requester,
    reason: Option<String>,
    progress: Option<ProgressSender>,
) -> Result<Run, DeployError> {
    let app = deploys.app_or_err()?.clone();
    let inner = &deploys.inner;
    let _one_at_a_time = one_at_a_time(deploys)?;
    let serving_version = inner
        .lock_serving()
        .as_ref()
        .map(|s| s.release.version.clone());
    let target = match to {
        Some(version) => store::release_by_version(&inner.db, &app.name, version)
            .await?
            .ok_or_else(|| {
                DeployError::NotFound(format!("no release has the version {version}"))
            })?,
        None => previous_live(deploys, &app, serving_version.as_deref())
            .await?
            .ok_or_else(|| {
                DeployError::Conflict("there is no earlier release to roll back to".into())
            })?,
    };
    if serving_version.as_deref() == Some(target.version.as_str()) {
        return Err(DeployError::Conflict(format!(
            "{} is already serving",
            target.version
        )));
    }
    if target.pruned {
        return Err(DeployError::Conflict(format!(
            "{} was pruned (keep_releases); deploy it again instead",
            target.version
        )));
    }
    activate(
        deploys,
        &app,
        target,
        kind,
        who,
        reason,
        Steps::new(progress, Vec::new()),
    )
    .await
}

/// The release that served before the one serving now: the newest run
/// that went live with another version.
async fn previous_live(
    deploys: &Deploys,
    app: &AppSpec,
    serving: Option<&str>,
) -> Result<Option<Release>, DeployError> {
    let runs = store::runs(&deploys.inner.db, &app.name, 200).await?;
    for run in runs {
        let went_live = matches!(run.state, RunState::Live | RunState::Superseded);
        if went_live && Some(run.version.as_str()) != serving {
            return store::release_by_id(&deploys.inner.db, run.release_id).await;
        }
    }
    Ok(None)
}

/// Start → healthy → switch → drain → stop → prune, recorded as one run.
async fn activate(
    deploys: &Deploys,
    app: &AppSpec,
    release: Release,
    kind: RunKind,
    who: &Requester,
    reason: Option<String>,
    mut steps: Steps,
) -> Result<Run, DeployError> {
    let inner = &deploys.inner;
    let previous = inner.lock_serving().as_ref().map(|s| s.release.clone());
    let mut tx = inner.db.begin().await?;
    let run_id = store::insert_run(
        &mut tx,
        &NewRun {
            app: &app.name,
            kind,
            release: &release,
            previous: previous.as_ref(),
            actor: &label(who),
            reason: reason.as_deref(),
        },
        Utc::now(),
    )
    .await?;
    audit(
        &mut tx,
        who,
        &format!("deploy.{}", kind.as_str()),
        &format!("{}@{}", app.name, release.version),
        serde_json::json!({
            "run": run_id,
            "from": previous.as_ref().map(|p| p.version.clone()),
            "reason": reason,
        }),
    )
    .await?;
    tx.commit().await?;
    store::save_steps(&inner.db, run_id, &steps.list).await?;

    // Start beside the one serving.
    let started = steps.begin("start");
    let launched = launch(deploys, app, &release);
    let (process, upstream, log) = match launched {
        Ok(launched) => {
            steps.end(
                "start",
                started,
                true,
                Some(format!(
                    "pid {} on port {}",
                    launched.0.pid, launched.0.port
                )),
            );
            launched
        }
        Err(error) => {
            steps.end("start", started, false, Some(error.to_string()));
            return fail(deploys, run_id, &steps, &error.to_string(), None).await;
        }
    };
    store::save_steps(&inner.db, run_id, &steps.list).await?;

    // Healthy, or the old release keeps serving.
    let started = steps.begin("health");
    match health::wait_healthy(&upstream, &process, &app.health).await {
        Ok(_) => steps.end("health", started, true, None),
        Err(error) => {
            steps.end("health", started, false, Some(error.clone()));
            process.stop(app.stop_timeout).await;
            let tail = log.tail().join("\n");
            return fail(deploys, run_id, &steps, &error, Some(&tail)).await;
        }
    }

    // Switch: the proxy first (atomic for requests), then the record.
    let started = steps.begin("switch");
    let generation = inner.next_generation();
    let old = {
        let mut serving = inner.lock_serving();
        let old = serving.replace(Serving {
            release: release.clone(),
            process: Arc::clone(&process),
            upstream: Arc::clone(&upstream),
            log: log.clone(),
            generation,
        });
        inner.proxy.switch(Some(Arc::clone(&upstream)));
        old
    };
    inner.crash_loop.store(false, Ordering::SeqCst);
    let mut tx = inner.db.begin().await?;
    store::switch_current(&mut tx, &app.name, release.id, run_id, Utc::now()).await?;
    store::finish_run(
        &mut tx,
        run_id,
        RunState::Live,
        &steps.list,
        None,
        None,
        Utc::now(),
    )
    .await?;
    audit(
        &mut tx,
        who,
        "deploy.switch",
        &format!("{}@{}", app.name, release.version),
        serde_json::json!({ "run": run_id, "from": previous.as_ref().map(|p| p.version.clone()) }),
    )
    .await?;
    tx.commit().await?;
    steps.end("switch", started, true, None);
    log.note("serving");
    spawn_supervisor(deploys.clone(), generation);

    // Drain and stop the old one.
    if let Some(old) = old {
        let started = steps.begin("drain");
        let drained = old.upstream.drained(app.drain_timeout).await;
        let left = old.upstream.in_flight();
        steps.end(
            "drain",
            started,
            true,
            (!drained).then(|| format!("{left} requests still open after the drain timeout")),
        );
        let started = steps.begin("stop");
        old.log.note("replaced; stopping");
        old.process.stop(app.stop_timeout).await;
        steps.end("stop", started, true, None);
    }

    let started = steps.begin("prune");
    let pruned = prune(deploys, app).await;
    steps.end(
        "prune",
        started,
        pruned.is_ok(),
        match pruned {
            Ok(0) => None,
            Ok(n) => Some(format!("{n} old releases removed")),
            Err(error) => Some(error.to_string()),
        },
    );
    store::save_steps(&inner.db, run_id, &steps.list).await?;

    if kind != RunKind::AutoRollback && !app.watch.window.is_zero() {
        spawn_watch(deploys.clone(), generation, run_id);
    }
    store::run_by_id(&inner.db, run_id)
        .await?
        .ok_or_else(|| DeployError::NotFound(format!("run {run_id} vanished")))
}

/// Records a failed run; the release that served keeps serving.
async fn fail(
    deploys: &Deploys,
    run_id: i64,
    steps: &Steps,
    error: &str,
    log_tail: Option<&str>,
) -> Result<Run, DeployError> {
    let inner = &deploys.inner;
    let mut tx = inner.db.begin().await?;
    store::finish_run(
        &mut tx,
        run_id,
        RunState::Failed,
        &steps.list,
        Some(error),
        log_tail,
        Utc::now(),
    )
    .await?;
    tx.commit().await?;
    store::run_by_id(&inner.db, run_id)
        .await?
        .ok_or_else(|| DeployError::NotFound(format!("run {run_id} vanished")))
}

/// Starts `release` on a free port, its output to its log.
fn launch(
    deploys: &Deploys,
    app: &AppSpec,
    release: &Release,
) -> Result<(Arc<AppProcess>, Arc<Upstream>, ReleaseLog), DeployError> {
    let settings = &deploys.inner.settings;
    let dir = settings.releases_root(&app.name).join(&release.dir);
    if !dir.is_dir() {
        return Err(DeployError::Conflict(format!(
            "the directory of {} is gone ({})",
            release.version,
            dir.display()
        )));
    }
    let log = ReleaseLog::open(
        &settings.log_files(&app.name),
        &release.dir,
        deploys.inner.redactor.clone(),
    );
    let port = free_port()?;
    let process = AppProcess::spawn(StartSpec {
        command: &app.start,
        dir: &dir,
        env: &app.env,
        port,
        version: &release.version,
        pid_file: settings.pid_dir().join(format!("{}.pid", release.dir)),
        log: &log,
    })?;
    let upstream = Upstream::new(
        &release.version,
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        deploys.inner.proxy.metrics(),
        deploys.inner.proxy.workers(),
    );
    Ok((Arc::new(process), upstream, log))
}

/// At node start: starts the recorded current release and routes to it
/// once healthy (no run: nothing changed).
pub(crate) async fn restore(deploys: &Deploys, release: Release) -> Result<(), DeployError> {
    let app = deploys.app_or_err()?.clone();
    let inner = &deploys.inner;
    let _one_at_a_time = inner.pipeline.lock().await;
    let (process, upstream, log) = launch(deploys, &app, &release)?;
    log.note("solo started; bringing the current release back");
    if let Err(error) = health::wait_healthy(&upstream, &process, &app.health).await {
        // Serve it anyway: the supervisor restarts it if it dies, and
        // the proxy answers 502 rather than nothing.
        tracing::error!(%error, version = %release.version, "the current release is not healthy");
    }
    let generation = inner.next_generation();
    {
        let mut serving = inner.lock_serving();
        *serving = Some(Serving {
            release: release.clone(),
            process,
            upstream: Arc::clone(&upstream),
            log,
            generation,
        });
        inner.proxy.switch(Some(upstream));
    }
    tracing::info!(version = %release.version, "the current release serves");
    spawn_supervisor(deploys.clone(), generation);
    Ok(())
}

/// Restarts the serving release when it exits on its own, with backoff;
/// gives up (and says so) when it crashes too often.
fn spawn_supervisor(deploys: Deploys, generation: u64) {
    tokio::spawn(async move {
        let mut crashes: Vec<Instant> = Vec::new();
        let mut generation = generation;
        loop {
            let process = {
                let serving = deploys.inner.lock_serving();
                match serving.as_ref() {
                    Some(s) if s.generation == generation => Arc::clone(&s.process),
                    _ => return,
                }
            };
            let how = process.wait_exit().await;
            let Ok(app) = deploys.app_or_err().cloned() else {
                return;
            };
            let _one_at_a_time = deploys.inner.pipeline.lock().await;
            let (release, log) = {
                let serving = deploys.inner.lock_serving();
                match serving.as_ref() {
                    // Replaced or stopped on purpose: not a crash.
                    Some(s) if s.generation == generation => (s.release.clone(), s.log.clone()),
                    _ => return,
                }
            };
            let now = Instant::now();
            crashes.retain(|at| now.duration_since(*at) < app.restart.window);
            crashes.push(now);
            if crashes.len() as u32 > app.restart.max_restarts {
                deploys.inner.crash_loop.store(true, Ordering::SeqCst);
                log.note("crash loop: not restarting");
                tracing::error!(
                    version = %release.version,
                    crashes = crashes.len(),
                    window_s = app.restart.window.as_secs(),
                    last_exit = %how,
                    "the app is in a crash loop; solo stopped restarting it (deploy a fix or roll back)"
                );
                return;
            }
            let backoff = Duration::from_millis(250 * (1 << crashes.len().min(7)));
            tracing::warn!(version = %release.version, exit = %how, backoff_ms = backoff.as_millis() as u64, "the app exited; restarting it");
            tokio::time::sleep(backoff).await;
            let (process, upstream, log) = match launch(&deploys, &app, &release) {
                Ok(launched) => launched,
                Err(error) => {
                    tracing::error!(%error, "cannot restart the app");
                    return;
                }
            };
            if let Err(error) = health::wait_healthy(&upstream, &process, &app.health).await {
                tracing::warn!(%error, "the restarted app is not healthy yet");
            }
            generation = deploys.inner.next_generation();
            let mut serving = deploys.inner.lock_serving();
            *serving = Some(Serving {
                release,
                process,
                upstream: Arc::clone(&upstream),
                log,
                generation,
            });
            deploys.inner.proxy.switch(Some(upstream));
        }
    });
}

/// After a switch, watches the new release's 5xx rate through the proxy
/// and its health; over the thresholds, rolls back by itself.
fn spawn_watch(deploys: Deploys, generation: u64, run_id: i64) {
    tokio::spawn(async move {
        let Ok(app) = deploys.app_or_err().cloned() else {
            return;
        };
        let spec = app.watch.clone();
        let started = Instant::now();
        let mut failures = 0;
        let tick = app.health.interval.max(Duration::from_millis(200));
        while started.elapsed() < spec.window {
            tokio::time::sleep(tick).await;
            let upstream = {
                let serving = deploys.inner.lock_serving();
                match serving.as_ref() {
                    Some(s) if s.generation == generation => Arc::clone(&s.upstream),
                    _ => return, // replaced: someone else's watch now
                }
            };
            let requests = upstream.requests.load(Ordering::Relaxed);
            let errors = upstream.server_errors.load(Ordering::Relaxed);
            let reason = if requests >= spec.min_requests
                && errors * 100 > u64::from(spec.max_error_percent) * requests
            {
                Some(format!(
                    "{errors} of {requests} requests answered 5xx since the switch (over {}%)",
                    spec.max_error_percent
                ))
            } else {
                match health::check(&upstream, &app.health).await {
                    Ok(()) => {
                        failures = 0;
                        None
                    }
                    Err(error) => {
                        failures += 1;
                        (failures >= spec.health_failures)
                            .then(|| format!("{failures} health checks failed in a row: {error}"))
                    }
                }
            };
            if let Some(reason) = reason {
                tracing::error!(%reason, run = run_id, "the new release went bad; rolling back");
                let who = Requester::system("solo (watch)");
                match rollback(
                    &deploys,
                    None,
                    RunKind::AutoRollback,
                    &who,
                    Some(reason),
                    None,
                )
                .await
                {
                    Ok(run) => {
                        tracing::warn!(version = %run.version, state = run.state.as_str(), "automatic rollback done")
                    }
                    Err(error) => tracing::error!(%error, "the automatic rollback failed"),
                }
                return;
            }
        }
    });
}

/// Removes release directories beyond `keep_releases`, never the serving
/// one or the one before it. Returns how many went.
async fn prune(deploys: &Deploys, app: &AppSpec) -> Result<usize, DeployError> {
    let inner = &deploys.inner;
    let serving = inner
        .lock_serving()
        .as_ref()
        .map(|s| s.release.version.clone());
    let previous = previous_live(deploys, app, serving.as_deref())
        .await?
        .map(|r| r.version);
    let releases = store::releases(&inner.db, &app.name).await?;
    let root = inner.settings.releases_root(&app.name);
    let logs = inner.settings.log_files(&app.name);
    let mut pruned = 0;
    for release in releases
        .iter()
        .filter(|r| !r.pruned)
        .skip(app.keep_releases)
    {
        let protected = Some(&release.version) == serving.as_ref()
            || Some(&release.version) == previous.as_ref();
        if protected {
            continue;
        }
        let dir = root.join(&release.dir);
        let _ = archive::thaw(&dir);
        if let Err(error) = std::fs::remove_dir_all(&dir)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            return Err(DeployError::io(
                format!("cannot remove {}", dir.display()),
                error,
            ));
        }
        let log = crate::logs::log_path(&logs.dir, &release.dir);
        let _ = std::fs::remove_file(&log);
        for n in 1..=logs.keep {
            let _ = std::fs::remove_file(format!("{}.{n}", log.display()));
        }
        store::mark_pruned(&inner.db, release.id, Utc::now()).await?;
        pruned += 1;
    }
    Ok(pruned)
}
