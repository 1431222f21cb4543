//! `solo up` as a real child process: health, status, shutdown, redaction,
//! refusal of an unusable database, and PostgreSQL.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use solo_test_support::node::{NodeBuilder, SoloNode};
use solo_test_support::pg::PgCluster;

const SOLO: &str = env!("CARGO_BIN_EXE_solo");

fn node() -> SoloNode {
    NodeBuilder::new(SOLO).spawn()
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

/// GET with the node's local (admin) token.
async fn get_as(node: &SoloNode, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(node.url(path))
        .bearer_auth(node.local_token())
        .send()
        .await
        .unwrap()
}

fn cli_with_token(args: &[&str], token: &str) -> std::process::Output {
    Command::new(SOLO)
        .args(args)
        .env_remove("SOLO_CONFIG")
        .env_remove("SOLO_LISTEN")
        .env("SOLO_TOKEN", token)
        .output()
        .unwrap()
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(SOLO)
        .args(args)
        .env_remove("SOLO_CONFIG")
        .env_remove("SOLO_LISTEN")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_answers_health_readiness_and_status() {
    let node = node();
    assert_eq!(get(&node.url("/healthz")).await.status(), 200);
    let ready: serde_json::Value = get(&node.url("/readyz")).await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "sqlite");

    let addr = node.addr().to_string();
    let unauthorized = cli(&["status", "--listen", &addr]);
    assert_eq!(unauthorized.status.code(), Some(1));
    let err = String::from_utf8_lossy(&unauthorized.stderr);
    assert!(
        err.contains("wants credentials") && err.contains("SOLO_TOKEN"),
        "{err}"
    );

    // On the node's machine, status reads the node's local token.
    let data_dir = node.dir().join(".solo");
    let data_dir = data_dir.to_str().unwrap();
    let human = cli(&["status", "--listen", &addr, "--data-dir", data_dir]);
    assert!(
        human.status.success(),
        "{}",
        String::from_utf8_lossy(&human.stderr)
    );
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains(&format!("solo {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(
        text.contains("database  sqlite") && text.contains("schema 6/6 current"),
        "{text}"
    );

    // The local token: private to the node's user, and only a viewer.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(node.dir().join(".solo/local-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let change = reqwest::Client::new()
        .post(node.url("/api/v1/tokens"))
        .bearer_auth(node.local_token())
        .json(&serde_json::json!({ "name": "x", "role": "admin" }))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), 403, "the local token only reads");

    let out = cli_with_token(
        &["status", "--listen", &addr, "--json"],
        &node.local_token(),
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["node"]["listen"], addr);
    assert_eq!(status["node"]["database"]["backend"], "sqlite");
    assert_eq!(status["nodes"][0]["state"], "up");
    assert!(status["node"]["uptime_seconds"].as_f64().unwrap() >= 0.0);

    let metrics = get(&node.url("/metrics")).await.text().await.unwrap();
    assert!(
        metrics.contains(&format!(
            "solo_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("solo_db_pool_connections{state=\"open\"}"),
        "{metrics}"
    );
}

/// A request whose body is still arriving when SIGTERM lands completes, and
/// the node then exits 0.
#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let mut node = node();
    let body = "version = 1\n[http]\nrequest_timeout = \"30s\"\n";
    let (first, rest) = body.split_at(12);
    let mut stream = TcpStream::connect(node.addr()).unwrap();
    write!(
        stream,
        "POST /api/v1/config/check HTTP/1.1\r\nHost: solo\r\nAuthorization: Bearer {}\r\nContent-Type: application/toml\r\nContent-Length: {}\r\n\r\n{first}",
        node.local_token(),
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    node.signal("TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        TcpStream::connect(node.addr()).is_err(),
        "no new connections after SIGTERM"
    );

    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""valid":true"#), "{response}");

    let status = node.wait(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "logs:\n{}", node.logs());
    let logs = node.logs();
    assert!(
        logs.contains("\"msg\":\"stopped\"") && logs.contains("\"drained\":true"),
        "{logs}"
    );
}

#[test]
fn sigint_stops_an_idle_node_at_once_with_exit_0() {
    let mut node = node();
    let started = Instant::now();
    node.signal("INT");
    assert_eq!(node.wait(Duration::from_secs(10)).code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "idle: no grace to wait out"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_a_request_never_reach_the_logs() {
    // At debug level the node logs every request's headers: the redacting
    // log layer is all that stands between them and the log.
    let node = NodeBuilder::new(SOLO).env("SOLO_LOG", "debug").spawn();
    let secret = "s3cr3t-9f8e7d6c5b4a";
    let client = reqwest::Client::new();
    for path in ["/api/v1/status", "/nope", "/api/v1/config/check"] {
        client
            .post(node.url(path))
            .header("authorization", format!("Bearer {secret}"))
            .header("cookie", format!("session={secret}"))
            .header("x-request-id", "leak-check")
            .body(format!("password = \"{secret}\""))
            .send()
            .await
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let logs = node.logs();
    assert!(
        logs.contains("\"request_id\":\"leak-check\""),
        "the requests were logged:\n{logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains(r#""msg":"request headers""#) && l.contains("[REDACTED]")),
        "the headers were logged, scrubbed:\n{logs}"
    );
    assert!(!logs.contains(secret), "the secret leaked:\n{logs}");
}

#[test]
fn one_node_per_data_directory() {
    let first = node();
    let out = Command::new(SOLO)
        .args(["up", "--listen", "127.0.0.1:0", "--config"])
        .arg(first.dir().join("solo.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another solo node") && err.contains(&format!("pid {}", first.pid())),
        "{err}"
    );
}

fn sqlite_exec(db: &std::path::Path, sql: &str) {
    // The test drives SQLite through the same sqlx the binary uses.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use solo_store::sqlx::{self, AssertSqlSafe, ConnectOptions, sqlite::SqliteConnectOptions};
        let mut conn = SqliteConnectOptions::new()
            .filename(db)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
    });
}

/// Runs a node once (creating and migrating its database), stops it, runs
/// `sql` against its SQLite file, then starts `solo up` on it again and
/// returns that run's exit code and stderr.
fn up_again_after(sql: &str) -> (Option<i32>, String) {
    let mut node = node();
    let dir = node.dir().to_owned();
    node.signal("TERM");
    node.wait(Duration::from_secs(10));
    sqlite_exec(&dir.join(".solo/solo.db"), sql);
    let out = Command::new(SOLO)
        .args(["up", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.join("solo.toml"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_database_from_a_newer_solo_is_refused_with_exit_5() {
    let (code, err) = up_again_after(
        "INSERT INTO solo_migrations VALUES ('backups', 1, 'create_backups', 'abc', '9.9.9', '2030-01-01T00:00:00Z', 1)",
    );
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("backups/0001 (create_backups) applied by solo 9.9.9"),
        "{err}"
    );
    assert!(err.contains("database is newer than this binary"), "{err}");
}

#[test]
fn a_tampered_migration_is_refused_with_exit_5() {
    let (code, err) = up_again_after(
        "UPDATE solo_migrations SET checksum = 'deadbeef' WHERE component = 'cluster'",
    );
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("cluster/0001 (create_nodes) was changed after it was applied"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_share_one_postgres_and_see_each_other() {
    let Some(cluster) = PgCluster::shared("node::nodes_share_one_postgres_and_see_each_other")
    else {
        return;
    };
    let url = cluster.create_database();
    let a = NodeBuilder::new(SOLO).database_url(&url).spawn();
    let b = NodeBuilder::new(SOLO).database_url(&url).spawn();
    let ready: serde_json::Value = get(&a.url("/readyz")).await.json().await.unwrap();
    assert_eq!(ready["database"], "postgres");
    assert_eq!(ready["schema_version"], 6);
    let nodes: Vec<serde_json::Value> = get_as(&b, "/api/v1/nodes").await.json().await.unwrap();
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    assert!(nodes.iter().all(|n| n["state"] == "up"), "{nodes:?}");
    let status: serde_json::Value = get_as(&a, "/api/v1/status").await.json().await.unwrap();
    assert_eq!(status["database"]["backend"], "postgres");
    assert!(
        !status["database"]["target"].as_str().unwrap().contains('@'),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_follows_postgres_going_away_and_coming_back() {
    let Some(cluster) =
        PgCluster::start_private("node::readiness_follows_postgres_going_away_and_coming_back")
    else {
        return;
    };
    let node = NodeBuilder::new(SOLO)
        .database_url(cluster.create_database())
        .spawn();
    assert_eq!(get(&node.url("/readyz")).await.status(), 200);

    cluster.stop();
    // The last good answer is reused for half a second.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let down = get(&node.url("/readyz")).await;
    assert_eq!(down.status(), 503);
    let body: serde_json::Value = down.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_ready");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("database"),
        "{body}"
    );
    assert_eq!(
        get(&node.url("/healthz")).await.status(),
        200,
        "alive while the database is away"
    );

    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if get(&node.url("/readyz")).await.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready again after PostgreSQL came back:\n{}",
            node.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn status_reaches_a_tls_node_by_trusting_its_own_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let node = NodeBuilder::new(SOLO)
        .dir(dir.path())
        .config("version = 1\n[http]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n")
        .spawn();
    assert!(
        node.logs()
            .contains(&format!("\"url\":\"https://{}\"", node.addr())),
        "{}",
        node.logs()
    );
    let out = Command::new(SOLO)
        .args([
            "status",
            "--json",
            "--listen",
            &node.addr().to_string(),
            "--config",
        ])
        .arg(dir.path().join("solo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status["url"],
        format!("https://localhost:{}", node.addr().port())
    );
    assert_eq!(status["node"]["database"]["schema_current"], true);
}

#[test]
fn an_address_in_use_is_a_clear_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("solo.toml"), "version = 1\n").unwrap();
    let out = Command::new(SOLO)
        .args(["up", "--listen", &addr])
        .current_dir(dir.path())
        .env_remove("SOLO_CONFIG")
        .env_remove("SOLO_DATA_DIR")
        .env_remove("SOLO_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on {addr}")) && err.contains("--listen"),
        "{err}"
    );
}
