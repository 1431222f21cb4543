//! Throwaway PostgreSQL clusters for tests, started from the installed server
//! binaries.
//!
//! Why it looks the way it does:
//! - **Template copy.** `initdb` costs a second or more; every test binary
//!   wants a cluster. The first process to need one runs `initdb` once into a
//!   cached template (guarded by a file lock, published by an atomic rename);
//!   every cluster after that is a `cp -a` of it.
//! - **The `postgres` user when root.** PostgreSQL refuses to run as root, so
//!   as root the server binaries run as the `postgres` OS user and the
//!   directories they write are chowned to it. Client tools run as anyone.
//! - **Teardown at exit.** The shared cluster lives as long as the test
//!   process: an `atexit` handler stops it (cargo's test harness leaves
//!   through `exit`, which runs them). Clusters of crashed test processes
//!   are swept by the next one that starts a cluster.
//! - **Loud skips.** Without server binaries the PostgreSQL half of a test
//!   skips with a boxed notice, unless `SOLO_TEST_POSTGRES=require`.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

const DIR_PREFIX: &str = "solo-test-pg-";
const TEMPLATE_PREFIX: &str = "solo-test-pg-template-";

static NEXT_CLUSTER: AtomicU64 = AtomicU64::new(0);
static NEXT_DATABASE: AtomicU64 = AtomicU64::new(0);
static SHARED: OnceLock<Option<PgCluster>> = OnceLock::new();

/// True when `SOLO_TEST_POSTGRES=require`: a missing PostgreSQL fails the
/// test instead of skipping its PostgreSQL half.
pub fn postgres_required() -> bool {
    std::env::var("SOLO_TEST_POSTGRES").is_ok_and(|v| v == "require")
}

/// A running PostgreSQL cluster in its own directory.
#[derive(Debug)]
pub struct PgCluster {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    owner: Option<(u32, u32)>,
    shared: bool,
}

impl PgCluster {
    /// The per-process shared cluster, started on first use and stopped
    /// when the process exits. None (after a loud notice) when PostgreSQL is
    /// missing and not required.
    pub fn shared(test_name: &str) -> Option<&'static PgCluster> {
        let mut noticed = false;
        let cluster = SHARED.get_or_init(|| {
            noticed = true;
            let cluster = PgCluster::launch(test_name, true)?;
            register_exit_hook();
            Some(cluster)
        });
        if cluster.is_none() && !noticed {
            // Found absent by an earlier test: say so for this one too.
            skip_notice(test_name, "no PostgreSQL server binaries were found");
        }
        cluster.as_ref()
    }

    /// A cluster the caller owns, for tests that stop or restart it.
    /// Dropping it stops the server and removes its directory.
    pub fn start_private(test_name: &str) -> Option<PgCluster> {
        PgCluster::launch(test_name, false)
    }

    fn launch(test_name: &str, shared: bool) -> Option<PgCluster> {
        let Some(bin) = find_bin_dir() else {
            skip_notice(test_name, "no PostgreSQL server binaries were found");
            return None;
        };
        sweep_stale_clusters(&bin);
        let owner = server_owner();
        let template = ensure_template(&bin, owner);
        let root = std::env::temp_dir().join(format!(
            "{DIR_PREFIX}{}-{}",
            std::process::id(),
            NEXT_CLUSTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("run")).expect("create the cluster directory");
        set_mode(&root, 0o755);
        copy_dir(&template, &root.join("data"));
        chown_to(&root.join("run"), owner);

        let mut cluster = PgCluster {
            root,
            bin,
            port: 0,
            owner,
            shared,
        };
        let mut last_error = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            match cluster.pg_ctl_start() {
                Ok(()) => return Some(cluster),
                Err(error) => last_error = error,
            }
        }
        let message = format!(
            "PostgreSQL did not start for {test_name}: {last_error}\n--- server log (tail) ---\n{}",
            cluster.log_tail()
        );
        if postgres_required() {
            panic!("{message}");
        }
        skip_notice(test_name, &message);
        None
    }

    /// Creates a fresh database and returns its URL
    /// (`postgres://postgres@127.0.0.1:PORT/NAME`, trust auth).
    pub fn create_database(&self) -> String {
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
        );
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                &name,
            ])
            .output()
            .expect("run createdb");
        assert!(
            out.status.success(),
            "createdb {name} failed: {}",
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

    /// Directory of the server binaries used (pg_dump and friends are there).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// Stops the server (fast shutdown); the data stays for [`start`](Self::start).
    pub fn stop(&self) {
        let out = self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "30"]);
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            describe(&out)
        );
    }

    /// Starts a stopped server again on the same port.
    pub fn start(&self) {
        if let Err(error) = self.pg_ctl_start() {
            panic!("PostgreSQL did not restart: {error}\n{}", self.log_tail());
        }
    }

    pub fn restart(&self) {
        self.stop();
        self.start();
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB",
            port = self.port,
            sock = self.root.join("run").display(),
        );
        let log = self.root.join("run/server.log");
        let out = self.pg_ctl(&[
            "start",
            "-w",
            "-t",
            "30",
            "-l",
            &log.to_string_lossy(),
            "-o",
            &options,
        ]);
        if out.status.success() {
            Ok(())
        } else {
            Err(describe(&out))
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Output {
        let data = self.data_dir();
        let mut command = Command::new(self.bin.join("pg_ctl"));
        command.arg("-D").arg(&data).args(args);
        as_owner(&mut command, self.owner, &self.root);
        command.output().expect("run pg_ctl")
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.root.join("run/server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn teardown(&self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w", "-t", "10"]);
        let _ = fs::remove_dir_all(&self.root);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // The shared cluster lives in a static and is never dropped; the
        // exit hook tears it down.
        if !self.shared {
            self.teardown();
        }
    }
}

