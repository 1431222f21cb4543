//! `deliver = "command"`: each job runs a command (no shell) with the
//! payload on stdin and the job's fields in the environment; exit 0
//! completes it. Its output is kept with the attempt.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::excerpt;
use crate::{Handler, Job, Outcome};

/// The command a queue's jobs run.
#[derive(Debug, Clone)]
pub struct CommandDelivery {
    pub program: String,
    pub args: Vec<String>,
    pub timeout: Duration,
    /// Where it runs (solo.toml's directory).
    pub working_dir: Option<PathBuf>,
    /// Extra variables.
    pub env: Vec<(String, String)>,
}

/// Output kept per stream; the rest is read and dropped so a chatty
/// command never blocks on a full pipe.
const KEPT_OUTPUT: usize = 64 * 1024;

impl CommandDelivery {
    pub(crate) fn handler(self) -> Handler {
        let delivery = Arc::new(self);
        Arc::new(move |job: Job| {
            let delivery = Arc::clone(&delivery);
            Box::pin(async move { delivery.run(&job).await })
        })
    }

    async fn run(&self, job: &Job) -> Outcome {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env("SOLO_JOB_ID", job.id.to_string())
            .env("SOLO_JOB_QUEUE", &job.queue)
            .env("SOLO_JOB_KIND", &job.kind)
            .env("SOLO_JOB_ATTEMPT", job.attempt.to_string())
            .env("SOLO_JOB_MAX_ATTEMPTS", job.max_attempts.to_string())
            .env("SOLO_JOB_TAGS", job.tags.join(","))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a time-out kills what it started
            // too (a `sh -c` script's children), not just the command.
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &self.working_dir {
            command.current_dir(dir);
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                return Outcome::Failed(format!("could not start `{}`: {e}", self.program));
            }
        };
        // Declared after `child`, so dropped before it: a time-out, or a
        // worker cut off at shutdown, leaves no process behind.
        let mut group = child.id().map(ProcessGroup);
        let payload = job.payload.to_string();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let feed = async move {
            if let Some(mut stdin) = stdin {
                // A command that does not read its input closes the pipe:
                // that is its business, not an error.
                let _ = stdin.write_all(payload.as_bytes()).await;
                let _ = stdin.write_all(b"\n").await;
            }
        };
        let finished = tokio::time::timeout(self.timeout, async {
            let ((), out, err, status) =
                tokio::join!(feed, drain(stdout), drain(stderr), child.wait());
            (out, err, status)
        })
        .await;
        let Ok((stdout, stderr, status)) = finished else {
            // `group` is dropped on return: the processes are killed.
            return Outcome::Failed(format!(
                "timed out after {:?}: the command was killed",
                self.timeout
            ));
        };
        // It finished: what it started in the background is its business.
        if let Some(group) = group.as_mut() {
            group.disarm();
        }
        let output = combined(&stdout, &stderr);
        match status {
            Ok(status) if status.success() => Outcome::Completed(output),
            Ok(status) => {
                let code = status.code().map_or_else(
                    || "killed by a signal".to_owned(),
                    |c| format!("exit status {c}"),
                );
                Outcome::Failed(if output.is_empty() {
                    code
                } else {
                    format!("{code}\n{output}")
                })
            }
            Err(e) => Outcome::Failed(format!("waiting for `{}` failed: {e}", self.program)),
        }
    }
}

/// A command's process group, killed when dropped unless disarmed.
struct ProcessGroup(u32);

impl ProcessGroup {
    fn disarm(&mut self) {
        self.0 = 0;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let Ok(group) = libc::pid_t::try_from(self.0) else {
            return;
        };
        if group > 1 {
            kill_group(group);
        }
    }
}

#[allow(unsafe_code)]
fn kill_group(group: libc::pid_t) {
    // SAFETY: kill(2) takes two integers and touches none of our memory.
    // The group is the command's own (`process_group(0)`), not yet reaped.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// Reads a stream to its end, keeping at most [`KEPT_OUTPUT`] bytes (the
/// start and the end).
async fn drain(stream: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut stream) = stream else {
        return String::new();
    };
    let mut head = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n;
                if head.len() < KEPT_OUTPUT / 2 {
                    let room = KEPT_OUTPUT / 2 - head.len();
                    head.extend_from_slice(&chunk[..n.min(room)]);
                    tail.extend_from_slice(&chunk[n.min(room)..n]);
                } else {
                    tail.extend_from_slice(&chunk[..n]);
                }
                if tail.len() > KEPT_OUTPUT {
                    tail.drain(..tail.len() - KEPT_OUTPUT / 2);
                }
            }
        }
    }
    if tail.len() > KEPT_OUTPUT / 2 {
        tail.drain(..tail.len() - KEPT_OUTPUT / 2);
    }
    let kept = head.len() + tail.len();
    let mut text = String::from_utf8_lossy(&head).into_owned();
    if total > kept {
        text.push_str(&format!("\n… [{} bytes cut] …\n", total - kept));
    }
    text.push_str(&String::from_utf8_lossy(&tail));
    excerpt(&text, KEPT_OUTPUT + 64)
}

fn combined(stdout: &str, stderr: &str) -> String {
    match (stdout.trim_end().is_empty(), stderr.trim_end().is_empty()) {
        (_, true) => stdout.trim_end().to_owned(),
        (true, false) => stderr.trim_end().to_owned(),
        (false, false) => format!(
            "{}\n--- stderr ---\n{}",
            stdout.trim_end(),
            stderr.trim_end()
        ),
    }
}
