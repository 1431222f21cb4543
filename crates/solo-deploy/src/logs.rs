//! The app's stdout and stderr, kept per release in
//! `<data dir>/logs/<app>/<release dir>.log`: one line per line written,
//! stamped and tagged `out`/`err`, secret values redacted before they
//! touch the disk, rotated by size (`.log.1`, `.log.2`, …). The last lines
//! also stay in memory, for a failed deploy's report.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{SecondsFormat, Utc};
use solo_observe::Redactor;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

/// Lines kept in memory per release.
const TAIL_LINES: usize = 40;
/// Longest line kept; the rest is cut (a binary dump is not a log).
const MAX_LINE: usize = 16 * 1024;

/// Where and how much of the app's output is kept.
#[derive(Debug, Clone)]
pub struct LogFiles {
    /// `<data dir>/logs/<app>`
    pub dir: PathBuf,
    /// A file is rotated past this size.
    pub max_bytes: u64,
    /// Rotated files kept besides the live one.
    pub keep: u32,
}

/// The file a release's output goes to.
pub fn log_path(dir: &Path, release_dir: &str) -> PathBuf {
    dir.join(format!("{release_dir}.log"))
}

/// The output of one running release.
#[derive(Clone)]
pub(crate) struct ReleaseLog {
    tail: Arc<Mutex<VecDeque<String>>>,
    lines: mpsc::UnboundedSender<String>,
}

impl ReleaseLog {
    /// Starts the writer task for `release_dir`'s file.
    pub(crate) fn open(files: &LogFiles, release_dir: &str, redactor: Redactor) -> Self {
        let (lines, mut rx) = mpsc::unbounded_channel::<String>();
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let path = log_path(&files.dir, release_dir);
        let files = files.clone();
        let kept = Arc::clone(&tail);
        tokio::task::spawn_blocking(move || {
            if let Err(error) = std::fs::create_dir_all(&files.dir) {
                tracing::warn!(%error, dir = %files.dir.display(), "cannot create the log directory");
            }
            let mut writer = Rotating::new(path, files.max_bytes, files.keep);
            while let Some(line) = rx.blocking_recv() {
                let line = redactor.text(&line);
                {
                    let mut tail = match kept.lock() {
                        Ok(guard) => guard,
                        Err(poisoned) => poisoned.into_inner(),
                    };
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line.clone());
                }
                writer.write_line(&line);
            }
        });
        ReleaseLog { tail, lines }
    }

    /// A line from solo itself about this release (started, exited, …).
    pub(crate) fn note(&self, text: &str) {
        let _ = self.lines.send(stamp("solo", text));
    }

    /// Copies `stream` line by line into the log until it closes.
    pub(crate) fn capture<R: AsyncRead + Unpin + Send + 'static>(
        &self,
        stream: R,
        tag: &'static str,
    ) {
        let lines = self.lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let end = buf.len().min(MAX_LINE);
                        let text = String::from_utf8_lossy(&buf[..end]);
                        let text = text.trim_end_matches(['\n', '\r']);
                        if lines.send(stamp(tag, text)).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }

    /// The last lines written, oldest first.
    pub(crate) fn tail(&self) -> Vec<String> {
        match self.tail.lock() {
            Ok(guard) => guard.iter().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().iter().cloned().collect(),
        }
    }
}

fn stamp(tag: &str, text: &str) -> String {
    format!(
        "{} {tag} {text}",
        Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

/// An append-only file that moves aside when it grows past its size.
struct Rotating {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    file: Option<std::fs::File>,
    written: u64,
}

impl Rotating {
    fn new(path: PathBuf, max_bytes: u64, keep: u32) -> Self {
        Rotating {
            path,
            max_bytes,
            keep,
            file: None,
            written: 0,
        }
    }

    fn write_line(&mut self, line: &str) {
        if self.file.is_none() {
            self.open();
        }
        if self.written + line.len() as u64 + 1 > self.max_bytes && self.written > 0 {
            self.rotate();
        }
        if let Some(file) = self.file.as_mut()
            && writeln!(file, "{line}").is_ok()
        {
            self.written += line.len() as u64 + 1;
        }
    }

    fn open(&mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
        {
            Ok(file) => {
                self.written = file.metadata().map(|m| m.len()).unwrap_or(0);
                self.file = Some(file);
            }
            Err(error) => {
                tracing::warn!(%error, path = %self.path.display(), "cannot open the app's log file");
            }
        }
    }

    fn rotate(&mut self) {
        self.file = None;
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        let _ = std::fs::remove_file(numbered(self.keep.max(1)));
        for n in (1..self.keep.max(1)).rev() {
            let _ = std::fs::rename(numbered(n), numbered(n + 1));
        }
        let _ = std::fs::rename(&self.path, numbered(1));
        self.written = 0;
        self.open();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_past_its_size_moves_aside_and_only_keep_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.log");
        let mut log = Rotating::new(path.clone(), 100, 2);
        for n in 0..20 {
            log.write_line(&format!("line {n:02} ........................"));
        }
        let live = std::fs::read_to_string(&path).unwrap();
        assert!(live.len() <= 100, "{live}");
        assert!(live.contains("line 19"));
        assert!(dir.path().join("v1.log.1").exists());
        assert!(dir.path().join("v1.log.2").exists());
        assert!(
            !dir.path().join("v1.log.3").exists(),
            "only `keep` rotated files"
        );
    }
}
