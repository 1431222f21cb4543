//! solo's side of the queue benchmark (`bench/queue.py` runs it next to
//! the peers on the same PostgreSQL). Measures exactly what the peers'
//! harness measures and prints one JSON line in their format:
//!
//! - `enqueue_per_s`: N no-op jobs inserted in batches of 1,000, no worker;
//! - `e2e_per_s`: a worker started over the N queued jobs, until the last
//!   handler ran;
//! - `pickup_p50_ms` / `pickup_p99_ms`: one job enqueued into an idle
//!   worker, from before the enqueue call to the handler starting.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release -p solo-jobs --example queue_bench -- \
//!     --engine sqlite|postgres [--jobs 50000] [--pickups 200]
//! ```
//!
//! PostgreSQL: `BENCH_DATABASE_URL` (an empty database). SQLite: a fresh
//! file in a temporary directory, with solo's own settings (WAL,
//! synchronous=FULL).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use solo_jobs::{Handler, JobMetrics, NewJob, Outcome, Wakeup, WorkerConfig, enqueue, run_worker};
use solo_store::{Db, DbOptions, DbTarget, Migrator};
use tokio::sync::{mpsc, watch};

struct Args {
    engine: String,
    jobs: usize,
    pickups: usize,
}

fn args() -> Args {
    let mut args = Args {
        engine: "sqlite".into(),
        jobs: 50_000,
        pickups: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--engine" => args.engine = value,
            "--jobs" => args.jobs = value.parse().unwrap(),
            "--pickups" => args.pickups = value.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn config(queue: &str, handler: Handler) -> WorkerConfig {
    WorkerConfig {
        queue: queue.into(),
        node: "bench".into(),
        concurrency: 500,
        lease: Duration::from_secs(30),
        poll: Duration::from_secs(1),
        handlers: HashMap::from([("noop".to_owned(), handler)]),
        fallback: None,
        retry_base: solo_jobs::DEFAULT_RETRY_BASE,
        shutdown_grace: Duration::from_secs(30),
        metrics: JobMetrics::default(),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let k = (sorted.len() - 1) as f64 * p / 100.0;
    let (lo, hi) = (
        k.floor() as usize,
        (k.ceil() as usize).min(sorted.len() - 1),
    );
    sorted[lo] + (sorted[hi] - sorted[lo]) * (k - lo as f64)
}

#[tokio::main]
async fn main() {
    let args = args();
    let dir = tempfile::tempdir().unwrap();
    let target = match args.engine.as_str() {
        "sqlite" => DbTarget::Sqlite {
            path: dir.path().join("bench.db"),
        },
        "postgres" => DbTarget::Postgres {
            url: std::env::var("BENCH_DATABASE_URL").expect("BENCH_DATABASE_URL"),
        },
        other => panic!("--engine sqlite|postgres, not {other}"),
    };
    let mut options = DbOptions::new(target);
    options.max_connections = 10;
    let db = Db::open(&options).await.unwrap();
    Migrator::new(&[solo_jobs::MIGRATIONS], "bench")
        .unwrap()
        .run(&db)
        .await
        .unwrap();

    // Bulk enqueue, no worker running.
    let started = Instant::now();
    for first in (0..args.jobs).step_by(1000) {
        let batch: Vec<NewJob> = (first..(first + 1000).min(args.jobs))
            .map(|n| NewJob::new("bench", "noop", json!({ "n": n })))
            .collect();
        enqueue(&db, &batch, Utc::now()).await.unwrap();
    }
    let enqueue_per_s = args.jobs as f64 / started.elapsed().as_secs_f64();

    // End to end: a worker over the queued jobs.
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
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let worker = tokio::spawn(run_worker(
        db.clone(),
        config("bench", noop),
        Wakeup::new(),
        stop_rx,
    ));
    while done.load(Ordering::Relaxed) < args.jobs {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let e2e_per_s = args.jobs as f64 / started.elapsed().as_secs_f64();
    stop_tx.send(true).unwrap();
    worker.await.unwrap().unwrap();

    // Pickup: one job into an idle worker. SQLite wakes it in process;
    // PostgreSQL through LISTEN/NOTIFY only, the path another node's
    // enqueue takes.
    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<Instant>();
    let pickup: Handler = Arc::new(move |_job| {
        let at = Instant::now();
        let started_tx = started_tx.clone();
        Box::pin(async move {
            let _ = started_tx.send(at);
            Outcome::Done
        })
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let wakeup = Wakeup::new();
    wakeup.listen(&db, stop_rx.clone()).await.unwrap();
    let worker = tokio::spawn(run_worker(
        db.clone(),
        config("pickup", pickup),
        wakeup.clone(),
        stop_rx,
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let in_process = matches!(db, Db::Sqlite(_));
    let mut latencies = Vec::with_capacity(args.pickups);
    for n in 0..args.pickups {
        let before = Instant::now();
        enqueue(
            &db,
            &[NewJob::new("pickup", "noop", json!({ "n": n }))],
            Utc::now(),
        )
        .await
        .unwrap();
        if in_process {
            wakeup.notify();
        }
        let started = started_rx.recv().await.unwrap();
        latencies.push((started - before).as_secs_f64() * 1000.0);
        // Idle again before the next one.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop_tx.send(true).unwrap();
    worker.await.unwrap().unwrap();
    latencies.sort_by(f64::total_cmp);

    println!(
        "{}",
        json!({
            "peer": format!("solo-{}", args.engine),
            "version": env!("CARGO_PKG_VERSION"),
            "jobs": args.jobs,
            "enqueue_per_s": enqueue_per_s.round(),
            "e2e_per_s": e2e_per_s.round(),
            "pickup_p50_ms": (percentile(&latencies, 50.0) * 100.0).round() / 100.0,
            "pickup_p99_ms": (percentile(&latencies, 99.0) * 100.0).round() / 100.0,
        })
    );
    db.close().await;
}
