//! Delivery figures (the four DORA measures) from the runs of the last 30
//! days: how often deploys go live, how many fail or get rolled back, how
//! long a rollback takes to restore service, and the lead time from
//! commit to live.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use solo_store::Db;

use crate::{DeployError, Release, Run, RunKind, RunState, store};

pub const WINDOW_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryStats {
    pub window_days: i64,
    /// Deploys attempted in the window (failed ones included).
    pub deploys: u32,
    /// Deploys that went live.
    pub live: u32,
    /// Live deploys per week.
    pub per_week: f64,
    /// Deploys that failed or were later rolled back.
    pub failed_or_rolled_back: u32,
    /// `failed_or_rolled_back / deploys`; none without deploys.
    pub change_failure_rate: Option<f64>,
    pub rollbacks: u32,
    /// Median time a rollback took to serve the older release again.
    pub time_to_restore_ms: Option<u64>,
    /// Median time from a release's commit to it serving.
    pub lead_time_s: Option<i64>,
}

pub(crate) async fn delivery_stats(
    db: &Db,
    app: &str,
    now: DateTime<Utc>,
) -> Result<DeliveryStats, DeployError> {
    let runs = store::runs(db, app, 10_000).await?;
    let releases = store::releases(db, app).await?;
    Ok(compute(&runs, &releases, now))
}

fn compute(runs: &[Run], releases: &[Release], now: DateTime<Utc>) -> DeliveryStats {
    let since = now - chrono::Duration::days(WINDOW_DAYS);
    let recent: Vec<&Run> = runs.iter().filter(|r| r.started_at >= since).collect();
    let deploys: Vec<&Run> = recent
        .iter()
        .copied()
        .filter(|r| r.kind == RunKind::Deploy && r.state != RunState::Interrupted)
        .collect();
    let went_live = |r: &Run| matches!(r.state, RunState::Live | RunState::Superseded);
    let rollbacks: Vec<&Run> = recent
        .iter()
        .copied()
        .filter(|r| r.kind != RunKind::Deploy && went_live(r))
        .collect();
    // A deploy "failed" when it never went live, or when a rollback later
    // replaced its release.
    let failed = deploys
        .iter()
        .filter(|d| {
            d.state == RunState::Failed
                || rollbacks
                    .iter()
                    .any(|r| r.id > d.id && r.previous_id == Some(d.release_id))
        })
        .count() as u32;
    let live: Vec<&&Run> = deploys.iter().filter(|d| went_live(d)).collect();
    let restore: Vec<u64> = rollbacks
        .iter()
        .filter_map(|r| {
            let ms = r
                .steps
                .iter()
                .filter(|s| s.name != "drain" && s.name != "stop" && s.name != "prune")
                .map(|s| s.ms)
                .sum::<u64>();
            (ms > 0).then_some(ms)
        })
        .collect();
    let lead: Vec<i64> = live
        .iter()
        .filter_map(|d| {
            let committed = releases
                .iter()
                .find(|r| r.id == d.release_id)?
                .committed_at?;
            let serving_at = d.finished_at?;
            Some((serving_at - committed).num_seconds().max(0))
        })
        .collect();
    let n = deploys.len() as u32;
    DeliveryStats {
        window_days: WINDOW_DAYS,
        deploys: n,
        live: live.len() as u32,
        per_week: live.len() as f64 * 7.0 / WINDOW_DAYS as f64,
        failed_or_rolled_back: failed,
        change_failure_rate: (n > 0).then(|| f64::from(failed) / f64::from(n)),
        rollbacks: rollbacks.len() as u32,
        time_to_restore_ms: median(restore),
        lead_time_s: median(lead),
    }
}

fn median<T: Ord + Copy>(mut values: Vec<T>) -> Option<T> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Step;

    fn run(
        id: i64,
        kind: RunKind,
        state: RunState,
        release: i64,
        previous: Option<i64>,
        at: DateTime<Utc>,
        ms: u64,
    ) -> Run {
        Run {
            id,
            app: "shop".into(),
            kind,
            version: format!("0.{release}.0"),
            previous_version: None,
            release_id: release,
            previous_id: previous,
            actor: "t".into(),
            reason: None,
            state,
            steps: vec![Step {
                name: "start".into(),
                ms,
                ok: true,
                detail: None,
            }],
            error: None,
            log_tail: None,
            started_at: at,
            finished_at: Some(at + chrono::Duration::seconds(5)),
        }
    }

    fn release(id: i64, committed: DateTime<Utc>) -> Release {
        Release {
            id,
            app: "shop".into(),
            version: format!("0.{id}.0"),
            commit: "c".into(),
            committed_at: Some(committed),
            dir: format!("0.{id}.0-c"),
            checksum: "sha256:x".into(),
            created_by: "t".into(),
            created_at: committed,
            pruned: false,
        }
    }

    #[test]
    fn failed_and_rolled_back_deploys_count_as_failures_and_rollbacks_time_restores() {
        let now = Utc::now();
        let day = chrono::Duration::days(1);
        let runs = vec![
            run(
                5,
                RunKind::Rollback,
                RunState::Live,
                2,
                Some(3),
                now - day,
                800,
            ),
            run(
                4,
                RunKind::Deploy,
                RunState::Superseded,
                3,
                Some(2),
                now - day * 2,
                900,
            ),
            run(
                3,
                RunKind::Deploy,
                RunState::Failed,
                9,
                Some(2),
                now - day * 3,
                100,
            ),
            run(
                2,
                RunKind::Deploy,
                RunState::Superseded,
                2,
                Some(1),
                now - day * 4,
                900,
            ),
            run(
                1,
                RunKind::Deploy,
                RunState::Superseded,
                1,
                None,
                now - day * 40,
                900,
            ),
        ];
        let releases = vec![
            release(2, now - day * 4 - chrono::Duration::hours(1)),
            release(3, now - day * 3),
        ];
        let stats = compute(&runs, &releases, now);
        assert_eq!(
            stats.deploys, 3,
            "the 40-day-old deploy is outside the window"
        );
        assert_eq!(stats.live, 2);
        assert_eq!(
            stats.failed_or_rolled_back, 2,
            "run 3 failed, run 4 was rolled back"
        );
        assert_eq!(stats.change_failure_rate, Some(2.0 / 3.0));
        assert_eq!(stats.rollbacks, 1);
        assert_eq!(stats.time_to_restore_ms, Some(800));
        assert!(stats.lead_time_s.is_some());
    }
}
