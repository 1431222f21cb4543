//! The harness itself: clusters start, hand out databases, stop, restart
//! and clean up after themselves.
#![allow(clippy::unwrap_used)]

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
    psql(cluster, &a, "CREATE TABLE only_in_a (x int)").unwrap();
    assert_eq!(
        psql(cluster, &a, "SELECT count(*) FROM only_in_a").unwrap(),
        "0"
    );
    assert!(
        psql(cluster, &b, "SELECT count(*) FROM only_in_a").is_err(),
        "databases are separate"
    );
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
    assert_eq!(psql(&cluster, &url, "SELECT 1").unwrap(), "1");
    let pid_file = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path().join("data/postmaster.pid"))
        .find(|p| {
            std::fs::read_to_string(p)
                .is_ok_and(|s| s.lines().nth(3) == Some(&cluster.port().to_string()))
        })
        .expect("the cluster's postmaster.pid");
    let root = pid_file.parent().unwrap().parent().unwrap().to_owned();

    cluster.stop();
    assert!(psql(&cluster, &url, "SELECT 1").is_err(), "stopped");
    cluster.start();
    assert_eq!(
        psql(&cluster, &url, "SELECT 1").unwrap(),
        "1",
        "back on the same port with its data"
    );

    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    drop(cluster);
    assert!(!root.exists(), "directory removed");
    assert!(!running(pid), "server process gone");
}

/// Alive and not a zombie (an exited server whose parent has not reaped it
/// yet is gone for our purposes).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}
