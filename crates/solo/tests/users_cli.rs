//! `solo users` and `solo tokens` on a real database, as an operator at a
//! shell would use them (passwords on standard input, never in argv).
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const PASSWORD: &str = "tangerine-oboe-43-glacier";

fn solo(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_solo"));
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("SOLO_")) {
            command.env_remove(key);
        }
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn stack() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = solo(dir.path(), &["init"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir
}

#[test]
fn users_are_managed_from_the_shell_with_passwords_on_stdin() {
    let dir = stack();
    let d = dir.path();

    let added = solo(
        d,
        &["users", "add", "ann", "--role", "admin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert_eq!(
        text(&added.stdout),
        "added ann (admin)\n",
        "one line, ended"
    );

    let weak = solo(
        d,
        &["users", "add", "bob", "--role", "viewer"],
        "qwerty123456\n",
    );
    assert_eq!(
        weak.status.code(),
        Some(2),
        "a rejected password is a usage error"
    );
    assert!(
        text(&weak.stderr).contains("commonly used passwords"),
        "{}",
        text(&weak.stderr)
    );

    let none = solo(d, &["users", "add", "bob", "--role", "viewer"], "");
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none.stderr).contains("no password on standard input"));

    let bad_role = solo(d, &["users", "add", "bob", "--role", "root"], "");
    assert_eq!(bad_role.status.code(), Some(2));
    assert!(text(&bad_role.stderr).contains("viewer, operator or admin"));

    assert!(
        solo(
            d,
            &["users", "add", "bob", "--role", "viewer"],
            &format!("{PASSWORD}\n")
        )
        .status
        .success()
    );
    let again = solo(
        d,
        &["users", "add", "BOB", "--role", "viewer"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already exists"));

    let last_admin = solo(d, &["users", "set-role", "ann", "operator"], "");
    assert_eq!(last_admin.status.code(), Some(2));
    assert!(
        text(&last_admin.stderr).contains("last enabled admin"),
        "{}",
        text(&last_admin.stderr)
    );

    assert!(
        solo(d, &["users", "set-role", "bob", "operator"], "")
            .status
            .success()
    );
    assert!(solo(d, &["users", "disable", "bob"], "").status.success());
    let list = solo(d, &["users", "list", "--json"], "");
    let users: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let bob = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "bob")
        .unwrap();
    assert_eq!(bob["role"], "operator");
    assert_eq!(bob["disabled"], true);
    assert!(
        !text(&list.stdout).contains("argon2"),
        "no hashes in listings"
    );

    let reset = solo(
        d,
        &["users", "reset-password", "bob"],
        "a-completely-new-phrase\n",
    );
    assert!(reset.status.success(), "{}", text(&reset.stderr));
    let missing = solo(d, &["users", "disable", "nobody"], "");
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("user `nobody` not found"));
}

#[test]
fn tokens_are_printed_once_and_listed_without_their_value() {
    let dir = stack();
    let d = dir.path();
    let created = solo(
        d,
        &[
            "tokens",
            "create",
            "--name",
            "ci",
            "--role",
            "operator",
            "--expires",
            "90d",
            "--json",
        ],
        "",
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let value = token["token"].as_str().unwrap();
    assert!(value.starts_with("solo_"));
    assert!(token["expires_at"].is_string());

    let list = solo(d, &["tokens", "list"], "");
    assert!(text(&list.stdout).contains("ci"));
    assert!(!text(&list.stdout).contains(value), "never shown again");

    let id = token["id"].as_str().unwrap();
    assert!(solo(d, &["tokens", "revoke", id], "").status.success());
    let twice = solo(d, &["tokens", "revoke", id], "");
    assert_eq!(twice.status.code(), Some(2));
    let list = solo(d, &["tokens", "list", "--json"], "");
    let tokens: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(tokens[0]["revoked"], true);

    let bad = solo(
        d,
        &[
            "tokens",
            "create",
            "--name",
            "x",
            "--role",
            "viewer",
            "--expires",
            "soon",
        ],
        "",
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("expected a number and a unit"),
        "{}",
        text(&bad.stderr)
    );
}

#[tokio::test]
async fn audit_verify_names_an_entry_changed_by_raw_sql() {
    use solo_store::sqlx;

    let dir = stack();
    let d = dir.path();
    let unmigrated = solo(d, &["audit", "verify"], "");
    assert_eq!(
        unmigrated.status.code(),
        Some(5),
        "verify reads; it never migrates"
    );
    assert!(
        text(&unmigrated.stderr).contains("solo up"),
        "{}",
        text(&unmigrated.stderr)
    );
    assert!(
        solo(
            d,
            &["users", "add", "ann", "--role", "admin"],
            &format!("{PASSWORD}\n")
        )
        .status
        .success()
    );
    assert!(
        solo(
            d,
            &["users", "add", "bob", "--role", "viewer"],
            &format!("{PASSWORD}\n")
        )
        .status
        .success()
    );
    assert!(
        solo(
            d,
            &["tokens", "create", "--name", "ci", "--role", "viewer"],
            ""
        )
        .status
        .success()
    );

    let ok = solo(d, &["audit", "verify"], "");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).contains("intact: 3 entries"),
        "{}",
        text(&ok.stdout)
    );

    let listed = solo(
        d,
        &[
            "audit", "list", "--action", "user.*", "--since", "1h", "--json",
        ],
        "",
    );
    let entries: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let targets: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["bob", "ann"]);
    assert!(
        entries[0]["actor"]["name"]
            .as_str()
            .unwrap()
            .starts_with("cli:")
    );
    let bad_since = solo(d, &["audit", "list", "--since", "yesterday-ish"], "");
    assert_eq!(bad_since.status.code(), Some(2));

    // Someone with the database file drops the guard and rewrites history.
    let url = format!("sqlite://{}", d.join(".solo/solo.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET target = 'mallory' WHERE seq = 2;",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let broken = solo(d, &["audit", "verify"], "");
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        text(&broken.stdout).contains("entry 2 is bad"),
        "{}",
        text(&broken.stdout)
    );
    assert!(
        text(&broken.stderr).contains("broken at entry 2"),
        "{}",
        text(&broken.stderr)
    );
}

#[test]
fn init_without_a_terminal_prints_how_to_create_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let out = solo(dir.path(), &["init"], "");
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("users add YOUR-NAME --role admin"),
        "{stdout}"
    );
    let users = solo(dir.path(), &["users", "list", "--json"], "");
    assert_eq!(text(&users.stdout).trim(), "[]", "nobody was created");
}

/// At a terminal (a pseudo-terminal from util-linux's `script`), `solo init`
/// offers to create the first admin and asks for the password twice.
#[test]
fn init_at_a_terminal_offers_to_create_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!("{} init", env!("CARGO_BIN_EXE_solo")),
            "/dev/null",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` gives the test a terminal");
    write!(child.stdin.take().unwrap(), "ann\n{PASSWORD}\n{PASSWORD}\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("Create the first admin now?"), "{stdout}");
    assert!(stdout.contains("Added ann (admin)"), "{stdout}");
    let users = solo(dir.path(), &["users", "list", "--json"], "");
    let users: serde_json::Value = serde_json::from_slice(&users.stdout).unwrap();
    assert_eq!(users[0]["name"], "ann");
    assert_eq!(users[0]["role"], "admin");
}
