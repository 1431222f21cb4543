//! Files that parse, and what they parse to.

use std::path::{Path, PathBuf};

use solo_config::{
    ByteSize, CURRENT_VERSION, DatabaseSection, Duration, EXAMPLE_STACK, HttpSection, ListenAddr,
    LogFormat, LogLevel, NodeSection, StackFile, TlsFiles, parse,
};

fn ok(source: &str) -> StackFile {
    match parse(source, "solo.toml") {
        Ok(stack) => stack,
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn empty_but_versioned_file_gives_the_defaults() {
    let stack = ok("version = 1\n");
    assert_eq!(stack, StackFile::default());
    assert_eq!(stack.version, CURRENT_VERSION);
    assert_eq!(stack.node.listen, None);
    assert_eq!(stack.node.data_dir, None);
    assert_eq!(stack.database.url, None);
    assert_eq!(stack.database.max_connections, 10);
    assert_eq!(stack.database.statement_timeout, Duration::from_secs(30));
    assert_eq!(stack.http.request_timeout, Duration::from_secs(30));
    assert_eq!(stack.http.body_limit.bytes(), 2 * 1024 * 1024);
    assert_eq!(stack.http.shutdown_grace, Duration::from_secs(10));
    assert!(stack.http.cors_origins.is_empty());
    assert_eq!(stack.http.tls, None);
    assert!(stack.http.public_metrics);
    assert_eq!(stack.log.level, LogLevel::Info);
    assert_eq!(stack.log.format, LogFormat::Auto);
}

#[test]
fn empty_sections_are_fine() {
    assert_eq!(
        ok("version = 1\n[node]\n[database]\n[http]\n[log]\n"),
        StackFile::default()
    );
}

#[test]
fn node_defaults_are_applied_by_the_caller() {
    let node = NodeSection::default();
    assert_eq!(node.listen_or_default(), ListenAddr::DEFAULT);
    assert_eq!(node.listen_or_default().to_string(), "127.0.0.1:7070");
    assert_eq!(node.data_dir_or_default(), Path::new(".solo"));
}

#[test]
fn example_stack_parses_to_the_defaults() {
    let stack = ok(EXAMPLE_STACK);
    // The example spells out listen and data_dir; everything else is the default.
    let expected = StackFile {
        node: NodeSection {
            listen: Some(ListenAddr::DEFAULT),
            data_dir: Some(PathBuf::from(NodeSection::DEFAULT_DATA_DIR)),
        },
        ..StackFile::default()
    };
    assert_eq!(stack, expected);
}

#[test]
fn example_stack_mentions_every_key() {
    for key in [
        "version",
        "[node]",
        "listen",
        "data_dir",
        "[database]",
        "url",
        "max_connections",
        "statement_timeout",
        "[http]",
        "request_timeout",
        "body_limit",
        "shutdown_grace",
        "cors_origins",
        "tls_cert",
        "tls_key",
        "public_metrics",
        "[log]",
        "level",
        "format",
        "[access]",
        "session_idle",
        "session_lifetime",
        "require_mfa_for_admins",
        "SOLO_DATABASE_URL",
        "[app]",
        "build",
        "files",
        "start",
        "required_env",
        "drain_timeout",
        "keep_releases",
        "[app.health]",
        "[app.watch]",
        "[app.restart]",
        "[proxy]",
        "[preflight]",
        "allow_file",
    ] {
        assert!(
            EXAMPLE_STACK.contains(key),
            "EXAMPLE_STACK does not mention {key}"
        );
    }
}

#[test]
fn example_stack_commented_lines_are_valid_when_uncommented() {
    // Uncommenting the optional keys gives a file that still parses.
    let uncommented: String = EXAMPLE_STACK
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if (rest.contains(" = ") || rest.starts_with('['))
                    && !rest.contains("cors_origins") =>
            {
                rest
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let stack = ok(&uncommented);
    assert!(stack.database.url.is_some_and(|url| url.is_postgres()));
    assert!(stack.http.tls.is_some());
    assert_eq!(
        (
            stack.queues.len(),
            stack.cron.len(),
            stack.subscriptions.len()
        ),
        (3, 1, 1)
    );
    let app = stack.app.expect("[app]");
    assert_eq!((app.name.as_str(), app.keep_releases), ("shop", 3));
    assert_eq!(app.health.path, "/healthz");
    assert_eq!(stack.proxy.listen.len(), 1);
    assert!(stack.preflight.debug_patterns.contains_key("rs"));
}

#[test]
fn every_key_set() {
    let stack = ok(r#"
version = 1

[node]
listen = "localhost:9000"
data_dir = "/var/lib/solo"

[database]
url = "postgresql://solo@db.internal:5432/solo?sslmode=require"
max_connections = 25
statement_timeout = "1m30s"

[http]
request_timeout = "250ms"
body_limit = 1048576
shutdown_grace = "1h"
cors_origins = ["https://App.Example.com:443", "http://localhost:3000"]
tls_cert = "certs/fullchain.pem"
tls_key = "certs/privkey.pem"
public_metrics = true

[log]
level = "debug"
format = "json"
"#);
    assert_eq!(
        stack.node.listen.map(ListenAddr::socket_addr),
        "127.0.0.1:9000".parse().ok()
    );
    assert_eq!(
        stack.node.data_dir.as_deref(),
        Some(Path::new("/var/lib/solo"))
    );
    let database = &stack.database;
    assert_eq!(
        database.url.as_ref().map(|u| u.as_str()),
        Some("postgresql://solo@db.internal:5432/solo?sslmode=require")
    );
    assert_eq!(database.max_connections, 25);
    assert_eq!(database.statement_timeout, Duration::from_secs(90));
    let http = &stack.http;
    assert_eq!(
        http.request_timeout.as_std(),
        std::time::Duration::from_millis(250)
    );
    assert_eq!(http.body_limit, ByteSize::mib(1));
    assert_eq!(http.shutdown_grace, Duration::from_secs(3600));
    assert_eq!(
        http.cors_origins
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>(),
        ["https://app.example.com", "http://localhost:3000"]
    );
    assert_eq!(
        http.tls,
        Some(TlsFiles {
            cert: "certs/fullchain.pem".into(),
            key: "certs/privkey.pem".into(),
        })
    );
    assert!(http.public_metrics);
    assert_eq!(stack.log.level, LogLevel::Debug);
    assert_eq!(stack.log.format, LogFormat::Json);
}

#[test]
fn dotted_and_inline_tables_work_too() {
    let stack = ok("version = 1\nlog.level = \"warn\"\nhttp = { body_limit = \"1MiB\" }\n");
    assert_eq!(stack.log.level, LogLevel::Warn);
    assert_eq!(stack.http.body_limit, ByteSize::mib(1));
}

#[test]
fn sections_are_usable_on_their_own() {
    assert_eq!(DatabaseSection::MAX_CONNECTIONS, 1..=1000);
    assert!(HttpSection::default().public_metrics);
}

#[test]
fn load_reads_a_file() {
    let dir = std::env::temp_dir().join(format!("solo-config-load-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("solo.toml");
    assert!(std::fs::write(&path, "version = 1\n[log]\nlevel = \"trace\"\n").is_ok());
    let stack = solo_config::load(&path);
    let bad = dir.join("bad.toml");
    assert!(std::fs::write(&bad, "version = 1\n[log]\nlevel = \"loud\"\n").is_ok());
    let err = solo_config::load(&bad).err();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(stack.map(|s| s.log.level).ok(), Some(LogLevel::Trace));
    // Errors name the file by the path as given.
    let origin = bad.display().to_string();
    assert_eq!(err.as_ref().map(|e| e.origin()), Some(origin.as_str()));
    assert!(err.is_some_and(|e| e.to_string().contains(&format!("--> {origin}:3:9"))));
}

#[test]
fn serializes_back_to_an_equal_stack() {
    let source = "version = 1\n[database]\nurl = \"sqlite:solo.db\"\n[http]\nbody_limit = \"64KiB\"\ncors_origins = [\"http://localhost:3000\"]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n";
    let stack = ok(source);
    let value = toml::Value::try_from(&stack);
    let back: Option<StackFile> = value.ok().and_then(|v| v.try_into().ok());
    assert_eq!(back, Some(stack));
}

#[test]
fn a_plain_serde_parse_still_checks_the_version() {
    assert!(toml::from_str::<StackFile>("version = 2\n").is_err());
    assert!(toml::from_str::<StackFile>("version = 1\n").is_ok());
}

#[test]
fn durations_at_their_limits_are_fine() {
    let stack = ok(
        "version = 1\n[http]\nrequest_timeout = \"1ms\"\nshutdown_grace = \"1ms\"\n[database]\nstatement_timeout = \"1h\"\n",
    );
    assert_eq!(stack.http.request_timeout, Duration::from_millis(1));
    assert_eq!(stack.http.shutdown_grace, Duration::from_millis(1));
    assert_eq!(stack.database.statement_timeout, Duration::from_secs(3600));
    assert_eq!(
        DatabaseSection::MAX_STATEMENT_TIMEOUT,
        Duration::from_secs(3600)
    );
}

#[test]
fn data_dirs_below_or_beside_the_stack_file_are_fine() {
    for dir in [
        ".solo",
        "./state",
        "state/../.solo",
        "../state",
        "/var/lib/solo",
    ] {
        let stack = ok(&format!("version = 1\n[node]\ndata_dir = \"{dir}\"\n"));
        assert_eq!(stack.node.data_dir.as_deref(), Some(Path::new(dir)));
    }
}

#[test]
fn file_backed_sqlite_urls_are_fine() {
    for url in [
        "sqlite:data/solo.db",
        "sqlite:///var/lib/solo/solo.db",
        "sqlite:solo.db?mode=rwc",
    ] {
        let stack = ok(&format!("version = 1\n[database]\nurl = \"{url}\"\n"));
        assert!(stack.database.url.is_some_and(|u| u.is_sqlite()), "{url}");
    }
}

#[test]
fn access_section_reads_its_settings() {
    let stack = ok(
        "version = 1\n[access]\nsession_idle = \"10m\"\nsession_lifetime = \"8h\"\nrequire_mfa_for_admins = true\n",
    );
    assert_eq!(stack.access.session_idle.as_std().as_secs(), 600);
    assert_eq!(stack.access.session_lifetime.as_std().as_secs(), 8 * 3600);
    assert!(stack.access.require_mfa_for_admins);
    let stack = ok("version = 1\n[access]\nsession_lifetime = \"30d\"\n");
    assert_eq!(
        stack.access.session_lifetime.as_std().as_secs(),
        30 * 86_400
    );
}
