//! The command line as a user meets it: help, init, check, overrides, exit codes.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn solo(dir: &Path, args: &[&str]) -> Output {
    solo_env(dir, args, &[])
}

fn solo_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(dir, args, env).output().unwrap()
}

fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_solo"));
    command.args(args).current_dir(dir);
    without_solo_env(&mut command);
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// `solo up`, which must refuse to start: a node that starts anyway (on a free port) is
/// killed after a while and fails the test, instead of hanging it.
fn solo_up_refused(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut argv = vec!["up", "--listen", "127.0.0.1:0"];
    argv.extend(args);
    let mut child = command(dir, &argv, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`solo {}` started instead of refusing:\n{}{}",
                argv.join(" "),
                stdout(&out),
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Takes every `SOLO_*` variable out of the child's environment: the one running the tests may
/// hold any (a developer's own SOLO_DATABASE_URL, the harness's SOLO_TEST_POSTGRES, a variable
/// a later solo reads), and none of them may change what a test sees.
fn without_solo_env(command: &mut Command) -> &mut Command {
    let inherited = std::env::vars_os().map(|(key, _)| key);
    let explicit: Vec<_> = command.get_envs().map(|(key, _)| key.to_owned()).collect();
    for key in inherited.chain(explicit) {
        if key.to_string_lossy().starts_with("SOLO_") {
            command.env_remove(key);
        }
    }
    command
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn help_names_every_command_setting_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = solo(dir.path(), &["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for needle in [
        "init",
        "up",
        "check",
        "status",
        "--config",
        "SOLO_CONFIG",
        "--listen",
        "SOLO_LISTEN",
        "--data-dir",
        "SOLO_DATA_DIR",
        "--database-url",
        "SOLO_DATABASE_URL",
        "--json",
        "Exit codes",
        "127.0.0.1:7070",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    let version = solo(dir.path(), &["--version"]);
    assert_eq!(
        stdout(&version).trim(),
        format!("solo {}", env!("CARGO_PKG_VERSION"))
    );
    let wrong = solo(dir.path(), &["frobnicate"]);
    assert_eq!(wrong.status.code(), Some(2));
}

#[test]
fn init_writes_a_valid_commented_stack_and_a_private_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = solo(dir.path(), &["init", "app"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("cd app && solo up"),
        "{}",
        stdout(&out)
    );
    let config = std::fs::read_to_string(dir.path().join("app/solo.toml")).unwrap();
    assert!(config.starts_with("# solo.toml") && config.contains("version = 1"));
    let data = dir.path().join("app/.solo");
    assert!(data.is_dir());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(
        std::fs::read_to_string(data.join(".gitignore"))
            .unwrap()
            .contains('*')
    );

    let check = solo(&dir.path().join("app"), &["check"]);
    assert!(
        check.status.success(),
        "the example is valid: {}",
        stderr(&check)
    );

    let again = solo(dir.path(), &["init", "app"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists") && stderr(&again).contains("--force"),
        "{}",
        stderr(&again)
    );
    let forced = solo(dir.path(), &["init", "app", "--force", "--json"]);
    assert!(forced.status.success());
    assert!(
        json(&forced)["config"]
            .as_str()
            .unwrap()
            .ends_with("app/solo.toml")
    );
}

#[test]
fn check_reports_a_bad_file_with_its_position_and_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("solo.toml"),
        "version = 1\n\n[http]\nrequest_timeout = \"5x\"\n",
    )
    .unwrap();
    let out = solo(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("error: invalid duration `5x`"), "{err}");
    assert!(err.contains("--> solo.toml:4:19"), "{err}");
    assert!(err.contains("4 | request_timeout = \"5x\""), "{err}");
    assert!(err.contains('^'), "{err}");

    let out = solo(dir.path(), &["check", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let body = json(&out);
    assert_eq!(body["error"]["code"], "config_invalid");
    assert_eq!(body["error"]["line"], 4);
    assert_eq!(body["error"]["column"], 19);
    assert_eq!(body["error"]["exit_code"], 3);

    std::fs::write(
        dir.path().join("solo.toml"),
        "version = 1\n[node]\nlisen = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let err = stderr(&solo(dir.path(), &["check"]));
    assert!(err.contains("did you mean `listen`?"), "{err}");
}

#[test]
fn a_missing_stack_file_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["check", "up"] {
        let out = solo(dir.path(), &[command]);
        assert_eq!(out.status.code(), Some(3), "{command}");
        assert!(
            stderr(&out).contains("solo init"),
            "{command}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn flags_beat_environment_beats_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.toml"),
        "version = 1\n[node]\nlisten = \"127.0.0.1:7001\"\ndata_dir = \"state\"\n",
    )
    .unwrap();
    let file = json(&solo(
        dir.path(),
        &["check", "--json", "--config", "stack.toml"],
    ));
    assert_eq!(file["listen"], "127.0.0.1:7001");
    assert!(
        file["data_dir"].as_str().unwrap().ends_with("/state"),
        "relative to the file: {file}"
    );
    assert_eq!(file["database_backend"], "sqlite");
    assert!(
        file["database"]
            .as_str()
            .unwrap()
            .ends_with("/state/solo.db")
    );

    let env = [
        ("SOLO_CONFIG", "stack.toml"),
        ("SOLO_LISTEN", "127.0.0.1:7002"),
        ("SOLO_DATA_DIR", "/tmp/solo-env-dir"),
    ];
    let from_env = json(&solo_env(dir.path(), &["check", "--json"], &env));
    assert_eq!(from_env["listen"], "127.0.0.1:7002");
    assert_eq!(from_env["data_dir"], "/tmp/solo-env-dir");

    let from_flag = json(&solo_env(
        dir.path(),
        &[
            "check",
            "--json",
            "--listen",
            "0.0.0.0:7003",
            "--data-dir",
            "/tmp/solo-flag-dir",
        ],
        &env,
    ));
    assert_eq!(from_flag["listen"], "0.0.0.0:7003");
    assert_eq!(from_flag["data_dir"], "/tmp/solo-flag-dir");

    let pg = json(&solo_env(
        dir.path(),
        &["check", "--json"],
        &[
            ("SOLO_CONFIG", "stack.toml"),
            (
                "SOLO_DATABASE_URL",
                "postgres://solo:pw-in-env@db.internal:5433/app",
            ),
        ],
    ));
    assert_eq!(pg["database_backend"], "postgres");
    assert_eq!(
        pg["database"], "postgres://db.internal:5433/app",
        "described without credentials"
    );

    let bad = solo_env(
        dir.path(),
        &["check"],
        &[("SOLO_CONFIG", "stack.toml"), ("SOLO_LISTEN", "nonsense")],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("nonsense"), "{}", stderr(&bad));
}

#[test]
fn a_password_on_the_command_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("solo.toml"), "version = 1\n").unwrap();
    let out = solo(
        dir.path(),
        &[
            "check",
            "--database-url",
            "postgres://solo:hunter2hunter2@db/solo",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("SOLO_DATABASE_URL"), "{err}");
    assert!(!err.contains("hunter2hunter2"), "{err}");
    let without = solo(
        dir.path(),
        &["check", "--database-url", "postgres://solo@db/solo"],
    );
    assert!(without.status.success(), "{}", stderr(&without));
}

#[test]
fn status_without_a_node_exits_4_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    // Bind and drop: a port where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let out = solo(dir.path(), &["status", "--listen", &addr]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains(&format!("no solo node answers at http://{addr}")),
        "{}",
        stderr(&out)
    );
    let out = solo(dir.path(), &["status", "--listen", &addr, "--json"]);
    assert_eq!(json(&out)["error"]["code"], "unreachable");
}

#[test]
fn no_solo_variable_reaches_the_child() {
    // `env` stands in for solo: it prints the environment it was given.
    let mut command = Command::new("env");
    command.env("SOLO_SET_ON_THE_COMMAND", "1");
    let seen = stdout(&without_solo_env(&mut command).output().unwrap());
    let leaked: Vec<_> = seen.lines().filter(|l| l.starts_with("SOLO_")).collect();
    assert!(leaked.is_empty(), "{leaked:?}");

    // Whatever this environment holds: run this test again under a hostile one.
    if std::env::var_os("SOLO_CLI_TEST_HOSTILE_ENV").is_none() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "no_solo_variable_reaches_the_child"])
            .env("SOLO_CLI_TEST_HOSTILE_ENV", "1")
            .env("SOLO_LISTEN", "nonsense")
            .env("SOLO_DATA_DIR", "/")
            .env("SOLO_DATABASE_URL", "mysql://nowhere/solo")
            .env("SOLO_A_VARIABLE_A_LATER_SOLO_READS", "x")
            .output()
            .unwrap();
        assert!(
            out.status.success() && stdout(&out).contains("1 passed"),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
    } else {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("solo.toml"), "version = 1\n").unwrap();
        let out = solo(dir.path(), &["check", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(json(&out)["listen"], "127.0.0.1:7070");
    }
}

/// Every config refusal added with the review: exit 3, with the file position.
#[test]
fn config_refusals_exit_3_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    for (file, position, needle) in [
        (
            "version = 1\n[database]\nurl = \"sqlite::memory:\"\n",
            "solo.toml:3:7",
            "in-memory",
        ),
        (
            "version = 1\n[http]\nrequest_timeout = \"0s\"\n",
            "solo.toml:3:19",
            "request_timeout",
        ),
        (
            "version = 1\n[database]\nstatement_timeout = \"2h\"\n",
            "solo.toml:3:21",
            "statement_timeout",
        ),
        (
            "version = 1\n[node]\ndata_dir = \".\"\n",
            "solo.toml:3:12",
            "data_dir",
        ),
    ] {
        std::fs::write(dir.path().join("solo.toml"), file).unwrap();
        for out in [
            solo(dir.path(), &["check"]),
            solo_up_refused(dir.path(), &[], &[]),
        ] {
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(3), "{file}: {err}");
            assert!(err.contains(&format!("--> {position}")), "{err}");
            assert!(err.contains(needle), "{err}");
            assert!(err.contains("= help: "), "{err}");
        }
    }
    assert!(
        !dir.path().join(".solo").exists() && !dir.path().join(".gitignore").exists(),
        "nothing was created"
    );
}

