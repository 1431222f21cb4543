//! Deploys end to end: the real `solo` binary, a real app (built by the
//! test suite: `solo-test-app`), real HTTP through solo's proxy under
//! continuous load, the real CLI. Each release of the app is a commit of a
//! small git repository whose `version.txt` and `mode.txt` say how it
//! behaves.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use solo_test_support::app::test_app;
use solo_test_support::git::git;
use solo_test_support::node::{NodeBuilder, SoloNode};

const SOLO: &str = env!("CARGO_BIN_EXE_solo");

/// A git repository holding the app's release files and solo.toml.
struct Project {
    dir: tempfile::TempDir,
    proxy: SocketAddr,
}

impl Project {
    fn new(extra: &str) -> Self {
        Self::with(extra, "")
    }

    /// `extra` goes into `[app]`, `proxy_extra` into `[proxy]`.
    fn with(extra: &str, proxy_extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let proxy = free_addr();
        let toml = format!(
            r#"version = 1

[app]
name = "shop"
start = "exec {app}"
files = ["version.txt", "mode.txt"]
drain_timeout = "10s"
stop_timeout = "5s"
{extra}

[app.health]
path = "/healthz"
interval = "100ms"
successes = 2
wait = "4s"

[proxy]
listen = ["{proxy}"]
{proxy_extra}
"#,
            app = test_app().display(),
        );
        std::fs::write(dir.path().join("solo.toml"), toml).unwrap();
        git(dir.path(), &["init", "-q"]);
        let project = Project { dir, proxy };
        project.commit("one", "healthy", "feat: the first release");
        project
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The next release: its version text, mode, and commit message.
    fn commit(&self, version: &str, mode: &str, message: &str) {
        std::fs::write(self.path().join("version.txt"), version).unwrap();
        std::fs::write(self.path().join("mode.txt"), mode).unwrap();
        git(self.path(), &["add", "-A"]);
        git(
            self.path(),
            &["commit", "-q", "--allow-empty", "-m", message],
        );
    }

    fn node(&self) -> SoloNode {
        let toml = std::fs::read_to_string(self.path().join("solo.toml")).unwrap();
        NodeBuilder::new(SOLO)
            .dir(self.path())
            .config(&toml)
            .spawn()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.proxy)
    }
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn solo(project: &Project, node: &SoloNode, args: &[&str]) -> Output {
    Command::new(SOLO)
        .arg("--config")
        .arg(project.path().join("solo.toml"))
        .arg("--listen")
        .arg(node.addr().to_string())
        .args(args)
        .env_remove("SOLO_TOKEN")
        .env_remove("SOLO_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn solo_ok(project: &Project, node: &SoloNode, args: &[&str]) -> String {
    let out = solo(project, node, args);
    assert!(
        out.status.success(),
        "solo {args:?} failed ({}):\n{}\n--- node logs:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        node.logs()
    );
    String::from_utf8(out.stdout).unwrap()
}

fn deploy(project: &Project, node: &SoloNode) -> Value {
    serde_json::from_str(&solo_ok(project, node, &["deploy", "--json"])).unwrap()
}

fn get(url: &str) -> (u16, String) {
    let response = reqwest::blocking::Client::new().get(url).send().unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

/// Requests in a loop on keep-alive connections until stopped; counts
/// every answer that is not a 2xx, and every request that failed.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    bad: Arc<AtomicU64>,
    errors: Arc<std::sync::Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(url: String, workers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let bad = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let threads = (0..workers)
            .map(|_| {
                let (stop, ok, bad, errors, url) = (
                    stop.clone(),
                    ok.clone(),
                    bad.clone(),
                    errors.clone(),
                    url.clone(),
                );
                std::thread::spawn(move || {
                    let client = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(20))
                        .build()
                        .unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        match client.get(&url).send() {
                            Ok(r) if r.status().is_success() => {
                                let _ = r.text();
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(r) => {
                                bad.fetch_add(1, Ordering::Relaxed);
                                errors.lock().unwrap().push(format!(
                                    "{} {:?}",
                                    r.status(),
                                    r.text()
                                ));
                            }
                            Err(e) => {
                                bad.fetch_add(1, Ordering::Relaxed);
                                errors.lock().unwrap().push(e.to_string());
                            }
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            bad,
            errors,
            threads,
        }
    }

    fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Stops, and returns (ok, bad, the first errors).
    fn finish(self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        let errors = self
            .errors
            .lock()
            .unwrap()
            .iter()
            .take(5)
            .cloned()
            .collect();
        (
            self.ok.load(Ordering::Relaxed),
            self.bad.load(Ordering::Relaxed),
            errors,
        )
    }
}

/// A minimal WebSocket client over the proxy: handshake, masked text
/// frames out, text frames in.
struct Ws {
    stream: TcpStream,
}

impl Ws {
    fn open(addr: SocketAddr) -> Self {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET /ws HTTP/1.1\r\nHost: shop.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(
            head.to_lowercase()
                .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
            "{head}"
        );
        Ws { stream }
    }

    fn echo(&mut self, text: &str) -> String {
        let mask = [1u8, 2, 3, 4];
        let mut frame = vec![0x81, 0x80 | text.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).unwrap();
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).unwrap();
        let mut payload = vec![0u8; usize::from(head[1] & 0x7f)];
        self.stream.read_exact(&mut payload).unwrap();
        String::from_utf8(payload).unwrap()
    }

    fn close(mut self) {
        let _ = self.stream.write_all(&[0x88, 0x80, 0, 0, 0, 0]);
    }
}

fn releases(project: &Project, node: &SoloNode) -> Value {
    serde_json::from_str(&solo_ok(project, node, &["releases", "--json"])).unwrap()
}

fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn deploy_and_rollback_under_load_fail_no_request_and_finish_what_was_in_flight() {
    let project = Project::new("");
    let node = project.node();
    let (status, body) = get(&project.url("/"));
    assert_eq!(status, 503, "nothing deployed yet: {body}");
    assert!(body.contains("no_release"), "{body}");

    let first: Value =
        serde_json::from_str(&solo_ok(&project, &node, &["deploy", "--tag", "--json"])).unwrap();
    assert_eq!(first["state"], "live");
    assert_eq!(first["version"], "0.1.0");
    let tags = Command::new("git")
        .args(["tag", "--points-at", "HEAD"])
        .current_dir(project.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&tags.stdout).trim(),
        "v0.1.0",
        "--tag tags the deployed commit"
    );
    assert_eq!(get(&project.url("/")), (200, "hello from one".into()));

    // Under load: a long request and a WebSocket opened on release one,
    // then release two goes live.
    let load = Load::start(project.url("/"), 4);
    wait_for("load", Duration::from_secs(5), || load.ok() > 50);
    let slow_url = project.url("/slow?ms=2500");
    let slow = std::thread::spawn(move || get(&slow_url));
    let mut ws = Ws::open(project.proxy);
    assert_eq!(ws.echo("a"), "one: a");
    std::thread::sleep(Duration::from_millis(200));
    project.commit("two", "healthy", "feat: carts");
    let deploying = {
        let (config, listen) = (project.path().join("solo.toml"), node.addr().to_string());
        std::thread::spawn(move || {
            Command::new(SOLO)
                .arg("--config")
                .arg(config)
                .arg("--listen")
                .arg(listen)
                .arg("deploy")
                .env_remove("SOLO_TOKEN")
                .stdin(Stdio::null())
                .output()
                .unwrap()
        })
    };
    // Switched: new requests reach two, while the drain waits for what
    // is still open on one.
    wait_for("the switch", Duration::from_secs(20), || {
        get(&project.url("/")).1 == "hello from two"
    });
    assert_eq!(
        ws.echo("b"),
        "one: b",
        "the WebSocket still reaches release one while it drains"
    );
    ws.close();
    assert_eq!(
        slow.join().unwrap(),
        (200, "slow hello from one".into()),
        "the request in flight finished on the old release"
    );
    let out = deploying.join().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.logs()
    );
    let shown = String::from_utf8_lossy(&out.stderr);
    for step in [
        "preflight",
        "pack",
        "upload",
        "release",
        "start",
        "health",
        "switch",
        "drain",
        "stop",
    ] {
        assert!(
            shown.contains(&format!("✓ {step}")),
            "step {step} shown:\n{shown}"
        );
    }
    assert!(shown.contains("live: shop 0.2.0"), "{shown}");
    assert_eq!(get(&project.url("/")).1, "hello from two");

    // Rollback, still under load.
    let before = load.ok();
    let started = Instant::now();
    let out = solo_ok(
        &project,
        &node,
        &["rollback", "--reason", "testing", "--json"],
    );
    let rollback_took = started.elapsed();
    let run: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(run["kind"], "rollback");
    assert_eq!(run["version"], "0.1.0");
    assert_eq!(run["state"], "live");
    assert_eq!(get(&project.url("/")).1, "hello from one");
    wait_for("load after the rollback", Duration::from_secs(5), || {
        load.ok() > before + 50
    });
    let (ok, bad, errors) = load.finish();
    assert_eq!(bad, 0, "failed or non-2xx requests: {errors:?}");
    assert!(ok > 200, "the load ran ({ok} requests)");
    eprintln!("load: {ok} requests, 0 failed; rollback took {rollback_took:?}");

    // The record: every run, who, and the switch in the audit log.
    let listed = releases(&project, &node);
    let runs = listed["runs"].as_array().unwrap();
    let kinds: Vec<(&str, &str, &str)> = runs
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap(),
                r["version"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("rollback", "0.1.0", "live"),
            ("deploy", "0.2.0", "superseded"),
            ("deploy", "0.1.0", "superseded")
        ]
    );
    assert_eq!(listed["serving"]["version"], "0.1.0");
    assert_eq!(runs[0]["reason"], "testing");
    let steps: Vec<&str> = runs[1]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "preflight",
            "pack",
            "release",
            "start",
            "health",
            "switch",
            "drain",
            "stop",
            "prune"
        ]
    );
    let audit = solo_ok(&project, &node, &["audit", "list", "--json"]);
    assert!(audit.matches("deploy.switch").count() >= 3, "{audit}");
    assert!(audit.contains("deploy.rollback"), "{audit}");

