//! Cron on both engines: each tick enqueues one job however many
//! schedulers race for it, missed ticks follow the entry's policy, and the
//! status shows next runs and the last outcome.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use solo_jobs::{CronEntry, JobFilter, LATE_TOLERANCE, Schedule, cron_status, cron_tick, list};
use solo_store::{Db, DbOptions};
use solo_test_support::engines::migrate;
use solo_test_support::storage_tests;

/// Ticks every `every` seconds since the epoch.
struct Every(i64);

impl Schedule for Every {
    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let s = after.timestamp();
        Utc.timestamp_opt((s.div_euclid(self.0) + 1) * self.0, 0)
            .single()
    }
    fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let s = at.timestamp();
        Utc.timestamp_opt(s.div_euclid(self.0) * self.0, 0).single()
    }
}

fn entry(name: &str, every_s: i64, run_missed_once: bool) -> CronEntry {
    CronEntry {
        name: name.into(),
        schedule: Arc::new(Every(every_s)),
        schedule_text: format!("rate({every_s} seconds)"),
        queue: "default".into(),
        kind: format!("{name}.run"),
        payload: json!({ "from": name }),
        max_attempts: 3,
        run_missed_once,
    }
}

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, h, m, s).unwrap()
}

async fn jobs_of(db: &Db, kind: &str) -> usize {
    let filter = JobFilter {
        kind: Some(kind.into()),
        ..JobFilter::default()
    };
    list(db, &filter, 1000).await.unwrap().len()
}

storage_tests! {
    async fn each_tick_runs_once_and_only_when_due(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let entries = [entry("report", 60, false)];
        // First sight at 10:00:05: the 10:00:00 tick is not late yet, so it runs.
        let runs = cron_tick(&db, &entries, at(10, 0, 5)).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].tick, at(10, 0, 0));
        // Same tick again, later in the minute: nothing.
        assert!(cron_tick(&db, &entries, at(10, 0, 59)).await.unwrap().is_empty());
        // The next minute's tick.
        let runs = cron_tick(&db, &entries, at(10, 1, 0)).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].tick, at(10, 1, 0));
        let job = solo_jobs::get(&db, runs[0].job_id).await.unwrap().unwrap();
        assert_eq!((job.queue.as_str(), job.kind.as_str()), ("default", "report.run"));
        assert_eq!(job.payload, json!({ "from": "report" }));
        assert_eq!(job.max_attempts, 3);
        assert_eq!(job.tags, vec!["cron:report".to_owned()]);
        assert_eq!(jobs_of(&db, "report.run").await, 2);
    }

    async fn schedulers_racing_run_each_tick_once(db: Db, target: DbTarget) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        // Four schedulers, each with its own pool, as four nodes would have.
        let mut nodes = Vec::new();
        for _ in 0..4 {
            nodes.push(Db::open(&DbOptions::new(target.clone())).await.unwrap());
        }
        let entries = Arc::new(vec![entry("a", 10, false), entry("b", 30, false)]);
        let mut enqueued = 0;
        for step in 0..30u32 {
            let now = at(11, 0, 0) + chrono::Duration::seconds(i64::from(step) * 5);
            let mut racers = tokio::task::JoinSet::new();
            for node in &nodes {
                let (node, entries) = (node.clone(), Arc::clone(&entries));
                racers.spawn(async move { cron_tick(&node, &entries, now).await.unwrap().len() });
            }
            while let Some(runs) = racers.join_next().await {
                enqueued += runs.unwrap();
            }
        }
        // 150 s from 11:00:00 to 11:02:25: `a` ticks 15 times, `b` 5 times.
        assert_eq!(jobs_of(&db, "a.run").await, 15);
        assert_eq!(jobs_of(&db, "b.run").await, 5);
        assert_eq!(enqueued, 20, "every scheduler's count adds up to the jobs stored");
        for node in nodes {
            node.close().await;
        }
    }

    async fn a_tick_whose_job_already_finished_is_not_run_again(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let entries = [entry("quick", 60, false)];
        let runs = cron_tick(&db, &entries, at(9, 0, 1)).await.unwrap();
        let claimed = solo_jobs::claim(&db, "default", 1, "n", at(9, 0, 1), LATE_TOLERANCE).await.unwrap();
        solo_jobs::complete(&db, &[claimed[0].id], "n", at(9, 0, 2)).await.unwrap();
        // A slow scheduler arriving after the job completed must not run it again.
        assert!(cron_tick(&db, &entries, at(9, 0, 30)).await.unwrap().is_empty());
        assert_eq!(runs.len(), 1);
        assert_eq!(jobs_of(&db, "quick.run").await, 1);
    }

    async fn missed_ticks_follow_the_policy(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let skip = [entry("skipper", 3600, false)];
        let once = [entry("catcher", 3600, true)];
        cron_tick(&db, &skip, at(8, 0, 0)).await.unwrap();
        cron_tick(&db, &once, at(8, 0, 0)).await.unwrap();
        // Down from 08:00 to 10:30: two ticks missed, the latest (10:00)
        // half an hour late.
        assert!(cron_tick(&db, &skip, at(10, 30, 0)).await.unwrap().is_empty(), "skip drops it");
        let runs = cron_tick(&db, &once, at(10, 30, 0)).await.unwrap();
        assert_eq!(runs.len(), 1, "run_once runs the latest missed tick once");
        assert_eq!(runs[0].tick, at(10, 0, 0));
        // Neither runs a missed tick twice.
        assert!(cron_tick(&db, &skip, at(10, 31, 0)).await.unwrap().is_empty());
        assert!(cron_tick(&db, &once, at(10, 31, 0)).await.unwrap().is_empty());
        // A restart across 11:00 that ends 30 s later: within the
        // tolerance, so both run the 11:00 tick.
        assert_eq!(cron_tick(&db, &skip, at(11, 0, 30)).await.unwrap().len(), 1);
        assert_eq!(cron_tick(&db, &once, at(11, 0, 30)).await.unwrap().len(), 1);
        assert_eq!(jobs_of(&db, "skipper.run").await, 2);
        assert_eq!(jobs_of(&db, "catcher.run").await, 3);
        // An entry first seen long after its tick does not run the past.
        let late = [entry("newcomer", 3600, true)];
        assert!(cron_tick(&db, &late, at(10, 30, 0)).await.unwrap().is_empty());
    }

    async fn status_shows_next_runs_and_the_last_outcome(db: Db) {
        migrate(&db, &[solo_jobs::MIGRATIONS]).await;
        let entries = [entry("report", 60, false)];
        let before = cron_status(&db, &entries, at(7, 0, 30)).await.unwrap();
        assert_eq!(before[0].next_runs, vec![at(7, 1, 0), at(7, 2, 0), at(7, 3, 0)]);
        assert!(before[0].last_tick.is_none() && before[0].last_job.is_none());
        let runs = cron_tick(&db, &entries, at(7, 1, 0)).await.unwrap();
        let after = cron_status(&db, &entries, at(7, 1, 1)).await.unwrap();
        assert_eq!(after[0].last_tick, Some(at(7, 1, 0)));
        let last = after[0].last_job.as_ref().unwrap();
        assert_eq!(last.id, runs[0].job_id);
        assert_eq!(last.state, solo_jobs::JobState::Available);
    }
}