#[test]
fn an_in_memory_database_url_from_the_flag_or_environment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("solo.toml"), "version = 1\n").unwrap();
    for url in [
        "sqlite::memory:",
        "sqlite://:memory:",
        "sqlite:file::memory:",
        "sqlite:solo.db?mode=memory",
    ] {
        for out in [
            solo(dir.path(), &["check", "--database-url", url]),
            solo_up_refused(dir.path(), &[], &[("SOLO_DATABASE_URL", url)]),
        ] {
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(3), "{url}: {err}");
            assert!(err.contains("--database-url"), "{url}: {err}");
            assert!(err.contains("SOLO_DATABASE_URL"), "{url}: {err}");
            assert!(err.contains("in-memory"), "{url}: {err}");
            assert!(err.contains("file path"), "{url}: {err}");
        }
    }
    let out = solo_env(
        dir.path(),
        &["check", "--json"],
        &[("SOLO_DATABASE_URL", "sqlite::memory:")],
    );
    assert_eq!(json(&out)["error"]["exit_code"], 3);
    // A refused URL is still described without its secrets.
    let out = solo_env(
        dir.path(),
        &["check"],
        &[("SOLO_DATABASE_URL", "mysql://solo:hunter2hunter2@db/solo")],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(!stderr(&out).contains("hunter2hunter2"), "{}", stderr(&out));
}

