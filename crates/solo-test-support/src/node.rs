//! Starting `solo` as a real child process, the way an operator would.
//!
//! [`NodeBuilder`] writes a solo.toml and a data directory into a temporary
//! directory, starts `solo up` on `127.0.0.1:0`, and waits for the node's
//! `ready` log line, which carries the address it bound. Every line the node
//! prints is kept, so tests can read its logs.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start a node.
pub struct NodeBuilder {
    bin: PathBuf,
    config: String,
    env: Vec<(String, String)>,
    database_url: Option<String>,
    dir: Option<PathBuf>,
}

impl NodeBuilder {
    /// `bin`: the solo binary (`env!("CARGO_BIN_EXE_solo")` in the solo crate's tests).
    pub fn new(bin: impl AsRef<Path>) -> Self {
        NodeBuilder {
            bin: bin.as_ref().to_owned(),
            config: "version = 1\n".to_owned(),
            env: Vec::new(),
            database_url: None,
            dir: None,
        }
    }

    /// The solo.toml to run with (default: just `version = 1`).
    pub fn config(mut self, toml: &str) -> Self {
        self.config = toml.to_owned();
        self
    }

    /// Runs against this database (passed as SOLO_DATABASE_URL) instead of SQLite.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Uses (and keeps) this directory for solo.toml and `.solo/`, e.g. to
    /// restart a node on the same data.
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Starts the node and waits until it is ready; panics with its logs if
    /// it exits or is not ready in time.
    pub fn spawn(self) -> SoloNode {
        let (temp, dir) = match &self.dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let temp = tempfile::tempdir().expect("temp dir for a node");
                let dir = temp.path().to_owned();
                (Some(temp), dir)
            }
        };
        std::fs::create_dir_all(&dir).expect("node dir");
        let config_path = dir.join("solo.toml");
        std::fs::write(&config_path, &self.config).expect("write solo.toml");

        let mut command = Command::new(&self.bin);
        command
            .arg("up")
            .arg("--config")
            .arg(&config_path)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .current_dir(&dir)
            .env_remove("SOLO_CONFIG")
            .env_remove("SOLO_LISTEN")
            .env_remove("SOLO_DATA_DIR")
            .env_remove("SOLO_DATABASE_URL")
            .env_remove("SOLO_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = &self.database_url {
            command.env("SOLO_DATABASE_URL", url);
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start the solo binary");

        let logs = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel::<SocketAddr>();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        collect(stdout, logs.clone(), Some(ready_tx));
        collect(stderr, logs.clone(), None);

        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = loop {
            match ready_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => break addr,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = child.wait();
                    panic!(
                        "solo exited before it was ready:\n{}",
                        logs.lock().expect("logs").clone()
                    );
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "solo exited ({status}) before it was ready:\n{}",
                    logs.lock().expect("logs").clone()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "solo was not ready within {READY_TIMEOUT:?}:\n{}",
                    logs.lock().expect("logs").clone()
                );
            }
        };
        SoloNode {
            child,
            addr,
            logs,
            dir,
            _temp: temp,
        }
    }
}

/// Reads a child's output line by line into `logs`; on stdout, reports the
/// address from the `ready` line.
fn collect(
    stream: impl Read + Send + 'static,
    logs: Arc<Mutex<String>>,
    ready: Option<mpsc::Sender<SocketAddr>>,
) {
    std::thread::spawn(move || {
        let reader = BufReader::new(stream);
        for line in reader.lines() {
            let Ok(line) = line else { break };
            let addr = ready.as_ref().and_then(|_| ready_addr(&line));
            {
                // The line is in the logs before anyone hears "ready", so a
                // test can read it straight after spawn().
                let mut logs = logs.lock().expect("logs");
                logs.push_str(&line);
                logs.push('\n');
            }
            if let (Some(tx), Some(addr)) = (&ready, addr) {
                let _ = tx.send(addr);
            }
        }
    });
}

fn ready_addr(line: &str) -> Option<SocketAddr> {
    // {"ts":…,"msg":"ready","addr":"127.0.0.1:PORT",…}; no JSON parser needed
    // for one known field.
    if !line.contains("\"msg\":\"ready\"") {
        return None;
    }
    let start = line.find("\"addr\":\"")? + "\"addr\":\"".len();
    let end = start + line[start..].find('"')?;
    line[start..end].parse().ok()
}

/// A running `solo up`. Killed (SIGKILL) when dropped, if still running.
pub struct SoloNode {
    child: Child,
    addr: SocketAddr,
    logs: Arc<Mutex<String>>,
    dir: PathBuf,
    _temp: Option<TempDir>,
}

impl SoloNode {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The directory holding solo.toml and `.solo/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The API token the node wrote for the CLI on its machine
    /// (`.solo/local-token`, role viewer).
    pub fn local_token(&self) -> String {
        let path = self.dir.join(".solo").join("local-token");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .trim()
            .to_owned()
    }

    /// Everything the node printed so far (stdout and stderr).
    pub fn logs(&self) -> String {
        self.logs.lock().expect("logs").clone()
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg("-s")
            .arg(name)
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Waits for the node to exit; panics with its logs after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("solo did not exit within {timeout:?}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SoloNode {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ready_line() {
        let line = r#"{"ts":"t","level":"info","target":"solo::node","addr":"127.0.0.1:4321","msg":"ready"}"#;
        assert_eq!(ready_addr(line), Some("127.0.0.1:4321".parse().unwrap()));
        assert_eq!(
            ready_addr(r#"{"msg":"request","addr":"127.0.0.1:1"}"#),
            None
        );
    }
}
