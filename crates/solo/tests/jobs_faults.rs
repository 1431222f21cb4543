//! Jobs under faults, with real processes: three `solo` nodes on one
//! PostgreSQL work 20,000 jobs delivered over HTTP to an app that fails at
//! random (deterministically per job and attempt, so the test knows each
//! job's fate), while one node is killed with SIGKILL and PostgreSQL
//! restarts. Every job must end as its answers dictate; no job may be
//! completed twice except those the killed node held (at-least-once).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use solo_store::sqlx::{self, Row};
use solo_store::{Db, DbOptions, DbTarget};
use solo_test_support::node::{NodeBuilder, SoloNode};
use solo_test_support::pg::PgCluster;

const SOLO: &str = env!("CARGO_BIN_EXE_solo");
const SECRET: &str = "fault-test-signing-secret-0123456789abcdef";
const JOBS: usize = 20_000;
const MAX_ATTEMPTS: i64 = 3;
/// Per node: jobs the killed node may have held at once.
const CONCURRENCY: usize = 16;

/// The app's answer for a job's attempt: about 30 % fail.
fn succeeds(id: i64, attempt: i64) -> bool {
    let mut x = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (attempt as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    x % 10 >= 3
}

/// Every answer the app gave: job id → [(attempt, succeeded)].
type Answers = Arc<Mutex<HashMap<i64, Vec<(i64, bool)>>>>;

async fn app(answers: Answers) -> String {
    let handler = move |headers: HeaderMap, _body: Bytes| {
        let answers = answers.clone();
        async move {
            let read = |name: &str| -> i64 { headers[name].to_str().unwrap().parse().unwrap() };
            let (id, attempt) = (read("solo-job-id"), read("solo-job-attempt"));
            let ok = succeeds(id, attempt);
            answers
                .lock()
                .unwrap()
                .entry(id)
                .or_default()
                .push((attempt, ok));
            if ok {
                StatusCode::OK
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    };
    let router = axum::Router::new().route("/jobs", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/jobs")
}

fn operator_token(node: &SoloNode, url: &str) -> String {
    let out = std::process::Command::new(SOLO)
        .arg("--config")
        .arg(node.dir().join("solo.toml"))
        .args([
            "tokens", "create", "--name", "load", "--role", "operator", "--json",
        ])
        .env("SOLO_DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn unfinished(db: &Db) -> i64 {
    let Db::Postgres(pool) = db else {
        unreachable!()
    };
    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state <= 3")
        .fetch_one(pool)
        .await
        .unwrap_or(i64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lose_nothing_through_a_kill_and_a_postgres_restart() {
    let Some(cluster) = PgCluster::start_private("jobs_faults::three_nodes") else {
        return;
    };
    let url = cluster.create_database();
    let answers: Answers = Arc::default();
    let app_url = app(answers.clone()).await;
    let stack = format!(
        r#"version = 1
[jobs]
lease = "4s"
shutdown_grace = "2s"
[[queues]]
name = "work"
deliver = "http"
url = "{app_url}"
timeout = "5s"
concurrency = {CONCURRENCY}
max_attempts = {MAX_ATTEMPTS}
retry_base = "20ms"
"#
    );
    let start = || {
        NodeBuilder::new(SOLO)
            .config(&stack)
            .database_url(&url)
            .env("SOLO_JOBS_SIGNING_SECRET", SECRET)
            .spawn()
    };
    let mut nodes = [start(), start(), start()];
    let token = operator_token(&nodes[0], &url);
    let db = Db::open(&DbOptions::new(DbTarget::Postgres { url: url.clone() }))
        .await
        .unwrap();

    // 20,000 jobs, in batches through the API of all three nodes.
    let client = reqwest::Client::new();
    for batch in 0..(JOBS / 2000) {
        let jobs: Vec<Value> = (0..2000)
            .map(|n| json!({ "queue": "work", "kind": "work", "payload": { "n": batch * 2000 + n } }))
            .collect();
        let response = client
            .post(nodes[batch % 3].url("/api/v1/jobs"))
            .bearer_auth(&token)
            .json(&json!({ "jobs": jobs }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    }

    // Mid-run: kill one node outright, then restart PostgreSQL.
    let started = Instant::now();
    while unfinished(&db).await > (JOBS as i64) * 2 / 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no progress:\n{}",
            nodes[0].logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nodes[2].signal("KILL");
    let _ = nodes[2].wait(Duration::from_secs(5));
    while unfinished(&db).await > (JOBS as i64) / 3 {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no progress after the kill:\n{}",
            nodes[0].logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    db.close().await;
    cluster.restart();
    let db = Db::open(&DbOptions::new(DbTarget::Postgres { url: url.clone() }))
        .await
        .unwrap();
    while unfinished(&db).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "jobs left unfinished:\n{}\n{}",
            nodes[0].logs(),
            nodes[1].logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every job ended as the app's answers dictate.
    let Db::Postgres(pool) = &db else {
        unreachable!()
    };
    let rows = sqlx::query("SELECT id, state, attempt, errors FROM jobs")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), JOBS);
    let answers = answers.lock().unwrap().clone();
    let (mut completed, mut discarded, mut lost_leases, mut twice) = (0, 0, 0, 0);
    for row in &rows {
        let id: i64 = row.get("id");
        let state: i64 = row.get("state");
        let attempt: i64 = row.get("attempt");
        let errors: Vec<Value> = serde_json::from_str(row.get::<&str, _>("errors")).unwrap();
        let seen = answers.get(&id).cloned().unwrap_or_default();
        let successes = seen.iter().filter(|(_, ok)| *ok).count();
        let rescued = errors.iter().any(|e| {
            e["error"]
                .as_str()
                .unwrap_or_default()
                .contains("lease expired")
        });
        match state {
            4 => {
                completed += 1;
                assert!(successes >= 1, "job {id} completed without a 2xx: {seen:?}");
                if rescued {
                    lost_leases += 1;
                    twice += usize::from(successes > 1);
                } else {
                    assert_eq!(successes, 1, "job {id} completed twice: {seen:?}");
                    assert!(
                        succeeds(id, attempt),
                        "job {id} completed on a failing attempt {attempt}"
                    );
                    assert!(
                        (1..attempt).all(|a| !succeeds(id, a)),
                        "job {id} ran again after succeeding"
                    );
                }
            }
            5 => {
                discarded += 1;
                assert_eq!(attempt, MAX_ATTEMPTS, "job {id} discarded early");
                assert_eq!(
                    errors.len() as i64,
                    MAX_ATTEMPTS,
                    "job {id} keeps every error"
                );
                if rescued {
                    lost_leases += 1;
                } else {
                    assert_eq!(successes, 0, "job {id} discarded after a 2xx: {seen:?}");
                    assert!((1..=MAX_ATTEMPTS).all(|a| !succeeds(id, a)));
                }
            }
            other => panic!("job {id} ended in state {other}"),
        }
    }
    assert_eq!(completed + discarded, JOBS);
    assert!(
        discarded > 0 && completed > discarded,
        "{completed} completed, {discarded} discarded"
    );
    // A node holds at most twice its concurrency (running, or finished and
    // not yet recorded): only those can be rescued, so only those can be
    // delivered twice (at-least-once; every other job was delivered once).
    assert!(
        lost_leases <= CONCURRENCY * 2,
        "only jobs the killed node held are rescued: {lost_leases}"
    );
    eprintln!(
        "{completed} completed, {discarded} discarded, {lost_leases} rescued from the killed node ({twice} delivered twice), {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for node in &mut nodes[..2] {
        node.signal("TERM");
        assert!(node.wait(Duration::from_secs(20)).success());
    }
    db.close().await;
}
