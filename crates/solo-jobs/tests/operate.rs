//! The operator's side on both engines: filters, purge, per-queue figures,
//! pruning by retention, handing leases back at shutdown, and audited
//! actions.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;
use solo_audit::Actor;
use solo_jobs::{
    JobFilter, JobState, NewJob, Operator, cancel_job, claim, complete, enqueue, fail, get, list,
    prune, purge_jobs, release, retry_job, stats,
};
use solo_test_support::engines::migrate;
use solo_test_support::storage_tests;

const LEASE: Duration = Duration::from_secs(30);

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn job(queue: &str, kind: &str, tags: &[&str]) -> NewJob {
    let mut job = NewJob::new(queue, kind, json!({}));
    job.tags = tags.iter().map(|t| (*t).to_owned()).collect();
    job
}

fn who() -> Operator {
    Operator {
        actor: Actor::system("cli:test"),
        request_id: None,
        client: None,
    }
}

fn sets() -> [solo_store::MigrationSet; 2] {
    [solo_audit::MIGRATIONS, solo_jobs::MIGRATIONS]
}

storage_tests! {
    async fn filters_match_queue_kind_state_and_whole_tags(db: Db) {
        migrate(&db, &sets()).await;
        enqueue(&db, &[
            job("mail", "welcome", &["user:1", "vip"]),
            job("mail", "digest", &["user:12"]),
            job("billing", "invoice", &["user:1"]),
        ], t0()).await.unwrap();
        let count = |filter: JobFilter| {
            let db = db.clone();
            async move { list(&db, &filter, 100).await.unwrap().len() }
        };
        assert_eq!(count(JobFilter::default()).await, 3);
        assert_eq!(count(JobFilter { queue: Some("mail".into()), ..Default::default() }).await, 2);
        assert_eq!(count(JobFilter { kind: Some("invoice".into()), ..Default::default() }).await, 1);
        assert_eq!(count(JobFilter { tag: Some("user:1".into()), ..Default::default() }).await, 2, "user:12 is not user:1");
        assert_eq!(count(JobFilter { tag: Some("user:%".into()), ..Default::default() }).await, 0, "LIKE wildcards are literal");
        assert_eq!(count(JobFilter { state: Some(JobState::Running), ..Default::default() }).await, 0);
        let newest = list(&db, &JobFilter::default(), 1).await.unwrap();
        assert_eq!(newest[0].kind, "invoice", "newest first");
        let older = list(&db, &JobFilter { before_id: Some(newest[0].id), ..Default::default() }, 10).await.unwrap();
        assert_eq!(older.len(), 2);
    }

    async fn stats_count_each_state_per_queue(db: Db) {
        migrate(&db, &sets()).await;
        let mut later = job("mail", "later", &[]);
        later.run_at = Some(t0() + chrono::Duration::hours(1));
        enqueue(&db, &[job("mail", "a", &[]), job("mail", "b", &[]), later], t0()).await.unwrap();
        let claimed = claim(&db, "mail", 1, "n", t0(), LEASE).await.unwrap();
        let now = t0() + chrono::Duration::seconds(10);
        let figures = stats(&db, &["idle".to_owned()], now).await.unwrap();
        let mail = figures.iter().find(|s| s.queue == "mail").unwrap();
        assert_eq!((mail.scheduled, mail.available, mail.running), (1, 1, 1));
        assert_eq!(mail.oldest_available_s, Some(10.0));
        let idle = figures.iter().find(|s| s.queue == "idle").unwrap();
        assert_eq!(idle.available, 0, "declared queues show even when empty");
        complete(&db, &[claimed[0].id], "n", now).await.unwrap();
        let figures = stats(&db, &[], now).await.unwrap();
        assert_eq!(figures[0].completed, 1);
    }

    async fn purge_deletes_finished_jobs_only_and_is_audited(db: Db) {
        migrate(&db, &sets()).await;
        let ids = enqueue(&db, &[job("q", "a", &[]), job("q", "b", &[])], t0()).await.unwrap();
        let first = match ids[0] { solo_jobs::Enqueued::Inserted(id) => id, _ => panic!() };
        cancel_job(&db, first, &who()).await.unwrap();
        let refused = purge_jobs(&db, &JobFilter { state: Some(JobState::Available), ..Default::default() }, &who()).await;
        assert!(refused.is_err(), "unfinished jobs are never purged");
        assert_eq!(purge_jobs(&db, &JobFilter::default(), &who()).await.unwrap(), 1);
        assert_eq!(list(&db, &JobFilter::default(), 10).await.unwrap().len(), 1);
        let audit = solo_audit::list(&db, &solo_audit::AuditFilter::default()).await.unwrap();
        let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["jobs.purge", "jobs.cancel"]);
        assert_eq!(audit[1].target.as_deref(), Some(format!("job:{first}").as_str()));
    }

    async fn retry_and_cancel_refuse_the_wrong_state(db: Db) {
        migrate(&db, &sets()).await;
        let ids = enqueue(&db, &[job("q", "a", &[])], t0()).await.unwrap();
        let id = match ids[0] { solo_jobs::Enqueued::Inserted(id) => id, _ => panic!() };
        assert!(matches!(retry_job(&db, id, &who()).await, Err(solo_jobs::JobError::Conflict(_))), "available: nothing to retry");
        assert!(matches!(retry_job(&db, 999_999, &who()).await, Err(solo_jobs::JobError::NotFound(_))));
        let cancelled = cancel_job(&db, id, &who()).await.unwrap();
        assert_eq!(cancelled.state, JobState::Cancelled);
        assert!(matches!(cancel_job(&db, id, &who()).await, Err(solo_jobs::JobError::Conflict(_))));
        let retried = retry_job(&db, id, &who()).await.unwrap();
        assert_eq!(retried.state, JobState::Available);
        // A refused action leaves no audit entry.
        let audit = solo_audit::list(&db, &solo_audit::AuditFilter::default()).await.unwrap();
        assert_eq!(audit.len(), 2);
    }

    async fn a_retried_job_may_not_collide_with_a_newer_equal_one(db: Db) {
        migrate(&db, &sets()).await;
        let mut keyed = job("q", "a", &[]);
        keyed.unique_key = Some("k".into());
        let first = match enqueue(&db, &[keyed.clone()], t0()).await.unwrap()[0] { solo_jobs::Enqueued::Inserted(id) => id, _ => panic!() };
        cancel_job(&db, first, &who()).await.unwrap();
        enqueue(&db, &[keyed], t0()).await.unwrap();
        let err = retry_job(&db, first, &who()).await.unwrap_err();
        assert!(matches!(err, solo_jobs::JobError::Conflict(_)), "{err}");
        assert_eq!(get(&db, first).await.unwrap().unwrap().state, JobState::Cancelled);
    }

    async fn prune_keeps_unfinished_and_recent_jobs(db: Db) {
        migrate(&db, &sets()).await;
        enqueue(&db, &[job("q", "done", &[]), job("q", "bad", &[]), job("q", "waiting", &[])], t0()).await.unwrap();
        let claimed = claim(&db, "q", 2, "n", t0(), LEASE).await.unwrap();
        let (done, bad) = if claimed[0].kind == "done" { (claimed[0].id, claimed[1].id) } else { (claimed[1].id, claimed[0].id) };
        complete(&db, &[done], "n", t0()).await.unwrap();
        fail(&db, bad, "n", "boom", true, t0()).await.unwrap();
        let day = chrono::Duration::days(1);
        // Completed ones older than a day go; discarded ones are kept longer.
        assert_eq!(prune(&db, t0() + day, t0()).await.unwrap(), 1);
        assert!(get(&db, done).await.unwrap().is_none());
        assert!(get(&db, bad).await.unwrap().is_some());
        assert_eq!(prune(&db, t0() + day, t0() + day).await.unwrap(), 1);
        assert_eq!(list(&db, &JobFilter::default(), 10).await.unwrap().len(), 1, "the waiting job stays");
    }

    async fn release_hands_jobs_back_without_spending_an_attempt(db: Db) {
        migrate(&db, &sets()).await;
        enqueue(&db, &[job("q", "a", &[])], t0()).await.unwrap();
        let claimed = claim(&db, "q", 1, "node-a", t0(), LEASE).await.unwrap();
        assert_eq!(release(&db, &[claimed[0].id], "node-b", t0()).await.unwrap(), 0, "not node-b's");
        assert_eq!(release(&db, &[claimed[0].id], "node-a", t0()).await.unwrap(), 1);
        let again = claim(&db, "q", 1, "node-b", t0(), LEASE).await.unwrap();
        assert_eq!((again.len(), again[0].attempt), (1, 1));
    }
}
