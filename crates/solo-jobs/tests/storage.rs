//! The job core on both engines: every transition, unique keys,
//! priorities, run-at, retries and backoff, discard, cancel, rescue, bulk
//! insert, and concurrent claimers that never share a job.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;
use solo_jobs::{
    Enqueued, FailOutcome, JobState, NewJob, cancel, claim, complete, enqueue, fail, get, rescue,
    retry,
};
use solo_test_support::engines::migrate;
use solo_test_support::storage_tests;

const LEASE: Duration = Duration::from_secs(30);

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn job(n: i64) -> NewJob {
    NewJob::new("default", "test.work", json!({ "n": n }))
}

fn id(outcome: Enqueued) -> i64 {
    match outcome {
        Enqueued::Inserted(id) => id,
        Enqueued::Duplicate => panic!("expected an insert"),
    }
}

storage_tests! {
    async fn a_job_runs_from_enqueue_to_completed(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let ids = enqueue(&db, &[job(1)], t0()).await.unwrap();
        let job_id = id(ids[0]);
        let stored = get(&db, job_id).await.unwrap().unwrap();
        assert_eq!((stored.state, stored.attempt), (JobState::Available, 0));
        assert_eq!(stored.payload, json!({ "n": 1 }));

        let claimed = claim(&db, "default", 10, "node-a", t0(), LEASE).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!((claimed[0].state, claimed[0].attempt), (JobState::Running, 1));
        assert_eq!(claimed[0].locked_by.as_deref(), Some("node-a"));
        assert!(claim(&db, "default", 10, "node-b", t0(), LEASE).await.unwrap().is_empty(), "held");

        assert_eq!(complete(&db, &[job_id], "node-b", t0()).await.unwrap(), 0, "not node-b's");
        assert_eq!(complete(&db, &[job_id], "node-a", t0()).await.unwrap(), 1);
        let done = get(&db, job_id).await.unwrap().unwrap();
        assert_eq!(done.state, JobState::Completed);
        assert!(done.finished_at.is_some() && done.locked_by.is_none());
    }

    async fn bulk_enqueue_keeps_order_and_refuses_unfinished_duplicates(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let mut jobs: Vec<NewJob> = (0..500).map(job).collect();
        jobs[10].unique_key = Some("report:2026-06-01".into());
        jobs[20].unique_key = Some("report:2026-06-01".into());
        let outcomes = enqueue(&db, &jobs, t0()).await.unwrap();
        assert_eq!(outcomes[20], Enqueued::Duplicate, "same key in one batch");
        let ids: Vec<i64> = outcomes.iter().filter_map(|o| match o { Enqueued::Inserted(id) => Some(*id), _ => None }).collect();
        assert_eq!(ids.len(), 499);
        for (n, outcome) in outcomes.iter().enumerate() {
            if let Enqueued::Inserted(id) = outcome {
                let stored = get(&db, *id).await.unwrap().unwrap();
                assert_eq!(stored.payload["n"], n, "ids map back to their inputs");
            }
        }
        let mut again = job(9);
        again.unique_key = Some("report:2026-06-01".into());
        assert_eq!(enqueue(&db, &[again.clone()], t0()).await.unwrap()[0], Enqueued::Duplicate);

        // Once the keyed job finished, the key is free again.
        let keyed = id(outcomes[10]);
        assert!(cancel(&db, keyed, t0()).await.unwrap());
        assert!(matches!(enqueue(&db, &[again], t0()).await.unwrap()[0], Enqueued::Inserted(_)));
    }

    async fn priority_then_run_at_then_order(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let mut later = job(1);
        later.run_at = Some(t0() + chrono::Duration::minutes(5));
        let mut urgent = job(2);
        urgent.priority = -1;
        let ids: Vec<i64> = enqueue(&db, &[job(0), later, urgent, job(3)], t0()).await.unwrap().into_iter().map(id).collect();
        assert_eq!(get(&db, ids[1]).await.unwrap().unwrap().state, JobState::Scheduled);
        let claimed: Vec<i64> = claim(&db, "default", 10, "n", t0(), LEASE).await.unwrap().iter().map(|j| j.id).collect();
        assert_eq!(claimed, [ids[2], ids[0], ids[3]], "urgent first; the scheduled one waits");
        let claimed = claim(&db, "default", 10, "n", t0() + chrono::Duration::minutes(5), LEASE).await.unwrap();
        assert_eq!(claimed[0].id, ids[1], "due now");
        assert!(claim(&db, "other", 10, "n", t0() + chrono::Duration::hours(1), LEASE).await.unwrap().is_empty(), "queues are apart");
    }

    async fn failures_back_off_then_discard_keeping_every_error(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let mut flaky = job(1);
        flaky.max_attempts = 3;
        let job_id = id(enqueue(&db, &[flaky], t0()).await.unwrap()[0]);
        let mut now = t0();
        for attempt in 1..=3 {
            let claimed = claim(&db, "default", 1, "n", now, LEASE).await.unwrap();
            assert_eq!(claimed[0].attempt, attempt);
            let outcome = fail(&db, job_id, "n", &format!("boom {attempt}"), false, now).await.unwrap();
            match outcome {
                FailOutcome::Retry(at) => {
                    assert!(attempt < 3);
                    assert!(at > now + chrono::Duration::seconds(15), "backs off");
                    assert!(claim(&db, "default", 1, "n", now, LEASE).await.unwrap().is_empty(), "not before its time");
                    assert_eq!(get(&db, job_id).await.unwrap().unwrap().state, JobState::Retryable);
                    now = at;
                }
                FailOutcome::Discarded => assert_eq!(attempt, 3),
                FailOutcome::NotHeld => panic!("held"),
            }
        }
        let discarded = get(&db, job_id).await.unwrap().unwrap();
        assert_eq!(discarded.state, JobState::Discarded);
        let errors: Vec<&str> = discarded.errors.iter().map(|e| e["error"].as_str().unwrap()).collect();
        assert_eq!(errors, ["boom 1", "boom 2", "boom 3"]);

        // An operator retries it: one more attempt.
        assert!(retry(&db, job_id, now).await.unwrap());
        let again = claim(&db, "default", 1, "n", now, LEASE).await.unwrap();
        assert_eq!((again[0].attempt, again[0].max_attempts), (4, 4));
        // A handler may discard at once.
        assert_eq!(fail(&db, job_id, "n", "bad payload", true, now).await.unwrap(), FailOutcome::Discarded);
    }

    async fn cancel_stops_a_job_and_its_worker_loses_it(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let ids: Vec<i64> = enqueue(&db, &[job(1), job(2)], t0()).await.unwrap().into_iter().map(id).collect();
        assert!(cancel(&db, ids[0], t0()).await.unwrap());
        let claimed = claim(&db, "default", 10, "n", t0(), LEASE).await.unwrap();
        assert_eq!(claimed.len(), 1, "a cancelled job is never claimed");
        assert!(cancel(&db, ids[1], t0()).await.unwrap(), "running jobs can be cancelled");
        assert_eq!(complete(&db, &[ids[1]], "n", t0()).await.unwrap(), 0, "its worker no longer holds it");
        assert_eq!(fail(&db, ids[1], "n", "x", false, t0()).await.unwrap(), FailOutcome::NotHeld);
        assert!(!cancel(&db, ids[1], t0()).await.unwrap(), "already finished");
        assert_eq!(get(&db, ids[1]).await.unwrap().unwrap().state, JobState::Cancelled);
    }

    async fn a_dead_workers_jobs_are_rescued_after_the_lease(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let ids: Vec<i64> = enqueue(&db, &[job(1), job(2)], t0()).await.unwrap().into_iter().map(id).collect();
        claim(&db, "default", 10, "dead-node", t0(), LEASE).await.unwrap();
        assert_eq!(rescue(&db, t0() + chrono::Duration::seconds(29)).await.unwrap(), 0, "lease still good");
        complete(&db, &[ids[1]], "dead-node", t0()).await.unwrap();
        let later = t0() + chrono::Duration::seconds(31);
        assert_eq!(rescue(&db, later).await.unwrap(), 1, "only the unfinished one");
        let rescued = get(&db, ids[0]).await.unwrap().unwrap();
        assert_eq!(rescued.state, JobState::Retryable);
        assert!(rescued.errors[0]["error"].as_str().unwrap().contains("lease expired"));
        assert_eq!(complete(&db, &[ids[0]], "dead-node", later).await.unwrap(), 0, "the old worker lost it");
        assert_eq!(get(&db, ids[1]).await.unwrap().unwrap().state, JobState::Completed);
    }

    async fn concurrent_claimers_never_share_a_job(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let jobs: Vec<NewJob> = (0..2000).map(job).collect();
        enqueue(&db, &jobs, t0()).await.unwrap();
        let mut workers = Vec::new();
        for w in 0..6 {
            let db = db.clone();
            workers.push(tokio::spawn(async move {
                let name = format!("node-{w}");
                let mut mine = Vec::new();
                loop {
                    let claimed = claim(&db, "default", 50, &name, t0(), LEASE).await.unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    let ids: Vec<i64> = claimed.iter().map(|j| j.id).collect();
                    assert_eq!(complete(&db, &ids, &name, t0()).await.unwrap(), ids.len() as u64);
                    mine.extend(ids);
                }
            }));
        }
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.await.unwrap());
        }
        let unique: HashSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), 2000, "every job claimed");
        assert_eq!(unique.len(), 2000, "none twice");
    }

    async fn bad_jobs_are_refused_before_the_database(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let mut no_attempts = job(1);
        no_attempts.max_attempts = 0;
        assert!(enqueue(&db, &[no_attempts], t0()).await.is_err());
        assert!(enqueue(&db, &[NewJob::new("", "k", json!({}))], t0()).await.is_err());
        assert!(enqueue(&db, &[], t0()).await.unwrap().is_empty());
    }
}
