//! A release's process: `sh -c <start>` in the release directory, on a
//! port of its own, in a process group of its own (so stopping it stops
//! whatever it started), its output captured. A pid file per running
//! release lets a restarted solo clear what a killed one left behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::watch;

use crate::DeployError;
use crate::logs::ReleaseLog;

/// What starting a release needs.
pub(crate) struct StartSpec<'a> {
    pub command: &'a str,
    pub dir: &'a Path,
    pub env: &'a BTreeMap<String, String>,
    pub port: u16,
    pub version: &'a str,
    pub pid_file: PathBuf,
    pub log: &'a ReleaseLog,
}

/// A running (or exited) release process.
pub(crate) struct AppProcess {
    pub(crate) pid: i32,
    pub(crate) port: u16,
    exited: watch::Receiver<Option<String>>,
    pid_file: PathBuf,
}

impl AppProcess {
    pub(crate) fn spawn(spec: StartSpec<'_>) -> Result<Self, DeployError> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(spec.command)
            .current_dir(spec.dir)
            .env_clear()
            // solo's own settings (a database URL with its password, the
            // signing secret) are not the app's business.
            .envs(std::env::vars().filter(|(name, _)| !name.starts_with("SOLO_")))
            .envs(spec.env)
            .env("PORT", spec.port.to_string())
            .env("SOLO_RELEASE", spec.version)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        let mut child = command
            .spawn()
            .map_err(|e| DeployError::io(format!("cannot run `{}`", spec.command), e))?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .ok_or_else(|| DeployError::Io("the app exited before it could be watched".into()))?;
        if let Some(stdout) = child.stdout.take() {
            spec.log.capture(stdout, "out");
        }
        if let Some(stderr) = child.stderr.take() {
            spec.log.capture(stderr, "err");
        }
        if let Err(error) = std::fs::write(&spec.pid_file, pid.to_string()) {
            tracing::warn!(%error, path = %spec.pid_file.display(), "cannot write the pid file");
        }
        spec.log.note(&format!(
            "started `{}` as pid {pid} on port {}",
            spec.command, spec.port
        ));
        let (tx, exited) = watch::channel(None);
        let log = spec.log.clone();
        tokio::spawn(async move {
            let how = match child.wait().await {
                Ok(status) => describe(status),
                Err(error) => format!("could not be waited for: {error}"),
            };
            // Whatever the app started and left behind goes with it.
            signal_group(pid, libc::SIGKILL);
            log.note(&format!("exited: {how}"));
            let _ = tx.send(Some(how));
        });
        Ok(AppProcess {
            pid,
            port: spec.port,
            exited,
            pid_file: spec.pid_file,
        })
    }

    /// How it exited, once it has.
    pub(crate) fn exit_status(&self) -> Option<String> {
        self.exited.borrow().clone()
    }

    /// Resolves when the process has exited, with how.
    pub(crate) async fn wait_exit(&self) -> String {
        let mut exited = self.exited.clone();
        loop {
            if let Some(how) = exited.borrow_and_update().clone() {
                return how;
            }
            if exited.changed().await.is_err() {
                return "gone".into();
            }
        }
    }

    /// SIGTERM to the group, then SIGKILL after `grace`.
    pub(crate) async fn stop(&self, grace: Duration) {
        if self.exit_status().is_none() {
            signal_group(self.pid, libc::SIGTERM);
            if tokio::time::timeout(grace, self.wait_exit()).await.is_err() {
                tracing::warn!(pid = self.pid, "the release ignored SIGTERM; killing it");
                signal_group(self.pid, libc::SIGKILL);
                let _ = tokio::time::timeout(Duration::from_secs(5), self.wait_exit()).await;
            }
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".into(),
    }
}

#[allow(unsafe_code)]
fn signal_group(group: i32, signal: libc::c_int) {
    if group <= 1 {
        return;
    }
    // SAFETY: kill(2) takes two integers and touches none of our memory;
    // the group is a release's own (`process_group(0)`).
    unsafe {
        libc::kill(-group, signal);
    }
}

/// Kills the process groups a previous solo left running (after `kill -9`
/// its releases outlive it): every pid file in `pid_dir` whose process
/// still works inside `releases_root`. Returns how many were stopped.
pub(crate) async fn clear_leftovers(pid_dir: &Path, releases_root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(pid_dir) else {
        return 0;
    };
    let mut stopped = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "pid") {
            continue;
        }
        let pid = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok());
        let _ = std::fs::remove_file(&path);
        let Some(pid) = pid else { continue };
        // A pid can be reused: only a process whose working directory is
        // one of our releases is ours.
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"));
        if cwd.is_ok_and(|cwd| cwd.starts_with(releases_root)) {
            signal_group(pid, libc::SIGTERM);
            for _ in 0..50 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            signal_group(pid, libc::SIGKILL);
            stopped += 1;
        }
    }
    stopped
}

/// A port nobody listens on now, for the next release.
pub(crate) fn free_port() -> Result<u16, DeployError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| DeployError::io("cannot find a free port", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| DeployError::io("cannot find a free port", e))
}
