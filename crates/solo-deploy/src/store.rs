//! The storage seam of deploys: every statement on `deploy_releases`,
//! `deploy_runs` and `deploy_current`. Portable SQL (`$N`, BIGINT unix
//! microseconds, TEXT) run through `on_reader!`/`on_tx!`.

use chrono::{DateTime, TimeZone, Utc};
use solo_store::sqlx::{self, Row};
use solo_store::{Db, Tx, on_reader, on_tx};

use crate::{DeployError, Release, Run, RunKind, RunState, Step};

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn time(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}

macro_rules! release_columns {
    () => {
        "id, app, version, commit_sha, committed_at_us, dir, checksum, created_by, created_at_us, pruned_at_us"
    };
}

macro_rules! release_from_row {
    ($row:expr) => {{
        let row = $row;
        Release {
            id: row.try_get("id")?,
            app: row.try_get("app")?,
            version: row.try_get("version")?,
            commit: row.try_get("commit_sha")?,
            committed_at: row.try_get::<Option<i64>, _>("committed_at_us")?.map(time),
            dir: row.try_get("dir")?,
            checksum: row.try_get("checksum")?,
            created_by: row.try_get("created_by")?,
            created_at: time(row.try_get("created_at_us")?),
            pruned: row.try_get::<Option<i64>, _>("pruned_at_us")?.is_some(),
        }
    }};
}

macro_rules! run_columns {
    () => {
        "id, app, kind, version, previous_version, release_id, previous_id, actor, reason, state,
         steps, error, log_tail, started_at_us, finished_at_us"
    };
}

macro_rules! run_from_row {
    ($row:expr) => {{
        let row = $row;
        let steps: String = row.try_get("steps")?;
        Run {
            id: row.try_get("id")?,
            app: row.try_get("app")?,
            kind: RunKind::parse(&row.try_get::<String, _>("kind")?),
            version: row.try_get("version")?,
            previous_version: row.try_get("previous_version")?,
            release_id: row.try_get("release_id")?,
            previous_id: row.try_get("previous_id")?,
            actor: row.try_get("actor")?,
            reason: row.try_get("reason")?,
            state: RunState::parse(&row.try_get::<String, _>("state")?),
            steps: serde_json::from_str::<Vec<Step>>(&steps).unwrap_or_default(),
            error: row.try_get("error")?,
            log_tail: row.try_get("log_tail")?,
            started_at: time(row.try_get("started_at_us")?),
            finished_at: row.try_get::<Option<i64>, _>("finished_at_us")?.map(time),
        }
    }};
}

/// What a new release row holds.
pub(crate) struct NewRelease<'a> {
    pub app: &'a str,
    pub version: &'a str,
    pub commit: &'a str,
    pub committed_at: Option<DateTime<Utc>>,
    pub dir: &'a str,
    pub checksum: &'a str,
    pub created_by: &'a str,
}

pub(crate) async fn insert_release(
    tx: &mut Tx,
    release: &NewRelease<'_>,
    now: DateTime<Utc>,
) -> Result<i64, DeployError> {
    Ok(on_tx!(tx, ex => {
        sqlx::query(
            "INSERT INTO deploy_releases
                 (app, version, commit_sha, committed_at_us, dir, checksum, created_by, created_at_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(release.app)
        .bind(release.version)
        .bind(release.commit)
        .bind(release.committed_at.map(micros))
        .bind(release.dir)
        .bind(release.checksum)
        .bind(release.created_by)
        .bind(micros(now))
        .fetch_one(ex)
        .await?
        .try_get::<i64, _>("id")?
    }))
}

pub(crate) async fn release_by_id(db: &Db, id: i64) -> Result<Option<Release>, DeployError> {
    let sql = concat!(
        "SELECT ",
        release_columns!(),
        " FROM deploy_releases WHERE id = $1"
    );
    on_reader!(db, ex => {
        match sqlx::query(sql).bind(id).fetch_optional(ex).await? {
            Some(row) => Ok(Some(release_from_row!(&row))),
            None => Ok(None),
        }
    })
}

pub(crate) async fn release_by_version(
    db: &Db,
    app: &str,
    version: &str,
) -> Result<Option<Release>, DeployError> {
    let sql = concat!(
        "SELECT ",
        release_columns!(),
        " FROM deploy_releases WHERE app = $1 AND version = $2"
    );
    on_reader!(db, ex => {
        match sqlx::query(sql).bind(app).bind(version).fetch_optional(ex).await? {
            Some(row) => Ok(Some(release_from_row!(&row))),
            None => Ok(None),
        }
    })
}

/// Every release of `app`, newest first.
pub(crate) async fn releases(db: &Db, app: &str) -> Result<Vec<Release>, DeployError> {
    let sql = concat!(
        "SELECT ",
        release_columns!(),
        " FROM deploy_releases WHERE app = $1 ORDER BY id DESC"
    );
    on_reader!(db, ex => {
        let rows = sqlx::query(sql).bind(app).fetch_all(ex).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(release_from_row!(row));
        }
        Ok(out)
    })
}

pub(crate) async fn mark_pruned(db: &Db, id: i64, now: DateTime<Utc>) -> Result<(), DeployError> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, ex => {
        sqlx::query("UPDATE deploy_releases SET pruned_at_us = $2 WHERE id = $1")
            .bind(id)
            .bind(micros(now))
            .execute(ex)
            .await?;
    });
    tx.commit().await?;
    Ok(())
}

