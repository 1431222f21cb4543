//! Jobs on a running node, over real HTTP against the real binary: the
//! API (idempotent enqueue, the pull API, events, operator actions with
//! their audit entries), delivery to a real local HTTP server that checks
//! the signature and to real commands, cron ticking, the CLI, and a
//! graceful shutdown that hands unfinished jobs back.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use solo_test_support::node::{NodeBuilder, SoloNode};

const SOLO: &str = env!("CARGO_BIN_EXE_solo");
const SECRET: &str = "0123456789abcdef0123456789abcdef-test-signing";

fn cli(node: &SoloNode, args: &[&str]) -> std::process::Output {
    let mut child = Command::new(SOLO)
        .arg("--config")
        .arg(node.dir().join("solo.toml"))
        .args(args)
        .env_remove("SOLO_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"").unwrap();
    child.wait_with_output().unwrap()
}

fn cli_ok(node: &SoloNode, args: &[&str]) -> String {
    let out = cli(node, args);
    assert!(
        out.status.success(),
        "solo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn token(node: &SoloNode, role: &str) -> String {
    let out = cli_ok(
        node,
        &["tokens", "create", "--name", role, "--role", role, "--json"],
    );
    let created: Value = serde_json::from_str(&out).unwrap();
    created["token"].as_str().unwrap().to_owned()
}

struct Api {
    client: reqwest::Client,
    node_url: String,
    token: String,
}

impl Api {
    fn new(node: &SoloNode, token: String) -> Self {
        Api {
            client: reqwest::Client::new(),
            node_url: node.url(""),
            token,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.node_url))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = self
            .send(reqwest::Method::POST, path, Some(body), &[])
            .await;
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (status, _, body) = self.send(reqwest::Method::GET, path, None, &[]).await;
        (status, body)
    }

    /// Polls a job until it reaches `state`; panics with it after 10 s.
    async fn wait_state(&self, id: i64, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, job) = self.get(&format!("/api/v1/jobs/{id}")).await;
            if job["state"] == state {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never became {state}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn enqueue_body(queue: &str, kind: &str, payload: Value) -> Value {
    json!({ "jobs": [{ "queue": queue, "kind": kind, "payload": payload }] })
}

const PULL_STACK: &str = r#"version = 1
[jobs]
lease = "2s"
[[queues]]
name = "work"
deliver = "pull"
max_attempts = 2
[[queues]]
name = "audit-me"
deliver = "pull"
[[subscriptions]]
topic = "invoice.created"
queue = "work"
[[subscriptions]]
topic = "invoice.created"
queue = "audit-me"
kind = "invoice.archive"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn enqueue_is_idempotent_validated_and_audited() {
    let node = NodeBuilder::new(SOLO).config(PULL_STACK).spawn();
    let api = Api::new(&node, token(&node, "operator"));
    let body = enqueue_body("work", "email.send", json!({ "to": "a@example.com" }));
    let key = [("idempotency-key", "order-42")];
    let (status, _, first) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/jobs",
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let id = first["jobs"][0]["id"].as_i64().unwrap();
    // The same request again: the first answer, nothing enqueued twice.
    let (status, headers, again) = api
        .send(reqwest::Method::POST, "/api/v1/jobs", Some(body), &key)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(again, first);
    // The same key for another body is refused.
    let other = enqueue_body("work", "email.send", json!({ "to": "b@example.com" }));
    let (status, _, refused) = api
        .send(reqwest::Method::POST, "/api/v1/jobs", Some(other), &key)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let (_, listed) = api.get("/api/v1/jobs?queue=work").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["max_attempts"], 2, "the queue's max_attempts");

    // Bad input: a 4xx naming the field.
    let (status, error) = api
        .post("/api/v1/jobs", enqueue_body("nope", "k", json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["field"], "jobs.queue");
    assert!(
        error.to_string().contains("work"),
        "lists the declared queues: {error}"
    );
    let (status, error) = api.post("/api/v1/jobs", json!({ "jobs": [] })).await;
    assert!(status.is_client_error(), "{error}");
    let (status, _) = api.get("/api/v1/jobs?state=sleeping").await;
    assert!(status.is_client_error());

    // Viewers read but do not enqueue.
    let viewer = Api::new(&node, token(&node, "viewer"));
    let (status, _) = viewer
        .post("/api/v1/jobs", enqueue_body("work", "k", json!({})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = viewer.get(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!(status, StatusCode::OK);

    // Cancel and retry are operator actions, audited.
    let (status, cancelled) = api
        .post(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(
        (status, cancelled["state"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (status, _) = api
        .post(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, retried) = api
        .post(&format!("/api/v1/jobs/{id}/retry"), json!({}))
        .await;
    assert_eq!(
        (status, retried["state"].as_str()),
        (StatusCode::OK, Some("available"))
    );
    let (_, audit) = api.get("/api/v1/audit?action=jobs.*").await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["jobs.retry", "jobs.cancel", "jobs.enqueue"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pull_api_claims_heartbeats_completes_and_fails() {
    let node = NodeBuilder::new(SOLO).config(PULL_STACK).spawn();
    let api = Api::new(&node, token(&node, "operator"));
    let (_, first) = api
        .post(
            "/api/v1/jobs",
            json!({ "jobs": [
        { "queue": "work", "kind": "a", "payload": { "n": 1 } },
        { "queue": "work", "kind": "b", "payload": { "n": 2 } },
    ] }),
        )
        .await;
    let ids: Vec<i64> = first["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();

    let (status, claimed) = api
        .post(
            "/api/v1/queues/work/claim",
            json!({ "worker": "w1", "limit": 10 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed.as_array().unwrap().len(), 2);
    assert_eq!(claimed[0]["locked_by"], "api:w1");
    let (_, none) = api
        .post("/api/v1/queues/work/claim", json!({ "worker": "w2" }))
        .await;
    assert_eq!(none, json!([]), "held jobs are not claimed twice");

    // Heartbeats keep the 2 s lease alive past its end.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        let (_, held) = api
            .post(
                "/api/v1/queues/work/heartbeat",
                json!({ "worker": "w1", "ids": ids }),
            )
            .await;
        assert_eq!(held["held"], 2);
    }
    let (_, done) = api
        .post(
            "/api/v1/queues/work/complete",
            json!({ "worker": "w2", "ids": [ids[0]] }),
        )
        .await;
    assert_eq!(done["held"], 0, "another worker cannot complete w1's job");
    let (_, done) = api
        .post(
            "/api/v1/queues/work/complete",
            json!({ "worker": "w1", "ids": [ids[0]] }),
        )
        .await;
    assert_eq!(done["held"], 1);
    api.wait_state(ids[0], "completed").await;

    let (_, failed) = api
        .post(
            "/api/v1/queues/work/fail",
            json!({ "worker": "w1", "id": ids[1], "error": "upstream 503" }),
        )
        .await;
    assert_eq!(failed["outcome"], "retry", "{failed}");
    let job = api.wait_state(ids[1], "retryable").await;
    assert_eq!(job["errors"][0]["error"], "upstream 503");

    // A job whose worker vanished comes back after its lease (rescue).
    let (_, more) = api
        .post("/api/v1/jobs", enqueue_body("audit-me", "x", json!({})))
        .await;
    let lost = more["jobs"][0]["id"].as_i64().unwrap();
    let (_, claimed) = api
        .post("/api/v1/queues/audit-me/claim", json!({ "worker": "gone" }))
        .await;
    assert_eq!(claimed[0]["id"], lost);
    let job = api.wait_state(lost, "retryable").await;
    assert!(
        job["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("lease expired"),
        "{job}"
    );

    let (status, error) = api
        .post("/api/v1/queues/nope/claim", json!({ "worker": "w" }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_fan_out_to_every_subscription_in_one_go() {
    let node = NodeBuilder::new(SOLO).config(PULL_STACK).spawn();
    let api = Api::new(&node, token(&node, "operator"));
    let (status, published) = api
        .post(
            "/api/v1/events",
            json!({ "topic": "invoice.created", "payload": { "invoice": 7 } }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{published}");
    let ids = published["jobs"].as_array().unwrap();
    assert_eq!(ids.len(), 2);
    let (_, work) = api.get("/api/v1/jobs?queue=work").await;
    assert_eq!(work[0]["kind"], "invoice.created");
    assert_eq!(work[0]["payload"], json!({ "invoice": 7 }));
    let (_, archive) = api.get("/api/v1/jobs?queue=audit-me").await;
    assert_eq!(archive[0]["kind"], "invoice.archive");
    let (_, nobody) = api
        .post("/api/v1/events", json!({ "topic": "nobody.listens" }))
        .await;
    assert_eq!(nobody["jobs"], json!([]));
    let (status, _) = api.post("/api/v1/events", json!({ "payload": {} })).await;
    assert!(status.is_client_error());
}

/// What the app's endpoint saw.
#[derive(Default)]
struct Seen {
    verified: Vec<(String, Value)>,
    bad_signatures: usize,
}

fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes()) == v1
}

/// A real HTTP endpoint for jobs: checks the signature, then answers by kind.
async fn app_server(seen: Arc<Mutex<Seen>>) -> String {
    let handler = move |headers: HeaderMap, body: Bytes| {
        let seen = seen.clone();
        async move {
            let signature = headers
                .get("solo-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !verify(SECRET, signature, &body) {
                seen.lock().unwrap().bad_signatures += 1;
                return (AxumStatus::UNAUTHORIZED, "bad signature");
            }
            let job: Value = serde_json::from_slice(&body).unwrap();
            let kind = job["kind"].as_str().unwrap_or_default().to_owned();
            assert_eq!(
                headers["solo-job-id"].to_str().unwrap(),
                job["id"].to_string()
            );
            seen.lock().unwrap().verified.push((kind.clone(), job));
            match kind.as_str() {
                "ok" => (AxumStatus::OK, "done"),
                "refuse" => (AxumStatus::UNPROCESSABLE_ENTITY, "never valid"),
                _ => (AxumStatus::SERVICE_UNAVAILABLE, "try later"),
            }
        }
    };
    let app = axum::Router::new().route("/jobs", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jobs")
}

#[tokio::test(flavor = "multi_thread")]
async fn http_delivery_is_signed_and_its_answers_decide_the_outcome() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let url = app_server(seen.clone()).await;
    let stack = format!(
        r#"version = 1
[[queues]]
name = "hooks"
deliver = "http"
url = "{url}"
timeout = "2s"
discard_statuses = [422]
max_attempts = 3
retry_base = "1h"
"#
    );
    // Without the signing secret the node refuses to start, saying what to do.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("solo.toml"), &stack).unwrap();
    let out = Command::new(SOLO)
        .args(["up", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.path().join("solo.toml"))
        .env_remove("SOLO_JOBS_SIGNING_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SOLO_JOBS_SIGNING_SECRET"));

    let node = NodeBuilder::new(SOLO)
        .config(&stack)
        .env("SOLO_JOBS_SIGNING_SECRET", SECRET)
        .spawn();
    let api = Api::new(&node, token(&node, "operator"));
    let (_, enqueued) = api
        .post(
            "/api/v1/jobs",
            json!({ "jobs": [
        { "queue": "hooks", "kind": "ok", "payload": { "n": 1 } },
        { "queue": "hooks", "kind": "refuse", "payload": {} },
        { "queue": "hooks", "kind": "flaky", "payload": {} },
    ] }),
        )
        .await;
    let id = |i: usize| enqueued["jobs"][i]["id"].as_i64().unwrap();
    api.wait_state(id(0), "completed").await;
    let refused = api.wait_state(id(1), "discarded").await;
    assert!(
        refused["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("422"),
        "{refused}"
    );
    let flaky = api.wait_state(id(2), "retryable").await;
    assert!(
        flaky["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{flaky}"
    );
    // The queue's retry_base sets the backoff (the default is 15 s).
    let next_try: chrono::DateTime<chrono::Utc> =
        flaky["run_at"].as_str().unwrap().parse().unwrap();
    let wait = next_try - chrono::Utc::now();
    assert!(
        wait > chrono::Duration::minutes(50) && wait < chrono::Duration::minutes(70),
        "retry in about an hour, not {wait}: {flaky}"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.bad_signatures, 0);
    let ok = seen.verified.iter().find(|(k, _)| k == "ok").unwrap();
    assert_eq!(ok.1["payload"], json!({ "n": 1 }));
    assert_eq!(ok.1["attempt"], 1);
    assert!(
        !node.logs().contains(SECRET),
        "the secret never reaches the logs"
    );
    assert!(!flaky.to_string().contains(SECRET));
}

#[tokio::test(flavor = "multi_thread")]
async fn command_delivery_runs_real_commands_and_keeps_their_output() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let stack = format!(
        r#"version = 1
[[queues]]
name = "scripts"
deliver = "command"
command = ["sh", "-c", "read -r payload; echo \"job $SOLO_JOB_ID kind $SOLO_JOB_KIND got $payload\"; [ \"$SOLO_JOB_KIND\" = ok ]"]
timeout = "5s"
max_attempts = 1
[[queues]]
name = "chatty"
deliver = "command"
command = ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x; echo; echo the-end"]
timeout = "5s"
[[queues]]
name = "stuck"
deliver = "command"
command = ["sh", "-c", "sleep 30 & echo $! > {pid}; wait"]
timeout = "300ms"
max_attempts = 1
[[queues]]
name = "missing"
deliver = "command"
command = ["/nonexistent/solo-test-program"]
max_attempts = 1
"#,
        pid = pid_file.display()
    );
    let node = NodeBuilder::new(SOLO).config(&stack).spawn();
    let api = Api::new(&node, token(&node, "operator"));
    let (_, enqueued) = api
        .post(
            "/api/v1/jobs",
            json!({ "jobs": [
        { "queue": "scripts", "kind": "ok", "payload": { "n": 5 } },
        { "queue": "scripts", "kind": "bad", "payload": {} },
        { "queue": "chatty", "kind": "talk", "payload": {} },
        { "queue": "stuck", "kind": "hang", "payload": {} },
        { "queue": "missing", "kind": "nothing", "payload": {} },
    ] }),
        )
        .await;
    let id = |i: usize| enqueued["jobs"][i]["id"].as_i64().unwrap();
    let ok_id = id(0);
    let done = api.wait_state(ok_id, "completed").await;
    let output = done["output"].as_str().unwrap_or_default();
    assert!(
        output.contains(&format!("job {ok_id} kind ok got {{\"n\":5}}")),
        "{done}"
    );
    let shown = cli_ok(&node, &["jobs", "show", &ok_id.to_string()]);
    assert!(
        shown.contains("output:\n") && shown.contains(&format!("  job {ok_id} kind ok got")),
        "{shown}"
    );
    let bad = api.wait_state(id(1), "discarded").await;
    let error = bad["errors"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("exit status 1") && error.contains("kind bad"),
        "{error}"
    );

    // 300 KB of output: the start and the end are kept, the middle cut.
    let chatty = api.wait_state(id(2), "completed").await;
    let output = chatty["output"].as_str().unwrap();
    assert!(output.len() < 70 * 1024, "{} bytes kept", output.len());
    assert!(output.starts_with("xxxx") && output.ends_with("the-end"));
    assert!(output.contains("bytes cut"), "the cut is marked");

    // A time-out kills the command and what it started.
    let stuck = api.wait_state(id(3), "discarded").await;
    assert!(
        stuck["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 300ms"),
        "{stuck}"
    );
    let grandchild: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Gone, or a zombie waiting for a reaper: either way not running.
        let alive = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).is_ok_and(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        });
        if !alive {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the command's child survived its time-out"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let missing = api.wait_state(id(4), "discarded").await;
    assert!(
        missing["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("could not start `/nonexistent/solo-test-program`"),
        "{missing}"
    );

    // Every outcome is counted per queue.
    let (_, metrics) = api.get("/metrics").await;
    let metrics = metrics.as_str().unwrap();
    for line in [
        "solo_jobs_enqueued_total{queue=\"scripts\"} 2",
        "solo_jobs_completed_total{queue=\"scripts\"} 1",
        "solo_jobs_discarded_total{queue=\"scripts\"} 1",
        "solo_jobs_completed_total{queue=\"chatty\"} 1",
        "solo_jobs_discarded_total{queue=\"stuck\"} 1",
        "solo_jobs_run_seconds_count{queue=\"scripts\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cron_ticks_on_a_running_node_and_the_cli_shows_it() {
    let stack = r#"version = 1
[[queues]]
name = "ticks"
deliver = "pull"
[[cron]]
name = "every-second"
schedule = "* * * * * *"
queue = "ticks"
payload = { hello = "cron" }
"#;
    let node = NodeBuilder::new(SOLO).config(stack).spawn();
    let api = Api::new(&node, token(&node, "viewer"));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, jobs) = api.get("/api/v1/jobs?queue=ticks").await;
    let jobs = jobs.as_array().unwrap();
    assert!(
        (2..=4).contains(&jobs.len()),
        "one job per second: {jobs:?}"
    );
    assert_eq!(jobs[0]["kind"], "every-second");
    assert_eq!(jobs[0]["payload"], json!({ "hello": "cron" }));
    let (_, cron) = api.get("/api/v1/cron").await;
    assert_eq!(cron[0]["name"], "every-second");
    assert_eq!(cron[0]["next_runs"].as_array().unwrap().len(), 3);
    let listed = cli_ok(&node, &["cron", "list"]);
    assert!(
        listed.contains("every-second") && listed.contains("job "),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_enqueues_lists_acts_and_purges() {
    let node = NodeBuilder::new(SOLO).config(PULL_STACK).spawn();
    let out = cli_ok(
        &node,
        &[
            "jobs",
            "enqueue",
            "--queue",
            "work",
            "--kind",
            "report",
            "--payload",
            "{\"n\":1}",
            "--tag",
            "monthly",
            "--json",
        ],
    );
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_i64()
        .unwrap();
    let listed = cli_ok(&node, &["jobs", "list", "--tag", "monthly"]);
    assert!(
        listed.contains("report") && listed.contains("available"),
        "{listed}"
    );
    let shown = cli_ok(&node, &["jobs", "show", &id.to_string()]);
    assert!(shown.contains("{\"n\":1}"), "{shown}");
    cli_ok(&node, &["jobs", "cancel", &id.to_string()]);
    let purged = cli_ok(&node, &["jobs", "purge", "--state", "cancelled", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&purged).unwrap()["purged"], 1);
    let stats = cli_ok(&node, &["jobs", "stats"]);
    assert!(
        stats.contains("work") && stats.contains("audit-me"),
        "{stats}"
    );

    // Mistakes: a clear message and a non-zero exit.
    let bad = cli(
        &node,
        &["jobs", "enqueue", "--queue", "nope", "--kind", "k"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("declared queues: work, audit-me"));
    let bad = cli(
        &node,
        &[
            "jobs",
            "enqueue",
            "--queue",
            "work",
            "--kind",
            "k",
            "--payload",
            "{oops",
        ],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--payload is not JSON"));
    let bad = cli(&node, &["jobs", "retry", "999999"]);
    assert!(!bad.status.success());
    let audit = cli_ok(&node, &["audit", "list", "--action", "jobs.*"]);
    assert!(
        audit.contains("jobs.purge")
            && audit.contains("jobs.cancel")
            && audit.contains("jobs.enqueue"),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_lets_jobs_finish_within_the_grace_then_hands_the_rest_back() {
    let dir = tempfile::tempdir().unwrap();
    let stack = r#"version = 1
[jobs]
shutdown_grace = "1s"
[[queues]]
name = "slow"
deliver = "command"
command = ["sh", "-c", "if [ \"$SOLO_JOB_KIND\" = quick ]; then sleep 0.3; else sleep 30; fi"]
"#;
    let mut node = NodeBuilder::new(SOLO).config(stack).dir(dir.path()).spawn();
    let api = Api::new(&node, token(&node, "operator"));
    let (_, enqueued) = api
        .post(
            "/api/v1/jobs",
            json!({ "jobs": [
        { "queue": "slow", "kind": "quick", "payload": {} },
        { "queue": "slow", "kind": "stuck", "payload": {} },
    ] }),
        )
        .await;
    let quick = enqueued["jobs"][0]["id"].as_i64().unwrap();
    let stuck = enqueued["jobs"][1]["id"].as_i64().unwrap();
    api.wait_state(stuck, "running").await;
    let started = Instant::now();
    node.signal("TERM");
    let status = node.wait(Duration::from_secs(15));
    assert!(status.success(), "{}", node.logs());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the grace bounds the stop"
    );
    // Read the outcome straight from the database, with the node down.
    let show = |id: i64| {
        let out = Command::new(SOLO)
            .args(["--json", "--config"])
            .arg(dir.path().join("solo.toml"))
            .args(["jobs", "show", &id.to_string()])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(
        show(quick)["state"],
        "completed",
        "finished within the grace"
    );
    let handed_back = show(stuck);
    assert_eq!(handed_back["state"], "available", "{handed_back}");
    assert_eq!(
        handed_back["attempt"], 0,
        "a cut-off attempt does not count"
    );
}