    // A release directory is immutable.
    let dir = project.path().join(".solo/releases/shop");
    let release = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("0.2.0-"))
        .unwrap();
    assert!(
        std::fs::metadata(release.path().join("version.txt"))
            .unwrap()
            .permissions()
            .readonly()
    );

    // The app's output is kept per release and shown by `solo logs`.
    let logs = solo_ok(&project, &node, &["logs", "--release", "0.2.0"]);
    assert!(logs.contains("test app two starting"), "{logs}");
    assert!(logs.contains("password=[REDACTED]"), "{logs}");
    assert!(
        !logs.contains("hunter2"),
        "secrets are redacted before they reach the file: {logs}"
    );
}

#[test]
fn a_release_that_never_gets_healthy_is_stopped_and_the_old_one_serves_throughout() {
    let project = Project::new("");
    let node = project.node();
    deploy(&project, &node);
    let load = Load::start(project.url("/"), 3);
    wait_for("load", Duration::from_secs(5), || load.ok() > 30);
    project.commit("broken", "never-healthy", "fix: maybe");
    let out = solo(&project, &node, &["deploy"]);
    assert_eq!(out.status.code(), Some(6), "exit code 6: did not go live");
    let shown = String::from_utf8_lossy(&out.stderr);
    assert!(shown.contains("✗ health"), "{shown}");
    assert!(shown.contains("0.1.1 did not go live"), "{shown}");
    assert!(shown.contains("0.1.0 still serves"), "{shown}");
    assert!(
        shown.contains("test app broken starting in mode never-healthy"),
        "the new release's logs: {shown}"
    );
    let (ok, bad, errors) = load.finish();
    assert_eq!(bad, 0, "{errors:?}");
    assert!(ok > 30);
    assert_eq!(get(&project.url("/")).1, "hello from one");

    let listed = releases(&project, &node);
    let failed = &listed["runs"][0];
    assert_eq!(failed["state"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("not healthy"),
        "{failed}"
    );
    assert!(
        failed["log_tail"]
            .as_str()
            .unwrap()
            .contains("mode never-healthy"),
        "{failed}"
    );
    assert_eq!(listed["serving"]["version"], "0.1.0");
}

#[test]
fn the_watch_rolls_back_a_release_that_sickens_after_the_switch() {
    let project = Project::new("[app.watch]\nwindow = \"20s\"\nhealth_failures = 2\n");
    let node = project.node();
    deploy(&project, &node);
    let load = Load::start(project.url("/"), 3);
    wait_for("load", Duration::from_secs(5), || load.ok() > 30);
    project.commit("two", "sickens", "feat: risky");
    let out = deploy(&project, &node);
    assert_eq!(out["state"], "live");
    assert_eq!(get(&project.url("/")).1, "hello from two");
    wait_for("the automatic rollback", Duration::from_secs(15), || {
        get(&project.url("/")).1 == "hello from one"
    });
    let (ok, bad, errors) = load.finish();
    assert_eq!(bad, 0, "{errors:?}");
    assert!(ok > 30);
    let listed = releases(&project, &node);
    let run = &listed["runs"][0];
    assert_eq!(run["kind"], "auto_rollback");
    assert_eq!(run["state"], "live");
    assert_eq!(run["version"], "0.1.0");
    assert!(
        run["reason"]
            .as_str()
            .unwrap()
            .contains("health checks failed"),
        "{run}"
    );
    let stats: Value =
        serde_json::from_str(&solo_ok(&project, &node, &["releases", "stats", "--json"])).unwrap();
    assert_eq!(stats["deploys"], 2);
    assert_eq!(stats["failed_or_rolled_back"], 1);
    assert_eq!(stats["rollbacks"], 1);
}

#[test]
fn solo_killed_mid_deploy_comes_back_serving_the_old_release() {
    let project = Project::new("");
    let mut node = project.node();
    deploy(&project, &node);
    project.commit("two", "slow-start", "feat: slow");
    let mut child = Command::new(SOLO)
        .arg("--config")
        .arg(project.path().join("solo.toml"))
        .arg("--listen")
        .arg(node.addr().to_string())
        .args(["deploy"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the new release started (its log exists), then kill solo.
    let logs = project.path().join(".solo/logs/shop");
    wait_for("the new release to start", Duration::from_secs(20), || {
        std::fs::read_dir(&logs)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("0.2.0-"))
            })
            .unwrap_or(false)
    });
    node.signal("KILL");
    node.wait(Duration::from_secs(5));
    let _ = child.wait();
    drop(node);

    let node = project.node();
    wait_for("the old release to serve", Duration::from_secs(10), || {
        reqwest::blocking::get(project.url("/"))
            .map(|r| r.text().unwrap_or_default())
            .is_ok_and(|t| t == "hello from one")
    });
    let listed = releases(&project, &node);
    assert_eq!(listed["serving"]["version"], "0.1.0");
    let run = &listed["runs"][0];
    assert_eq!(run["version"], "0.2.0");
    assert_eq!(run["state"], "interrupted");
    // The next deploy works from there.
    project.commit("three", "healthy", "fix: faster");
    let out = deploy(&project, &node);
    assert_eq!(out["state"], "live");
    assert_eq!(get(&project.url("/")).1, "hello from three");
}

