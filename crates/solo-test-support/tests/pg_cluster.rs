//! The harness itself: clusters start, hand out databases, stop, restart
//! and clean up after themselves, including at process exit.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use solo_test_support::pg::PgCluster;

fn psql(cluster: &PgCluster, url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new(cluster.bin_dir().join("psql"))
        .args([url, "-tAc", sql])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The `postmaster.pid` of the cluster listening on `port` (its 4th line is
/// the port), found in the temp dir the harness uses.
fn postmaster_pid_file(port: u16) -> PathBuf {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path().join("data/postmaster.pid"))
        .find(|p| {
            std::fs::read_to_string(p).is_ok_and(|s| s.lines().nth(3) == Some(&port.to_string()))
        })
        .expect("the cluster's postmaster.pid")
}

fn postmaster_pid(pid_file: &Path) -> u32 {
    std::fs::read_to_string(pid_file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Alive and not a zombie (an exited server whose parent has not reaped it
/// yet is gone for our purposes).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

#[test]
fn the_shared_cluster_hands_out_separate_databases() {
    let Some(cluster) =
        PgCluster::shared("pg_cluster::the_shared_cluster_hands_out_separate_databases")
    else {
        return;
    };
    let a = cluster.create_database();
    let b = cluster.create_database();
    assert_ne!(a, b);
    assert_eq!(psql(cluster, &a, "SELECT 1").unwrap(), "1");
    assert_eq!(psql(cluster, &b, "SELECT 1").unwrap(), "1");
    psql(cluster, &a, "CREATE TABLE only_in_a (x int)").unwrap();
    assert_eq!(
        psql(cluster, &a, "SELECT count(*) FROM only_in_a").unwrap(),
        "0"
    );
    assert!(
        psql(cluster, &b, "SELECT count(*) FROM only_in_a").is_err(),
        "databases are separate"
    );
    assert_eq!(
        psql(cluster, &cluster.admin_url(), "SELECT current_user").unwrap(),
        "postgres"
    );
    assert!(cluster.bin_dir().join("pg_dump").is_file());
    let same = PgCluster::shared("again").unwrap();
    assert_eq!(
        same.port(),
        cluster.port(),
        "one shared cluster per process"
    );
}

#[test]
fn a_private_cluster_stops_starts_and_is_removed_when_dropped() {
    let Some(cluster) = PgCluster::start_private(
        "pg_cluster::a_private_cluster_stops_starts_and_is_removed_when_dropped",
    ) else {
        return;
    };
    let url = cluster.create_database();
    psql(&cluster, &url, "CREATE TABLE kept (x int)").unwrap();
    let pid_file = postmaster_pid_file(cluster.port());
    let root = pid_file.parent().unwrap().parent().unwrap().to_owned();

    cluster.stop();
    assert!(psql(&cluster, &url, "SELECT 1").is_err(), "stopped");
    cluster.start();
    assert_eq!(
        psql(&cluster, &url, "SELECT count(*) FROM kept").unwrap(),
        "0",
        "back on the same port with its data"
    );
    cluster.restart();
    assert_eq!(psql(&cluster, &url, "SELECT 1").unwrap(), "1", "restarted");

    let pid = postmaster_pid(&pid_file);
    assert!(running(pid));
    drop(cluster);
    assert!(!root.exists(), "directory removed");
    assert!(!running(pid), "server process gone");
}

const CHILD_ENV: &str = "SOLO_PG_TEST_EXIT_CHILD";

/// Not a test of its own: the body of the child process that
/// `the_shared_cluster_is_torn_down_at_exit` runs. Does nothing otherwise.
#[test]
fn exit_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let cluster = PgCluster::shared("pg_cluster::exit_child").unwrap();
    let url = cluster.create_database();
    assert_eq!(psql(cluster, &url, "SELECT 1").unwrap(), "1");
    let pid_file = postmaster_pid_file(cluster.port());
    println!(
        "CHILD port={} pid={} root={}",
        cluster.port(),
        postmaster_pid(&pid_file),
        pid_file.parent().unwrap().parent().unwrap().display()
    );
}

#[test]
fn the_shared_cluster_is_torn_down_at_exit() {
    // Only to honour the skip rules: the child starts its own shared cluster.
    if PgCluster::shared("pg_cluster::the_shared_cluster_is_torn_down_at_exit").is_none() {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["exit_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        // libtest's "test exit_child ... " precedes it on the same line.
        .find_map(|l| Some(l.split_once("CHILD ")?.1))
        .expect("the child's report line");
    let field = |key: &str| {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .unwrap()
            .to_owned()
    };
    let pid: u32 = field("pid").parse().unwrap();
    let root = PathBuf::from(field("root"));
    assert!(!root.exists(), "the exit hook removed {}", root.display());
    assert!(
        !running(pid),
        "the exit hook stopped the server (pid {pid})"
    );
}
