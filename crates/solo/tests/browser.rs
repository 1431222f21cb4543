//! The dashboard in a real headless Chromium against the real binary: sign
//! in, enrol two-factor sign-in, sign out, sign in with a code, see the
//! overview; and the jobs pages, where an operator retries a discarded job
//! with a button. Screenshots of each page are kept under
//! `$CARGO_TARGET_TMPDIR/screenshots/` as test artifacts.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chrono::Utc;
use solo_access::totp::{STEP_SECONDS, code_at};
use solo_test_support::browser::Browser;
use solo_test_support::git::git;
use solo_test_support::node::{NodeBuilder, SoloNode};

const SOLO: &str = env!("CARGO_BIN_EXE_solo");
const PASSWORD: &str = "tangerine-oboe-43-glacier";

fn solo(node: &SoloNode, args: &[&str]) {
    let out = Command::new(SOLO)
        .arg("--config")
        .arg(node.dir().join("solo.toml"))
        .args(args)
        .env_remove("SOLO_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "solo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn sign_in(browser: &Browser, node: &SoloNode, name: &str) {
    browser.goto(&node.url("/login")).await;
    browser.type_into("input[name=name]", name).await;
    browser.type_into("input[name=password]", PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for("dl.facts").await;
}

/// Reloads `path` until its text contains `needle`; panics after 15 s.
async fn wait_for_text(browser: &Browser, node: &SoloNode, path: &str, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        browser.goto(&node.url(path)).await;
        let text = browser.page_text().await;
        if text.contains(needle) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never showed {needle:?}: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

fn add_admin(node: &SoloNode, name: &str) {
    let mut child = Command::new(SOLO)
        .arg("--config")
        .arg(node.dir().join("solo.toml"))
        .args(["users", "add", name, "--role", "admin"])
        .env_remove("SOLO_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn shot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("screenshots")
        .join(format!("{name}.png"))
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_enrol_mfa_sign_out_and_back_in_with_a_code() {
    let Some(browser) =
        Browser::start("browser::sign_in_enrol_mfa_sign_out_and_back_in_with_a_code").await
    else {
        return;
    };
    let node = NodeBuilder::new(SOLO).spawn();

    // Before any admin exists, the dashboard only explains how to make one.
    browser.goto(&node.url("/")).await;
    browser.wait_for("pre.secret").await;
    let text = browser.page_text().await;
    assert!(text.contains("solo users add"), "{text}");
    browser.screenshot(&shot("01-setup")).await;
    add_admin(&node, "ann");

    // Sign in with the password.
    browser.goto(&node.url("/")).await;
    browser.wait_for("input[name=password]").await;
    let url = browser.current_url().await;
    assert!(url.contains("/login"), "{url}");
    browser.screenshot(&shot("02-login")).await;
    browser.type_into("input[name=name]", "ann").await;
    browser.type_into("input[name=password]", PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for("dl.facts").await;
    let text = browser.page_text().await;
    assert!(
        text.contains("This node") && text.contains("Database"),
        "{text}"
    );
    browser.screenshot(&shot("03-overview")).await;

    // Enrol: the page shows a QR code and the key; the test is the phone.
    browser.goto(&node.url("/account")).await;
    browser.wait_for("form[action='/account/mfa'] button").await;
    browser.screenshot(&shot("04-account")).await;
    browser.click("form[action='/account/mfa'] button").await;
    browser.wait_for(".qr svg").await;
    let secret = browser
        .text(&browser.find("[data-totp-secret]").await)
        .await;
    browser.screenshot(&shot("05-mfa-enrol")).await;
    browser
        .type_into("input[name=code]", &code_at(&secret, Utc::now()).unwrap())
        .await;
    browser
        .click("form[action='/account/mfa/confirm'] button")
        .await;
    let codes = browser
        .text(&browser.wait_for("[data-recovery-codes]").await)
        .await;
    assert_eq!(codes.lines().count(), 10, "{codes}");
    browser.screenshot(&shot("06-recovery-codes")).await;

    // Sign out.
    browser.click("form[action='/logout'] button").await;
    browser.wait_for("input[name=password]").await;
    assert!(browser.current_url().await.contains("/login"));

    // Sign in again: password, then a code (the next step's: the current
    // one was spent confirming enrolment, and one step of skew is allowed).
    browser.type_into("input[name=name]", "ann").await;
    browser.type_into("input[name=password]", PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for("input[name=code]").await;
    assert!(browser.current_url().await.contains("/login/mfa"));
    browser.screenshot(&shot("07-mfa-step")).await;
    let next_code = code_at(
        &secret,
        Utc::now() + chrono::Duration::seconds(STEP_SECONDS),
    )
    .unwrap();
    browser.type_into("input[name=code]", &next_code).await;
    browser.click("button[type=submit]").await;
    browser.wait_for("dl.facts").await;
    let text = browser.page_text().await;
    assert!(text.contains("This node"), "signed in with a code: {text}");
    browser.screenshot(&shot("08-overview-after-mfa")).await;

    // The audit log has that sign-in, made with a TOTP code.
    browser.goto(&node.url("/audit?action=session.login")).await;
    let table = browser
        .text(&browser.wait_for("table[data-audit]").await)
        .await;
    let newest = table.lines().nth(1).unwrap_or_default().to_owned();
    assert!(
        newest.contains("ann")
            && newest.contains("session.login")
            && newest.contains("\"method\":\"totp\"")
            && !newest.contains("REDACTED"),
        "{table}"
    );
    browser.screenshot(&shot("09-audit")).await;

    // The same pages on a phone.
    browser.resize(390, 844).await;
    browser.goto(&node.url("/account")).await;
    browser.wait_for("form[action='/account/password']").await;
    browser.screenshot(&shot("10-account-phone")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_sees_a_discarded_job_and_retries_it_from_the_dashboard() {
    let Some(browser) = Browser::start(
        "browser::an_operator_sees_a_discarded_job_and_retries_it_from_the_dashboard",
    )
    .await
    else {
        return;
    };
    let flags = tempfile::tempdir().unwrap();
    let ready = flags.path().join("ready");
    // The job fails until the file exists.
    let stack = format!(
        r#"version = 1
[[queues]]
name = "checks"
deliver = "command"
command = ["sh", "-c", "test -e {ready} || {{ echo 'upstream not ready' >&2; exit 3; }}; echo all-good"]
max_attempts = 1
[[cron]]
name = "nightly-report"
schedule = "0 3 * * *"
queue = "checks"
"#,
        ready = ready.display()
    );
    let node = NodeBuilder::new(SOLO).config(&stack).spawn();
    add_admin(&node, "ann");
    solo(
        &node,
        &["jobs", "enqueue", "--queue", "checks", "--kind", "probe"],
    );
    sign_in(&browser, &node, "ann").await;

    // The queues at a glance, the discarded job with its error, the cron entry.
    let text = wait_for_text(&browser, &node, "/jobs", "exit status 3").await;
    assert!(
        text.contains("checks") && text.contains("command") && text.contains("nightly-report"),
        "{text}"
    );
    browser.wait_for("tr[data-queue=checks]").await;
    browser.screenshot(&shot("11-jobs")).await;

    // The job's page: its state, payload and every error.
    browser.click("tr[data-job] a").await;
    browser.wait_for("dl.facts").await;
    let url = browser.current_url().await;
    let id = url.rsplit('/').next().unwrap().to_owned();
    let text = browser.page_text().await;
    assert!(
        text.contains("discarded") && text.contains("upstream not ready"),
        "{text}"
    );
    browser.screenshot(&shot("12-job-discarded")).await;

    // Fix the cause, press Retry: the job runs again and completes.
    std::fs::write(&ready, "").unwrap();
    browser.click("form[action$='/retry'] button").await;
    // The POST's own page first: navigating away at once could cancel it.
    browser.wait_for("div.notice").await;
    let path = format!("/jobs/{id}");
    let text = wait_for_text(&browser, &node, &path, "completed").await;
    assert!(
        text.contains("2 of 2"),
        "the second attempt, one more allowed: {text}"
    );
    browser.screenshot(&shot("13-job-retried")).await;

    // The retry is in the audit log, by ann.
    let text = wait_for_text(&browser, &node, "/audit?action=jobs.retry", "jobs.retry").await;
    assert!(text.contains("ann"), "{text}");
}

/// `solo deploy --skip-preflight` of the project in `dir` to `node`.
fn deploy_release(dir: &std::path::Path, node: &SoloNode, version: &str, message: &str) {
    std::fs::write(dir.join("version.txt"), version).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    let out = Command::new(SOLO)
        .arg("--config")
        .arg(dir.join("solo.toml"))
        .arg("--listen")
        .arg(node.addr().to_string())
        .args(["deploy", "--skip-preflight"])
        .env_remove("SOLO_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_sees_the_releases_and_rolls_back_from_the_dashboard() {
    let Some(browser) =
        Browser::start("browser::an_operator_sees_the_releases_and_rolls_back_from_the_dashboard")
            .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let proxy = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let stack = format!(
        "version = 1\n[app]\nname = \"shop\"\nstart = \"exec {app}\"\nfiles = [\"version.txt\"]\n\
         [app.health]\npath = \"/healthz\"\ninterval = \"100ms\"\n[proxy]\nlisten = [\"{proxy}\"]\n",
        app = solo_test_support::app::test_app().display()
    );
    std::fs::write(dir.path().join("solo.toml"), &stack).unwrap();
    Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    let node = NodeBuilder::new(SOLO)
        .dir(dir.path())
        .config(&stack)
        .spawn();
    deploy_release(dir.path(), &node, "one", "feat: shop");
    deploy_release(dir.path(), &node, "two", "feat: carts");
    add_admin(&node, "ann");
    sign_in(&browser, &node, "ann").await;

    let text = wait_for_text(&browser, &node, "/releases", "Deploys and rollbacks").await;
    assert!(text.contains("0.2.0") && text.contains("0.1.0"), "{text}");
    assert!(text.contains("Change failure rate"), "{text}");
    browser.wait_for("dd[data-serving='0.2.0']").await;
    browser.screenshot(&shot("14-releases")).await;

    browser.click("tr[data-release='0.1.0'] form button").await;
    browser.wait_for("dd[data-serving='0.1.0']").await;
    let text = browser.page_text().await;
    assert!(text.contains("0.1.0 serves again"), "{text}");
    assert!(text.contains("from the dashboard"), "{text}");
    browser.screenshot(&shot("15-rolled-back")).await;
    let served = reqwest::get(format!("http://{proxy}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(served, "hello from one");

    let text = wait_for_text(
        &browser,
        &node,
        "/audit?action=deploy.rollback",
        "deploy.rollback",
    )
    .await;
    assert!(text.contains("ann"), "{text}");
}
