//! Audit appends per second on each engine, one append per transaction
//! (one change, one entry), from one writer and from eight.
//!
//!     cargo run --release -p solo-audit --example append_bench [-- N]
//!
//! SQLite: a file in a temp dir, WAL, synchronous=FULL (every commit is
//! fsynced). PostgreSQL: `BENCH_DATABASE_URL` if set, else a throwaway
//! cluster from solo-test-support (which runs with fsync=off: its figures
//! show locking and round trips, not disk). Prints a Markdown table.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use chrono::Utc;
use serde_json::json;
use solo_audit::{Actor, NewEntry, append};
use solo_store::{Db, DbOptions, DbTarget, Migrator};

async fn open(target: DbTarget) -> Db {
    let db = Db::open(&DbOptions::new(target)).await.unwrap();
    Migrator::new(&[solo_audit::MIGRATIONS], "bench")
        .unwrap()
        .run(&db)
        .await
        .unwrap();
    db
}

async fn appends_per_second(db: &Db, writers: usize, total: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let db = db.clone();
        let count = total / writers;
        tasks.push(tokio::spawn(async move {
            for i in 0..count {
                let entry = NewEntry::new(Actor::system(format!("writer-{w}")), "bench.append")
                    .target(format!("thing-{i}"))
                    .details(json!({ "i": i, "note": "a typical small entry" }));
                let mut tx = db.begin().await.unwrap();
                append(&mut tx, entry, Utc::now()).await.unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let done = (total / writers) * writers;
    done as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000);
    let mut rows = Vec::new();

    let dir = tempfile::tempdir().unwrap();
    let sqlite = open(DbTarget::Sqlite {
        path: dir.path().join("bench.db"),
    })
    .await;
    for writers in [1, 8] {
        let rate = appends_per_second(&sqlite, writers, total).await;
        rows.push(("SQLite (synchronous=FULL)".to_owned(), writers, rate));
    }
    let intact = solo_audit::verify(&sqlite).await.unwrap();
    assert!(intact.is_intact());
    let started = Instant::now();
    let report = solo_audit::verify(&sqlite).await.unwrap();
    let verify_rate = report.entries as f64 / started.elapsed().as_secs_f64();

    let (url, label, _cluster) = match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) => (url, "PostgreSQL (BENCH_DATABASE_URL)".to_owned(), None),
        Err(_) => {
            let cluster = solo_test_support::pg::PgCluster::start_private("append_bench")
                .expect("PostgreSQL server binaries");
            (
                cluster.create_database(),
                "PostgreSQL (test cluster, fsync=off)".to_owned(),
                Some(cluster),
            )
        }
    };
    let pg = open(DbTarget::Postgres { url }).await;
    for writers in [1, 8] {
        let rate = appends_per_second(&pg, writers, total).await;
        rows.push((label.clone(), writers, rate));
    }
    assert!(solo_audit::verify(&pg).await.unwrap().is_intact());

    println!("| engine | writers | appends/s (one per transaction) |\n|---|---|---|");
    for (engine, writers, rate) in &rows {
        println!("| {engine} | {writers} | {rate:.0} |");
    }
    println!(
        "\nverify (SQLite): {:.0} entries/s over {} entries",
        verify_rate, report.entries
    );
}
