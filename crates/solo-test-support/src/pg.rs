//! Throwaway PostgreSQL clusters for tests, started from the installed server
//! binaries.
//!
//! Why it looks the way it does:
//! - **Template copy.** `initdb` costs a second or more, and every test binary
//!   wants a cluster. The first process to need one runs `initdb` once into a
//!   cached template (guarded by a file lock, published by an atomic rename);
//!   every cluster after that is a `cp -a` of it.
//! - **The `postgres` user when root.** PostgreSQL refuses to run as root, so
//!   as root the server binaries run as the `postgres` OS user and the
//!   directories they write are chowned to it. Client tools run as anyone.
//! - **Teardown at exit.** The shared cluster lives in a static, which Rust
//!   never drops, so an `atexit` handler stops it and removes its directory
//!   (cargo's test harness leaves through `exit`, which runs them). Clusters
//!   of test processes that died without exiting (SIGKILL, Ctrl-C) are swept
//!   by the next process that starts a cluster.
//! - **Loud skips.** Without server binaries the PostgreSQL half of a test
//!   skips with a boxed notice, unless `SOLO_TEST_POSTGRES=require`.

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use tempfile::TempDir;

/// Cluster directories are `solo-test-pg-<pid>-<n>-<random>` in the temp dir;
/// the pid is what the stale sweep keys on.
const DIR_PREFIX: &str = "solo-test-pg-";
const TEMPLATE_PREFIX: &str = "solo-test-pg-template-";
/// Attempts at starting on a fresh port before giving up.
const START_ATTEMPTS: usize = 5;
const LOG_TAIL_LINES: usize = 30;

static NEXT_CLUSTER: AtomicU64 = AtomicU64::new(0);
static NEXT_DATABASE: AtomicU64 = AtomicU64::new(0);
/// The shared cluster, or why there is none (so every test that asks says
/// the real reason, and a failing start is not retried by each test).
static SHARED: OnceLock<Result<PgCluster, String>> = OnceLock::new();

/// How the suite treats a machine without PostgreSQL server binaries.
/// `SOLO_TEST_POSTGRES=require`: missing binaries, or a cluster that fails
/// to start, is a panic with a clear message. Otherwise the PostgreSQL half
/// of a test skips, printing a loud notice to stderr.
pub fn postgres_required() -> bool {
    std::env::var("SOLO_TEST_POSTGRES").is_ok_and(|v| v == "require")
}

/// A running PostgreSQL cluster in its own temporary directory, with trust
/// auth on 127.0.0.1 and the superuser `postgres`.
#[derive(Debug)]
pub struct PgCluster {
    /// Holds `data/`, `sock/` and `server.log`.
    root: TempDir,
    bin: PathBuf,
    port: u16,
    /// Who the server runs as: the `postgres` user when we are root.
    owner: Option<(u32, u32)>,
    /// The shared cluster is torn down by the exit hook, not by Drop.
    shared: bool,
}