#[test]
fn a_crashed_release_is_restarted_and_a_crash_loop_is_reported_not_looped() {
    let project = Project::new("[app.restart]\nmax_restarts = 2\nwindow = \"60s\"\n");
    let node = project.node();
    deploy(&project, &node);
    let pid_of = || {
        releases(&project, &node)["serving"]["pid"]
            .as_i64()
            .unwrap()
    };
    for round in 1..=2 {
        let pid = pid_of();
        assert!(
            Command::new("sh")
                .args(["-c", &format!("kill -9 {pid}")])
                .status()
                .unwrap()
                .success()
        );
        wait_for(&format!("restart {round}"), Duration::from_secs(15), || {
            pid_of() != pid && get(&project.url("/")) == (200, "hello from one".into())
        });
    }
    let pid = pid_of();
    assert!(
        Command::new("sh")
            .args(["-c", &format!("kill -9 {pid}")])
            .status()
            .unwrap()
            .success()
    );
    wait_for(
        "the crash loop to be reported",
        Duration::from_secs(15),
        || releases(&project, &node)["serving"]["crash_loop"] == true,
    );
    assert!(node.logs().contains("crash loop"), "{}", node.logs());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(pid_of(), pid, "not restarted again");
    // A deploy clears it.
    project.commit("two", "healthy", "fix: the crash");
    deploy(&project, &node);
    assert_eq!(releases(&project, &node)["serving"]["crash_loop"], false);
}