/// What a new run row holds.
pub(crate) struct NewRun<'a> {
    pub app: &'a str,
    pub kind: RunKind,
    pub release: &'a Release,
    pub previous: Option<&'a Release>,
    pub actor: &'a str,
    pub reason: Option<&'a str>,
}

pub(crate) async fn insert_run(
    tx: &mut Tx,
    run: &NewRun<'_>,
    now: DateTime<Utc>,
) -> Result<i64, DeployError> {
    Ok(on_tx!(tx, ex => {
        sqlx::query(
            "INSERT INTO deploy_runs
                 (app, kind, version, previous_version, release_id, previous_id, actor, reason,
                  state, started_at_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running', $9) RETURNING id",
        )
        .bind(run.app)
        .bind(run.kind.as_str())
        .bind(&run.release.version)
        .bind(run.previous.map(|p| p.version.clone()))
        .bind(run.release.id)
        .bind(run.previous.map(|p| p.id))
        .bind(run.actor)
        .bind(run.reason)
        .bind(micros(now))
        .fetch_one(ex)
        .await?
        .try_get::<i64, _>("id")?
    }))
}

/// Records the steps so far (a crash leaves them readable).
pub(crate) async fn save_steps(db: &Db, run_id: i64, steps: &[Step]) -> Result<(), DeployError> {
    let steps = serde_json::to_string(steps).unwrap_or_else(|_| "[]".into());
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, ex => {
        sqlx::query("UPDATE deploy_runs SET steps = $2 WHERE id = $1")
            .bind(run_id)
            .bind(&steps)
            .execute(ex)
            .await?;
    });
    tx.commit().await?;
    Ok(())
}

/// Ends a run (not the switch: see [`switch_current`]).
pub(crate) async fn finish_run(
    tx: &mut Tx,
    run_id: i64,
    state: RunState,
    steps: &[Step],
    error: Option<&str>,
    log_tail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DeployError> {
    let steps = serde_json::to_string(steps).unwrap_or_else(|_| "[]".into());
    on_tx!(tx, ex => {
        sqlx::query(
            "UPDATE deploy_runs SET state = $2, steps = $3, error = $4, log_tail = $5,
                                    finished_at_us = $6
             WHERE id = $1",
        )
        .bind(run_id)
        .bind(state.as_str())
        .bind(&steps)
        .bind(error)
        .bind(log_tail)
        .bind(micros(now))
        .execute(ex)
        .await?;
    });
    Ok(())
}

/// Makes `release_id` the one serving `app`: the previous live run is
/// superseded, and this run is live. One transaction with the run's end,
/// so the database never names a release that did not pass its checks.
pub(crate) async fn switch_current(
    tx: &mut Tx,
    app: &str,
    release_id: i64,
    run_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DeployError> {
    on_tx!(tx, ex => {
        sqlx::query(
            "UPDATE deploy_runs SET state = 'superseded'
             WHERE app = $1 AND state = 'live' AND id <> $2",
        )
        .bind(app)
        .bind(run_id)
        .execute(&mut *ex)
        .await?;
        sqlx::query(
            "INSERT INTO deploy_current (app, release_id, run_id, since_us) VALUES ($1, $2, $3, $4)
             ON CONFLICT (app) DO UPDATE SET release_id = excluded.release_id,
                 run_id = excluded.run_id, since_us = excluded.since_us",
        )
        .bind(app)
        .bind(release_id)
        .bind(run_id)
        .bind(micros(now))
        .execute(&mut *ex)
        .await?;
    });
    Ok(())
}

/// The release serving `app`, with the run that made it live.
pub(crate) async fn current(db: &Db, app: &str) -> Result<Option<(i64, i64)>, DeployError> {
    on_reader!(db, ex => {
        match sqlx::query("SELECT release_id, run_id FROM deploy_current WHERE app = $1")
            .bind(app)
            .fetch_optional(ex)
            .await?
        {
            Some(row) => Ok(Some((row.try_get("release_id")?, row.try_get("run_id")?))),
            None => Ok(None),
        }
    })
}

pub(crate) async fn run_by_id(db: &Db, id: i64) -> Result<Option<Run>, DeployError> {
    let sql = concat!("SELECT ", run_columns!(), " FROM deploy_runs WHERE id = $1");
    on_reader!(db, ex => {
        match sqlx::query(sql).bind(id).fetch_optional(ex).await? {
            Some(row) => Ok(Some(run_from_row!(&row))),
            None => Ok(None),
        }
    })
}

/// Runs of `app`, newest first, at most `limit`.
pub(crate) async fn runs(db: &Db, app: &str, limit: i64) -> Result<Vec<Run>, DeployError> {
    let sql = concat!(
        "SELECT ",
        run_columns!(),
        " FROM deploy_runs WHERE app = $1 ORDER BY id DESC LIMIT $2"
    );
    on_reader!(db, ex => {
        let rows = sqlx::query(sql).bind(app).bind(limit).fetch_all(ex).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(run_from_row!(row));
        }
        Ok(out)
    })
}

/// Runs left `running` by a solo that stopped mid-run become
/// `interrupted`; returns how many.
pub(crate) async fn interrupt_running(
    db: &Db,
    app: &str,
    now: DateTime<Utc>,
) -> Result<u64, DeployError> {
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, ex => {
        sqlx::query(
            "UPDATE deploy_runs SET state = 'interrupted', finished_at_us = $2,
                 error = 'solo stopped during this run; the release that served before it serves'
             WHERE app = $1 AND state = 'running'",
        )
        .bind(app)
        .bind(micros(now))
        .execute(ex)
        .await?
        .rows_affected()
    });
    tx.commit().await?;
    Ok(n)
}