impl PgCluster {
    /// The per-process shared cluster, started on first use and stopped
    /// (its directory removed) when the process exits. None, after a loud
    /// notice, when PostgreSQL is unavailable and not required; `test_name`
    /// is only used in that notice.
    pub fn shared(test_name: &str) -> Option<&'static PgCluster> {
        let shared = SHARED.get_or_init(|| {
            let mut cluster = PgCluster::launch()?;
            cluster.shared = true;
            register_exit_hook();
            Ok(cluster)
        });
        match shared {
            Ok(cluster) => Some(cluster),
            Err(why) => unavailable(test_name, why),
        }
    }

    /// A private cluster the caller owns, for destructive tests (stop,
    /// restart). Dropping it stops the server (immediate shutdown) and
    /// removes its directory. Same None/panic rules as [`shared`](Self::shared).
    pub fn start_private(test_name: &str) -> Option<PgCluster> {
        match PgCluster::launch() {
            Ok(cluster) => Some(cluster),
            Err(why) => unavailable(test_name, &why),
        }
    }

    /// Finds the binaries, copies the template and starts a server; Err is
    /// the reason there is no cluster, for the notice.
    fn launch() -> Result<PgCluster, String> {
        let bin = find_bin_dir()?;
        let owner = server_owner()?;
        sweep_stale_clusters(&bin, owner);
        let template = ensure_template(&bin, owner)?;

        let root = tempfile::Builder::new()
            .prefix(&format!(
                "{DIR_PREFIX}{}-{}-",
                std::process::id(),
                NEXT_CLUSTER.fetch_add(1, Ordering::Relaxed)
            ))
            .tempdir_in(std::env::temp_dir())
            .expect("create a cluster directory in the temp dir");
        copy_dir(&template, &root.path().join("data"));
        fs::create_dir(root.path().join("sock")).expect("create the socket directory");
        chown_to(&root.path().join("sock"), owner);
        chown_to(root.path(), owner);

        // Not `shared` yet: a cluster that fails to start is torn down by
        // Drop like a private one.
        let mut cluster = PgCluster {
            root,
            bin,
            port: 0,
            owner,
            shared: false,
        };
        let mut attempt = 1;
        loop {
            cluster.port = free_port();
            let log_before = cluster.log().len();
            let error = match cluster.pg_ctl_start() {
                Ok(()) => return Ok(cluster),
                Err(error) => error,
            };
            // Another process may take the port between our probe and the
            // server's bind: then, and only then, try a new port.
            let log = cluster.log();
            let port_taken = log.get(log_before..).is_some_and(|new| {
                new.contains("Address already in use")
                    || new.contains("could not create any TCP/IP sockets")
            });
            if !port_taken || attempt == START_ATTEMPTS {
                return Err(format!(
                    "the server did not start (attempt {attempt}, binaries in {bin}): {error}\n\
                     --- server log (tail) ---\n{tail}\n\
                     (if this persists, delete the template {template})",
                    bin = cluster.bin.display(),
                    tail = cluster.log_tail(),
                    template = template.display(),
                ));
            }
            attempt += 1;
        }
    }

    /// Creates a fresh, uniquely named database and returns its URL,
    /// `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn create_database(&self) -> String {
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
        );
        let out = pg_command(&self.bin.join("createdb"))
            .args(["--no-password", "-h", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .args(["-U", "postgres", &name])
            .output()
            .expect("run createdb");
        assert!(
            out.status.success(),
            "createdb {name} on port {} failed: {}",
            self.port,
            describe(&out)
        );
        self.url_for(&name)
    }

    /// URL of the `postgres` maintenance database.
    pub fn admin_url(&self) -> String {
        self.url_for("postgres")
    }

    fn url_for(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `pg_ctl stop -m fast`, waiting for the server to go. The data stays;
    /// [`start`](Self::start) brings it back on the same port.
    pub fn stop(&self) {
        let out = self
            .pg_ctl(&["stop", "-m", "fast", "-w", "-t", "30"])
            .expect("run pg_ctl stop");
        assert!(
            out.status.success(),
            "pg_ctl stop (port {}) failed: {}",
            self.port,
            describe(&out)
        );
    }

    /// Starts a stopped server again, on the same port.
    pub fn start(&self) {
        if let Err(error) = self.pg_ctl_start() {
            panic!(
                "PostgreSQL did not start again on port {}: {error}\n--- tail of {} ---\n{}",
                self.port,
                self.log_file().display(),
                self.log_tail(),
            );
        }
    }

    pub fn restart(&self) {
        self.stop();
        self.start();
    }

    /// Directory holding the server binaries that were used (pg_dump, psql
    /// and friends are there too).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.root.path().join("server.log")
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
             -c shared_buffers=32MB",
            port = self.port,
            sock = self.root.path().join("sock").display(),
        );
        let log = self.log_file();
        let out = self
            .pg_ctl(&[
                OsStr::new("start"),
                OsStr::new("-w"),
                OsStr::new("-t"),
                OsStr::new("30"),
                OsStr::new("-l"),
                log.as_os_str(),
                OsStr::new("-o"),
                OsStr::new(&options),
            ])
            .map_err(|e| format!("could not run pg_ctl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(describe(&out))
        }
    }

    fn pg_ctl<S: AsRef<OsStr>>(&self, args: &[S]) -> std::io::Result<Output> {
        pg_ctl(&self.bin, &self.data_dir(), self.owner, args)
    }

    /// The server log so far ("" before the first start).
    fn log(&self) -> String {
        fs::read(self.log_file())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        if log.is_empty() {
            return "(empty)".to_owned();
        }
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// Stops the server at once and removes the directory. Never panics: it
    /// runs in Drop and in the exit hook.
    fn teardown(&self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w", "-t", "10"]);
        let _ = fs::remove_dir_all(self.root.path());
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // The shared cluster lives in a static and is never dropped; the exit
        // hook tears it down. (TempDir's own Drop then finds nothing left.)
        if !self.shared {
            self.teardown();
        }
    }
}

extern "C" fn stop_shared_cluster() {
    if let Some(Ok(cluster)) = SHARED.get() {
        cluster.teardown();
    }
}

#[allow(unsafe_code)]
fn register_exit_hook() {
    // SAFETY: atexit only records a function pointer. The handler is an
    // `extern "C" fn()` that takes no arguments and cannot unwind: teardown
    // ignores every error instead of panicking.
    let registered = unsafe { libc::atexit(stop_shared_cluster) };
    assert_eq!(registered, 0, "atexit refused the cluster teardown hook");
}

/// The answer when there is no cluster: a panic under
/// `SOLO_TEST_POSTGRES=require`, else a loud notice and None.
fn unavailable<T>(test_name: &str, why: &str) -> Option<T> {
    if postgres_required() {
        panic!(
            "SOLO_TEST_POSTGRES=require, but the PostgreSQL half of {test_name} cannot run: {why}"
        );
    }
    let line = "=".repeat(78);
    // Straight to the stderr handle: libtest captures `eprintln!` of passing
    // tests, and a skip nobody sees is not a loud skip.
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n{line}\nSKIPPED: PostgreSQL half of {test_name}\n  {why}\n  \
         Install the PostgreSQL server (Debian: apt-get install postgresql) or set\n  \
         SOLO_PG_BIN to its bin directory. SOLO_TEST_POSTGRES=require makes this a failure.\n{line}\n"
    );
    None
}

