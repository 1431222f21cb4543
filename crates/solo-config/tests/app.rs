//! `[app]`, `[proxy]` and `[preflight]`: what a good one means, and the
//! report for each mistake, pointing at its place.

use solo_config::{ConfigError, parse};

const APP: &str = "version = 1\n[app]\nname = \"shop\"\nstart = \"./shop\"\n";

fn error(source: &str) -> ConfigError {
    match parse(source, "solo.toml") {
        Ok(stack) => panic!("expected an error, got {stack:?}"),
        Err(err) => err,
    }
}

#[test]
fn a_minimal_app_gets_the_defaults() {
    let stack = parse(APP, "solo.toml").unwrap();
    let app = stack.app.unwrap();
    assert_eq!(
        (
            app.keep_releases,
            app.health.path.as_str(),
            app.health.successes
        ),
        (3, "/", 2)
    );
    assert_eq!(app.drain_timeout.as_std().as_secs(), 30);
    assert!(app.files.is_empty() && app.build.is_none());
    assert_eq!(stack.proxy.listen[0].to_string(), "127.0.0.1:8080");
    assert!(parse("version = 1\n", "solo.toml").unwrap().app.is_none());
}

#[test]
fn keep_releases_below_two() {
    let err = error(&format!("{APP}keep_releases = 1\n"));
    assert_eq!((err.line(), err.column()), (Some(5), Some(17)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn a_file_outside_the_repository() {
    let err = error(&format!("{APP}files = [\"bin\", \"../secrets\"]\n"));
    assert_eq!(err.line(), Some(5));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn a_health_path_without_a_slash() {
    let err = error(&format!("{APP}[app.health]\npath = \"healthz\"\n"));
    assert_eq!((err.line(), err.column()), (Some(6), Some(8)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn an_app_without_start() {
    let err = error("version = 1\n[app]\nname = \"shop\"\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn a_proxy_with_a_key_but_no_certificate() {
    let err = error(&format!("{APP}[proxy]\ntls_key = \"key.pem\"\n"));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn an_error_percent_over_a_hundred() {
    let err = error(&format!("{APP}[app.watch]\nmax_error_percent = 150\n"));
    assert_eq!(err.line(), Some(6));
    insta::assert_snapshot!(err.to_string());
}