#[test]
fn a_relative_sqlite_path_in_the_stack_file_is_relative_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::absolute(dir.path()).unwrap();
    std::fs::create_dir_all(root.join("conf")).unwrap();
    std::fs::create_dir_all(root.join("elsewhere")).unwrap();
    std::fs::write(
        root.join("conf/solo.toml"),
        "version = 1\n[database]\nurl = \"sqlite:data/solo.db\"\n",
    )
    .unwrap();
    let config = root.join("conf/solo.toml");
    let config = config.to_str().unwrap();
    let out = solo(
        &root.join("elsewhere"),
        &["check", "--json", "--config", config],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let checked = json(&out);
    assert_eq!(checked["database_backend"], "sqlite");
    assert_eq!(
        checked["database"],
        root.join("conf/data/solo.db").to_str().unwrap()
    );

    // `sqlite://` spells the same relative path.
    std::fs::write(
        root.join("conf/solo.toml"),
        "version = 1\n[database]\nurl = \"sqlite://data/solo.db?mode=rwc\"\n",
    )
    .unwrap();
    let out = solo(
        &root.join("elsewhere"),
        &["check", "--json", "--config", config],
    );
    assert_eq!(
        json(&out)["database"],
        root.join("conf/data/solo.db").to_str().unwrap()
    );

    // On the command line and in the environment, relative to the working directory.
    let from_flag = solo(
        &root.join("elsewhere"),
        &[
            "check",
            "--json",
            "--config",
            config,
            "--database-url",
            "sqlite:cli.db",
        ],
    );
    assert_eq!(
        json(&from_flag)["database"],
        root.join("elsewhere/cli.db").to_str().unwrap()
    );
    let from_env = solo_env(
        &root.join("elsewhere"),
        &["check", "--json", "--config", config],
        &[("SOLO_DATABASE_URL", "sqlite:env/solo.db")],
    );
    assert_eq!(
        json(&from_env)["database"],
        root.join("elsewhere/env/solo.db").to_str().unwrap()
    );
}