/// SOLO_PG_BIN, else the newest /usr/lib/postgresql/*/bin, else
/// `pg_config --bindir`, else wherever `initdb` is on PATH.
fn find_bin_dir() -> Result<PathBuf, String> {
    let usable = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("SOLO_PG_BIN") {
        let dir = PathBuf::from(dir);
        return if usable(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "SOLO_PG_BIN={} has no initdb and pg_ctl",
                dir.display()
            ))
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            usable(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if usable(&dir) {
            return Ok(dir);
        }
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| usable(dir)))
        .ok_or_else(|| "no PostgreSQL server binaries were found (no initdb)".to_owned())
}

/// Our effective uid, without unsafe: /proc/self belongs to it.
fn effective_uid() -> u32 {
    fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// As root, the uid and gid of the `postgres` user (read from /etc/passwd);
/// otherwise None: the server runs as ourselves.
fn server_owner() -> Result<Option<(u32, u32)>, String> {
    if effective_uid() != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"postgres"))
        .and_then(|fields| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
        .map(Some)
        .ok_or_else(|| {
            "running as root, which PostgreSQL refuses, and there is no `postgres` user \
             in /etc/passwd to run the server as"
                .to_owned()
        })
}

/// A command for a PostgreSQL program with the caller's `PG*` variables
/// removed, so PGSSLMODE, PGSERVICE, PGOPTIONS, PGDATA… cannot redirect it.
fn pg_command(program: &Path) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("PG")) {
            command.env_remove(key);
        }
    }
    command
}

/// A server-side command (initdb, pg_ctl), run as `owner` when given, from a
/// directory that user can enter.
fn server_command(program: &Path, owner: Option<(u32, u32)>) -> Command {
    let mut command = pg_command(program);
    command.current_dir("/");
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    command
}

fn pg_ctl<S: AsRef<OsStr>>(
    bin: &Path,
    data: &Path,
    owner: Option<(u32, u32)>,
    args: &[S],
) -> std::io::Result<Output> {
    server_command(&bin.join("pg_ctl"), owner)
        .arg("-D")
        .arg(data)
        .args(args)
        .output()
}

fn chown_to(path: &Path, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("chown {} to the postgres user: {e}", path.display()));
    }
}

