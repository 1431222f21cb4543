//! The in-process worker on both engines: every job handled once, outcomes
//! recorded (completions in batches), unknown kinds discarded, a clean stop.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use solo_jobs::{
    Enqueued, Handler, JobState, NewJob, Outcome, Wakeup, WorkerConfig, enqueue, get, run_worker,
};
use solo_test_support::engines::migrate;
use solo_test_support::storage_tests;

fn config(seen: Arc<Mutex<Vec<i64>>>) -> WorkerConfig {
    let ok: Handler = {
        let seen = seen.clone();
        Arc::new(move |job| {
            let seen = seen.clone();
            Box::pin(async move {
                seen.lock().unwrap().push(job.id);
                Outcome::Done
            })
        })
    };
    let flaky: Handler =
        Arc::new(|_job| Box::pin(async { Outcome::Failed("upstream said 503".into()) }));
    let mut handlers = HashMap::new();
    handlers.insert("ok".to_owned(), ok);
    handlers.insert("flaky".to_owned(), flaky);
    WorkerConfig {
        queue: "default".into(),
        node: "node-test".into(),
        concurrency: 16,
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(50),
        handlers,
        fallback: None,
        retry_base: solo_jobs::DEFAULT_RETRY_BASE,
        shutdown_grace: Duration::from_secs(30),
        metrics: solo_jobs::JobMetrics::default(),
    }
}

storage_tests! {
    async fn a_worker_handles_every_job_once_and_records_outcomes(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let wakeup = Wakeup::new();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(run_worker(db.clone(), config(seen.clone()), wakeup.clone(), stop_rx));

        let mut jobs: Vec<NewJob> = (0..1000).map(|n| NewJob::new("default", "ok", json!({ "n": n }))).collect();
        jobs.push(NewJob::new("default", "flaky", json!({})));
        jobs.push(NewJob::new("default", "nobody-handles-this", json!({})));
        let ids: Vec<i64> = enqueue(&db, &jobs, Utc::now()).await.unwrap().into_iter()
            .map(|o| match o { Enqueued::Inserted(id) => id, Enqueued::Duplicate => unreachable!() }).collect();
        wakeup.notify();

        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while seen.lock().unwrap().len() < 1000 {
            assert!(std::time::Instant::now() < deadline, "only {} handled", seen.lock().unwrap().len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Let the completer write the last batch, then stop.
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop_tx.send(true).unwrap();
        worker.await.unwrap().unwrap();

        let mut handled = seen.lock().unwrap().clone();
        handled.sort_unstable();
        handled.dedup();
        assert_eq!(handled.len(), 1000, "each once");
        for id in &ids[..1000] {
            assert_eq!(get(&db, *id).await.unwrap().unwrap().state, JobState::Completed);
        }
        let flaky = get(&db, ids[1000]).await.unwrap().unwrap();
        assert_eq!(flaky.state, JobState::Retryable);
        assert_eq!(flaky.errors[0]["error"], "upstream said 503");
        let orphan = get(&db, ids[1001]).await.unwrap().unwrap();
        assert_eq!(orphan.state, JobState::Discarded);
        assert!(orphan.errors[0]["error"].as_str().unwrap().contains("no handler"));
    }
}

/// An idle worker whose poll is 30 s picks up a job enqueued by another
/// node (another handle) at once: pushed by LISTEN/NOTIFY, not polled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_is_woken_by_another_nodes_enqueue() {
    let Some(test) = solo_test_support::engines::TestDb::postgres(
        "worker::an_idle_worker_is_woken_by_another_nodes_enqueue",
    )
    .await
    else {
        return;
    };
    migrate(&test.db, &[solo_jobs::MIGRATIONS]).await;
    let other_node = solo_store::Db::open(&solo_store::DbOptions::new(test.target.clone()))
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut slow_poll = config(seen.clone());
    slow_poll.poll = Duration::from_secs(30);
    let wakeup = Wakeup::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    wakeup.listen(&test.db, stop_rx.clone()).await.unwrap();
    let worker = tokio::spawn(run_worker(test.db.clone(), slow_poll, wakeup, stop_rx));
    tokio::time::sleep(Duration::from_millis(300)).await; // the worker is idle now

    let started = std::time::Instant::now();
    enqueue(
        &other_node,
        &[NewJob::new("default", "ok", json!({}))],
        Utc::now(),
    )
    .await
    .unwrap();
    while seen.lock().unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not woken: it waited for the poll"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop_tx.send(true).unwrap();
    worker.await.unwrap().unwrap();
}

storage_tests! {
    async fn a_long_job_keeps_its_lease_while_its_worker_lives(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let slow: Handler = Arc::new(|_job| Box::pin(async {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            Outcome::Done
        }));
        let mut short_lease = config(Arc::new(Mutex::new(Vec::new())));
        short_lease.lease = Duration::from_millis(300);
        short_lease.handlers.insert("slow".to_owned(), slow);
        let wakeup = Wakeup::new();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(run_worker(db.clone(), short_lease, wakeup.clone(), stop_rx));
        let id = match enqueue(&db, &[NewJob::new("default", "slow", json!({}))], Utc::now()).await.unwrap()[0] {
            Enqueued::Inserted(id) => id,
            Enqueued::Duplicate => unreachable!(),
        };
        wakeup.notify();
        // A rescuer runs all along, as on any node.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            assert_eq!(solo_jobs::rescue(&db, Utc::now()).await.unwrap(), 0, "rescued from a live worker");
            let job = get(&db, id).await.unwrap().unwrap();
            if job.state == JobState::Completed {
                assert_eq!(job.attempt, 1);
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{job:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop_tx.send(true).unwrap();
        worker.await.unwrap().unwrap();
    }
}