#[test]
fn init_leaves_an_existing_data_dir_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("app/.solo");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o751)).unwrap();
    let out = solo(dir.path(), &["init", "app"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o751,
        "an existing directory keeps its mode"
    );
    assert!(!data.join(".gitignore").exists(), "and gets no .gitignore");
    assert!(
        stdout(&out).contains("already existed") && !stdout(&out).contains("git-ignored"),
        "{}",
        stdout(&out)
    );
    let json_out = solo(dir.path(), &["init", "app", "--force", "--json"]);
    assert_eq!(json(&json_out)["data_dir_created"], false);

    // A directory init makes itself is private and git-ignored.
    let fresh = solo(dir.path(), &["init", "fresh", "--json"]);
    assert_eq!(json(&fresh)["data_dir_created"], true);
    let data = dir.path().join("fresh/.solo");
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(data.join(".gitignore").exists());
}

#[test]
fn a_data_dir_holding_the_stack_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::absolute(dir.path()).unwrap();
    let app = root.join("app");
    let app_str = app.to_str().unwrap();
    std::fs::create_dir_all(&app).unwrap();

    // init: its own directory, or a parent of it, as the data directory.
    for data_dir in [app_str, root.to_str().unwrap(), "/"] {
        let out = solo(&root, &["init", "app", "--data-dir", data_dir]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{data_dir}: {err}");
        assert!(err.contains("holds the stack file"), "{data_dir}: {err}");
        assert!(err.contains("--data-dir"), "{data_dir}: {err}");
    }
    assert!(
        !app.join("solo.toml").exists(),
        "init refused before writing"
    );
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert_ne!(mode(&app), 0o700);
    assert!(!app.join(".gitignore").exists());

    // check and up: whichever way it is given.
    std::fs::write(app.join("solo.toml"), "version = 1\n").unwrap();
    let absolute = format!("version = 1\n[node]\ndata_dir = \"{app_str}\"\n");
    let sneaky = "version = 1\n[node]\ndata_dir = \"../app\"\n";
    for (file, args, env) in [
        ("version = 1\n", vec!["--data-dir", "."], vec![]),
        ("version = 1\n", vec![], vec![("SOLO_DATA_DIR", "..")]),
        (absolute.as_str(), vec![], vec![]),
        (sneaky, vec![], vec![]),
    ] {
        std::fs::write(app.join("solo.toml"), file).unwrap();
        let mut check = vec!["check"];
        check.extend(&args);
        for out in [
            solo_env(&app, &check, &env),
            solo_up_refused(&app, &args, &env),
        ] {
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(3), "{args:?} {env:?} {file}: {err}");
            assert!(err.contains("holds the stack file"), "{err}");
        }
    }
    assert_ne!(mode(&app), 0o700);
    assert!(!app.join(".gitignore").exists());
}

#[test]
fn status_does_not_need_a_valid_database_url() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("solo.toml"), "version = 1\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    for url in ["mysql://db/solo", "sqlite::memory:", "nonsense"] {
        let out = solo_env(
            dir.path(),
            &["status", "--listen", &addr],
            &[("SOLO_DATABASE_URL", url)],
        );
        assert_eq!(out.status.code(), Some(4), "{url}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("no solo node answers"),
            "{}",
            stderr(&out)
        );
    }
}