#[test]
fn the_proxy_sets_forwarding_headers_drops_hop_headers_limits_bodies_and_speaks_http2() {
    let project = Project::with("", "body_limit = \"64KiB\"");
    let node = project.node();
    deploy(&project, &node);
    let client = reqwest::blocking::Client::new();

    let response = client
        .get(project.url("/headers"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("connection", "keep-alive, x-hop-secret")
        .header("x-hop-secret", "1")
        .header("x-request-id", "req-abc-123")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-abc-123");
    let seen = response.text().unwrap();
    assert!(
        seen.contains("x-forwarded-for: 127.0.0.1"),
        "the peer, not the claim: {seen}"
    );
    assert!(!seen.contains("6.6.6.6"), "{seen}");
    assert!(seen.contains("x-forwarded-proto: http"), "{seen}");
    assert!(
        seen.contains(&format!("x-forwarded-host: {}", project.proxy)),
        "{seen}"
    );
    assert!(seen.contains("x-request-id: req-abc-123"), "{seen}");
    assert!(
        !seen.contains("x-hop-secret"),
        "hop-by-hop headers stay on their hop: {seen}"
    );

    // A request id is made when the client sends none.
    let response = client.get(project.url("/")).send().unwrap();
    assert!(!response.headers()["x-request-id"].is_empty());

    // Bodies over [proxy] body_limit are refused; under it they pass.
    let response = client
        .post(project.url("/"))
        .body(vec![b'x'; 60 * 1024])
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client
        .post(project.url("/"))
        .body(vec![b'x'; 100 * 1024])
        .send()
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");

    // HTTP/2 from clients (prior knowledge on plain TCP).
    let h2 = reqwest::blocking::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2.get(project.url("/")).send().unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.text().unwrap(), "hello from one");

    // The proxy's figures per release reach /metrics.
    let metrics = client
        .get(node.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(r#"solo_proxy_requests_total{release="0.1.0",class="2xx"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("solo_proxy_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

#[test]
fn the_proxy_serves_https_from_the_configured_certificate_and_a_skipped_preflight_is_audited() {
    let project = Project::with("", "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(project.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(
        project.path().join("key.pem"),
        cert.signing_key.serialize_pem(),
    )
    .unwrap();
    let node = project.node();
    // The key file is untracked (and a private key): preflight refuses.
    let out = solo(&project, &node, &["deploy"]);
    assert_eq!(out.status.code(), Some(6));
    let shown = String::from_utf8_lossy(&out.stderr);
    assert!(shown.contains("key.pem:1: [secret]"), "{shown}");
    solo_ok(&project, &node, &["deploy", "--skip-preflight"]);
    let audit = solo_ok(&project, &node, &["audit", "list", "--json"]);
    assert!(audit.contains("skipped (--skip-preflight)"), "{audit}");

    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/headers", project.proxy.port());
    let response = client.get(&url).send().unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2, "h2 by ALPN");
    let seen = response.text().unwrap();
    assert!(seen.contains("x-forwarded-proto: https"), "{seen}");
}

#[test]
fn ci_deploys_through_the_api_with_an_operator_token_and_init_writes_its_workflow() {
    let project = Project::new("");
    let node = project.node();
    let init = |force: bool| {
        let mut command = Command::new(SOLO);
        command.args(["init", "--ci", "github"]).arg(project.path());
        if force {
            command.arg("--force");
        }
        command.output().unwrap()
    };
    assert!(init(false).status.success());
    let workflow =
        std::fs::read_to_string(project.path().join(".github/workflows/solo.yml")).unwrap();
    assert!(
        workflow.contains("solo deploy --remote \"$SOLO_URL\""),
        "{workflow}"
    );
    assert!(
        workflow.contains("SOLO_TOKEN: ${{ secrets.SOLO_TOKEN }}"),
        "{workflow}"
    );
    assert!(workflow.contains("solo preflight"), "{workflow}");
    assert_eq!(
        init(false).status.code(),
        Some(1),
        "an existing workflow is kept"
    );
    assert!(init(true).status.success());
    git(project.path(), &["add", "-A"]);
    git(
        project.path(),
        &["commit", "-q", "-m", "ci: deploy on push"],
    );

    let token = |role: &str| -> String {
        let out = solo_ok(
            &project,
            &node,
            &["tokens", "create", "--name", role, "--role", role, "--json"],
        );
        serde_json::from_str::<Value>(&out).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let remote = |token: Option<&str>| {
        let mut command = Command::new(SOLO);
        command
            .arg("--config")
            .arg(project.path().join("solo.toml"))
            .args([
                "deploy",
                "--json",
                "--remote",
                &format!("http://{}", node.addr()),
            ])
            .env_remove("SOLO_TOKEN");
        if let Some(token) = token {
            command.env("SOLO_TOKEN", token);
        }
        command.output().unwrap()
    };
    // With --json the error is JSON on stdout.
    let said = |out: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let out = remote(None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains("SOLO_TOKEN"),
        "the local token is never sent elsewhere: {}",
        said(&out)
    );
    let out = remote(Some(&token("viewer")));
    assert!(said(&out).contains("role may not"), "{}", said(&out));
    let out = remote(Some(&token("operator")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (run["state"].as_str(), run["actor"].as_str()),
        (Some("live"), Some("token:operator"))
    );

    // The API refuses a damaged or foreign upload, and changes nothing.
    let client = reqwest::blocking::Client::new();
    let operator = token("operator");
    let response = client
        .post(node.url("/api/v1/deploys"))
        .bearer_auth(&operator)
        .header("x-solo-checksum", format!("sha256:{}", "0".repeat(64)))
        .body("not an archive")
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["field"], "X-Solo-Checksum");
    let response = client
        .post(node.url("/api/v1/deploys"))
        .bearer_auth(&operator)
        .body("not an archive")
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["field"], "archive", "{body}");
    assert_eq!(
        releases(&project, &node)["releases"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        std::fs::read_dir(project.path().join(".solo/releases/shop"))
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().starts_with('.')),
        "no staging or upload left behind"
    );
}