/// The major version of the binaries in `bin` ("15"; "9.6" before 10), for
/// naming the template.
fn major_version(bin: &Path) -> Option<String> {
    let out = pg_command(&bin.join("pg_ctl"))
        .arg("--version")
        .output()
        .ok()?;
    // "pg_ctl (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let version = text.split_whitespace().nth(2)?;
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().filter(|m| !m.is_empty())?;
    Some(match (major, parts.next()) {
        ("9", Some(minor)) => format!("9.{minor}"),
        _ => major.to_owned(),
    })
}

/// The initdb'd template for this PostgreSQL major version and runner uid,
/// built once per machine. Never modified after its atomic publication, so
/// readers copy it without the lock.
fn ensure_template(bin: &Path, owner: Option<(u32, u32)>) -> Result<PathBuf, String> {
    let version = major_version(bin)
        .ok_or_else(|| format!("`{}/pg_ctl --version` said nothing usable", bin.display()))?;
    let tmp = std::env::temp_dir();
    let name = format!("{TEMPLATE_PREFIX}{version}-{}", effective_uid());
    let template = tmp.join(&name);
    let ready = |t: &Path| t.join("PG_VERSION").is_file() && t.join("global").is_dir();
    if ready(&template) {
        return Ok(template);
    }

    // One builder at a time across processes; the others wait here and then
    // find the template ready. The lock is released when `lock` is dropped
    // (or the process dies).
    let lock = fs::File::create(tmp.join(format!("{name}.lock")))
        .map_err(|e| format!("create the template lock: {e}"))?;
    lock.lock()
        .map_err(|e| format!("lock the template lock: {e}"))?;
    if ready(&template) {
        return Ok(template);
    }
    // Whoever left these died mid-build (builders hold the lock), and so
    // did whoever left a template without PG_VERSION.
    let building_prefix = format!("{name}.building-");
    for entry in fs::read_dir(&tmp).into_iter().flatten().flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&building_prefix))
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    let _ = fs::remove_dir_all(&template);

    let building = tmp.join(format!("{building_prefix}{}", std::process::id()));
    fs::create_dir(&building).map_err(|e| format!("create {}: {e}", building.display()))?;
    chown_to(&building, owner);
    let out = server_command(&bin.join("initdb"), owner)
        .arg("-D")
        .arg(&building)
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .output()
        .map_err(|e| format!("run initdb: {e}"))?;
    if !out.status.success() {
        let _ = fs::remove_dir_all(&building);
        return Err(format!("initdb failed: {}", describe(&out)));
    }
    fs::rename(&building, &template).map_err(|e| format!("publish the template: {e}"))?;
    Ok(template)
}

fn copy_dir(from: &Path, to: &Path) {
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .expect("run cp");
    assert!(
        out.status.success(),
        "copying the template {} failed: {}",
        from.display(),
        describe(&out)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("pick a free port on 127.0.0.1")
}

/// Stops and removes clusters left by test processes that no longer run.
/// Never touches the template (its own prefix), our own clusters, or those
/// of live processes.
fn sweep_stale_clusters(bin: &Path, owner: Option<(u32, u32)>) {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        if name.starts_with(TEMPLATE_PREFIX) {
            continue;
        }
        let Some(rest) = name.strip_prefix(DIR_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let root = entry.path();
        let data = root.join("data");
        if postmaster_running_in(&data) {
            let _ = pg_ctl(
                bin,
                &data,
                owner,
                &["stop", "-m", "immediate", "-w", "-t", "10"],
            );
        }
        let _ = fs::remove_dir_all(&root);
    }
}

/// Whether the pid in `data/postmaster.pid` is a postmaster serving `data`.
/// A postmaster works from its data directory, so its cwd tells; a dead
/// server's pid, reused by an unrelated process, fails the check and is left
/// alone (pg_ctl would signal it regardless).
fn postmaster_running_in(data: &Path) -> bool {
    let Some(pid) = fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next()?.trim().parse::<u32>().ok())
    else {
        return false;
    };
    match (
        fs::read_link(format!("/proc/{pid}/cwd")),
        fs::canonicalize(data),
    ) {
        (Ok(cwd), Ok(data)) => cwd == data,
        _ => false,
    }
}

fn describe(out: &Output) -> String {
    format!(
        "{}; stdout: {}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}