extern "C" fn stop_shared_cluster() {
    if let Some(Some(cluster)) = SHARED.get() {
        cluster.teardown();
    }
}

#[allow(unsafe_code)]
fn register_exit_hook() {
    // SAFETY: atexit only records a function pointer; the handler is an
    // `extern "C" fn` with no arguments that does not unwind (every failure
    // in teardown is ignored).
    unsafe {
        libc::atexit(stop_shared_cluster);
    }
}

fn skip_notice(test_name: &str, why: &str) {
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
        "\n{line}\nSKIPPED: PostgreSQL half of {test_name}\n  {why}\n  Install the PostgreSQL server (Debian: apt-get install postgresql) or set\n  SOLO_PG_BIN to its bin directory. SOLO_TEST_POSTGRES=require makes this a failure.\n{line}\n"
    );
}

/// SOLO_PG_BIN, else the newest /usr/lib/postgresql/*/bin, else
/// `pg_config --bindir`, else wherever `initdb` is on PATH.
fn find_bin_dir() -> Option<PathBuf> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(dir) = std::env::var("SOLO_PG_BIN") {
        let dir = PathBuf::from(dir);
        return has_initdb(&dir).then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_initdb(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_initdb(&dir) {
            return Some(dir);
        }
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| has_initdb(dir)))
}

/// As root, the uid and gid of the `postgres` user; otherwise None (run as
/// ourselves).
fn server_owner() -> Option<(u32, u32)> {
    let me = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if me != 0 {
        return None;
    }
    let passwd = fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    let entry = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"postgres"))
        .unwrap_or_else(|| {
            panic!("tests run as root, and PostgreSQL refuses root, but there is no `postgres` user to run it as")
        });
    let uid = entry
        .get(2)
        .and_then(|s| s.parse().ok())
        .expect("postgres uid");
    let gid = entry
        .get(3)
        .and_then(|s| s.parse().ok())
        .expect("postgres gid");
    Some((uid, gid))
}

fn as_owner(command: &mut Command, owner: Option<(u32, u32)>, cwd: &Path) {
    command.current_dir(cwd);
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
}

fn chown_to(path: &Path, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to the postgres user");
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The initdb'd template for this PostgreSQL version, built once per machine.
fn ensure_template(bin: &Path, owner: Option<(u32, u32)>) -> PathBuf {
    let version = bin
        .parent()
        .and_then(|p| p.file_name())
        .map_or_else(|| "pg".to_owned(), |v| v.to_string_lossy().into_owned());
    let me = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    let tmp = std::env::temp_dir();
    let template = tmp.join(format!("{TEMPLATE_PREFIX}{version}-{me}"));
    if template.join("PG_VERSION").is_file() {
        return template;
    }
    let lock_path = tmp.join(format!("{TEMPLATE_PREFIX}{version}-{me}.lock"));
    let lock = fs::File::create(&lock_path).expect("create the template lock");
    lock.lock().expect("lock the template");
    if template.join("PG_VERSION").is_file() {
        return template;
    }
    let building = tmp.join(format!(
        "{TEMPLATE_PREFIX}{version}-{me}.building-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&building);
    fs::create_dir_all(&building).expect("create the template directory");
    chown_to(&building, owner);
    let mut initdb = Command::new(bin.join("initdb"));
    initdb.arg("-D").arg(&building).args([
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
    ]);
    as_owner(&mut initdb, owner, &tmp);
    let out = initdb.output().expect("run initdb");
    if !out.status.success() {
        let _ = fs::remove_dir_all(&building);
        panic!("initdb failed: {}", describe(&out));
    }
    fs::rename(&building, &template).expect("publish the template");
    template
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
        "copying the template failed: {}",
        describe(&out)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("pick a free port")
}

/// Stops and removes clusters left by test processes that no longer run.
fn sweep_stale_clusters(bin: &Path) {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(DIR_PREFIX) else {
            continue;
        };
        if name.starts_with(TEMPLATE_PREFIX) {
            continue;
        }
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let root = entry.path();
        let mut stop = Command::new(bin.join("pg_ctl"));
        stop.arg("-D")
            .arg(root.join("data"))
            .args(["stop", "-m", "immediate", "-w", "-t", "10"]);
        as_owner(&mut stop, server_owner(), &std::env::temp_dir());
        let _ = stop.output();
        let _ = fs::remove_dir_all(&root);
    }
}

fn describe(out: &Output) -> String {
    format!(
        "{} {} {}",
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}
