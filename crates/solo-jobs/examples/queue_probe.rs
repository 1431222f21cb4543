//! A first look at the job core's speed (not the full benchmark,
//! which runs the peers on the same PostgreSQL; see docs/design/jobs.md):
//! bulk enqueue rate and end-to-end rate for no-op jobs, per engine.
//!
//!     cargo run --release -p solo-jobs --example queue_probe [-- JOBS]
//!
//! PostgreSQL: `BENCH_DATABASE_URL`, else a throwaway cluster from
//! solo-test-support (fsync=off).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use solo_jobs::{Handler, NewJob, Outcome, Wakeup, WorkerConfig, enqueue, run_worker};
use solo_store::{Db, DbOptions, DbTarget, Migrator};

async fn open(target: DbTarget) -> Db {
    let mut options = DbOptions::new(target);
    options.max_connections = 8;
    let db = Db::open(&options).await.unwrap();
    Migrator::new(&[solo_jobs::MIGRATIONS], "probe")
        .unwrap()
        .run(&db)
        .await
        .unwrap();
    db
}

async fn probe(db: &Db, jobs: usize) -> (f64, f64) {
    let started = Instant::now();
    for chunk in (0..jobs).collect::<Vec<_>>().chunks(1000) {
        let batch: Vec<NewJob> = chunk
            .iter()
            .map(|n| NewJob::new("q", "noop", json!({ "n": n })))
            .collect();
        enqueue(db, &batch, Utc::now()).await.unwrap();
    }
    let enqueue_rate = jobs as f64 / started.elapsed().as_secs_f64();

    let done = Arc::new(AtomicUsize::new(0));
    let noop: Handler = {
        let done = done.clone();
        Arc::new(move |_job| {
            let done = done.clone();
            Box::pin(async move {
                done.fetch_add(1, Ordering::Relaxed);
                Outcome::Done
            })
        })
    };
    let config = WorkerConfig {
        queue: "q".into(),
        node: "probe".into(),
        concurrency: 500,
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(100),
        handlers: HashMap::from([("noop".to_owned(), noop)]),
        fallback: None,
        retry_base: solo_jobs::DEFAULT_RETRY_BASE,
        shutdown_grace: Duration::from_secs(30),
        metrics: solo_jobs::JobMetrics::default(),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let worker = tokio::spawn(run_worker(db.clone(), config, Wakeup::new(), stop_rx));
    while done.load(Ordering::Relaxed) < jobs {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    stop_tx.send(true).unwrap();
    worker.await.unwrap().unwrap();
    let e2e_rate = jobs as f64 / started.elapsed().as_secs_f64();
    (enqueue_rate, e2e_rate)
}

#[tokio::main]
async fn main() {
    let jobs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = open(DbTarget::Sqlite {
        path: dir.path().join("probe.db"),
    })
    .await;
    let (enq, e2e) = probe(&sqlite, jobs).await;
    println!("| SQLite (synchronous=FULL) | {jobs} | {enq:.0} | {e2e:.0} |");

    let (url, label, _cluster) = match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) => (url, "PostgreSQL (BENCH_DATABASE_URL)", None),
        Err(_) => {
            let cluster =
                solo_test_support::pg::PgCluster::start_private("queue_probe").expect("PostgreSQL");
            (
                cluster.create_database(),
                "PostgreSQL (test cluster, fsync=off)",
                Some(cluster),
            )
        }
    };
    let pg = open(DbTarget::Postgres { url }).await;
    let (enq, e2e) = probe(&pg, jobs).await;
    println!("| {label} | {jobs} | {enq:.0} | {e2e:.0} |");
}
