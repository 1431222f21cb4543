//! The full rendered report for every class of mistake in a solo.toml.

use solo_config::{ConfigError, ConfigErrorKind, parse};

fn error(source: &str) -> ConfigError {
    match parse(source, "solo.toml") {
        Ok(stack) => panic!("expected an error, got {stack:?}"),
        Err(err) => err,
    }
}

#[test]
fn unknown_top_level_key() {
    let err = error("version = 1\nname = \"blog\"\n");
    assert_eq!(err.kind(), ConfigErrorKind::Invalid);
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn misspelled_section() {
    let err = error("version = 1\n\n[nodes]\nlisten = \"127.0.0.1:7070\"\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn unknown_key_in_section_with_suggestion() {
    let err = error("version = 1\n[node]\ndata_dir = \".solo\"\nlisen = \"127.0.0.1:7070\"\n");
    assert_eq!(err.kind(), ConfigErrorKind::Invalid);
    assert_eq!(err.message(), "unknown key `lisen` in [node]");
    assert_eq!(err.help(), Some("did you mean `listen`?"));
    assert_eq!((err.line(), err.column()), (Some(4), Some(1)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn unknown_key_far_from_any_key() {
    let err = error("version = 1\n[http]\ncolour = \"blue\"\n");
    assert_eq!(
        err.help(),
        Some(
            "valid keys here: `request_timeout`, `body_limit`, `shutdown_grace`, `cors_origins`, `tls_cert`, `tls_key`, `public_metrics`"
        )
    );
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn unknown_key_in_dotted_and_inline_tables() {
    let err = error("version = 1\nnode.lisen = \"127.0.0.1:7070\"\n");
    assert_eq!(err.message(), "unknown key `lisen` in [node]");
    assert_eq!((err.line(), err.column()), (Some(2), Some(6)));
    let err = error("version = 1\nlog = { level = \"info\", formt = \"json\" }\n");
    assert_eq!(err.message(), "unknown key `formt` in [log]");
    assert_eq!(err.help(), Some("did you mean `format`?"));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn wrong_type() {
    let err = error("version = 1\n[http]\npublic_metrics = \"yes\"\n");
    assert_eq!(err.kind(), ConfigErrorKind::Invalid);
    assert_eq!(
        err.message(),
        "wrong type for `public_metrics` in [http]: expected a boolean, found a string"
    );
    assert_eq!((err.line(), err.column()), (Some(3), Some(18)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn wrong_type_number_in_quotes() {
    let err = error("version = 1\n[database]\nmax_connections = \"20\"\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn wrong_type_section_written_as_a_value() {
    let err = error("version = 1\nlog = \"debug\"\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn out_of_range_number() {
    let err = error("version = 1\n[database]\nmax_connections = 5000\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn bad_duration() {
    let err = error("version = 1\n[http]\nrequest_timeout = \"5x\"\n");
    assert_eq!(
        err.message(),
        "invalid duration `5x`: expected a number and a unit (ms, s, m, h, d), like `30s` or `5m`"
    );
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn duration_without_unit() {
    let err = error("version = 1\n[http]\nshutdown_grace = 10\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn bad_byte_size() {
    let err = error("version = 1\n[http]\nbody_limit = \"2mb\"\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn bad_address() {
    let err = error("version = 1\n[node]\nlisten = \"7070\"\n");
    assert_eq!((err.line(), err.column()), (Some(3), Some(10)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn bad_origin() {
    let err = error(
        "version = 1\n[http]\ncors_origins = [\n  \"https://app.example.com\",\n  \"https://admin.example.com/\",\n]\n",
    );
    assert_eq!((err.line(), err.column()), (Some(5), Some(3)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn wildcard_origin() {
    let err = error("version = 1\n[http]\ncors_origins = [\"*\"]\n");
    assert_eq!(
        err.help(),
        Some("list each origin exactly; `*` would let any website call solo's API")
    );
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn unknown_enum_variant_with_suggestion() {
    let err = error("version = 1\n[log]\nformat = \"jsn\"\n");
    assert_eq!(err.message(), "unknown log format `jsn`");
    assert_eq!(err.help(), Some("did you mean `json`?"));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn unknown_enum_variant_without_suggestion() {
    let err = error("version = 1\n[log]\nlevel = \"loud\"\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn password_in_database_url() {
    let err =
        error("version = 1\n[database]\nurl = \"postgres://solo:hunter2@db.internal/solo\"\n");
    let rendered = err.to_string();
    assert!(!rendered.contains("hunter2"), "{rendered}");
    assert!(!format!("{err:?}").contains("hunter2"));
    assert_eq!(
        err.help(),
        Some("keep passwords out of solo.toml: set SOLO_DATABASE_URL in the environment instead")
    );
    insta::assert_snapshot!(rendered);
}

#[test]
fn password_in_database_url_query() {
    let err = error(
        "version = 1\n[database]\nurl = \"postgres://db.internal/solo?user=solo&password=hunter2\"\n",
    );
    let rendered = err.to_string();
    assert!(!rendered.contains("hunter2"), "{rendered}");
    insta::assert_snapshot!(rendered);
}

#[test]
fn password_never_shown_by_other_errors_on_that_line() {
    // A syntax error on a line holding a password: the quoted line is masked too.
    let err = error("version = 1\n[database]\nurl = \"postgres://solo:hunter2@db/solo\" x\n");
    let rendered = err.to_string();
    assert_eq!(err.kind(), ConfigErrorKind::Syntax);
    assert!(!rendered.contains("hunter2"), "{rendered}");
}

#[test]
fn unsupported_database() {
    let err = error("version = 1\n[database]\nurl = \"mysql://db/solo\"\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn tls_cert_without_tls_key() {
    let err =
        error("version = 1\n[http]\nbody_limit = \"2MiB\"\ntls_cert = \"certs/fullchain.pem\"\n");
    assert_eq!(err.kind(), ConfigErrorKind::Invalid);
    assert_eq!((err.line(), err.column()), (Some(4), Some(1)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn tls_key_without_tls_cert() {
    let err = error("version = 1\nhttp = { tls_key = \"certs/privkey.pem\" }\n");
    assert_eq!(err.message(), "`tls_key` is set, but `tls_cert` is missing");
    assert_eq!((err.line(), err.column()), (Some(2), Some(10)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn empty_path() {
    let err = error("version = 1\n[node]\ndata_dir = \"\"\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn missing_version() {
    let err = error("# my stack\n[node]\nlisten = \"127.0.0.1:7070\"\n");
    assert_eq!(err.kind(), ConfigErrorKind::Version);
    assert_eq!((err.line(), err.column()), (Some(1), Some(1)));
    assert_eq!(err.message(), "missing `version = 1`");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn newer_version() {
    // The unknown section must not hide the real problem.
    let err = error("version = 2\n\n[teleport]\nenabled = true\n");
    assert_eq!(err.kind(), ConfigErrorKind::Version);
    assert_eq!((err.line(), err.column()), (Some(1), Some(11)));
    assert_eq!(
        err.message(),
        "this solo.toml is version 2, but this solo understands version 1"
    );
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn version_as_a_string() {
    let err = error("version = \"1\"\n");
    assert_eq!(err.kind(), ConfigErrorKind::Version);
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn version_zero() {
    let err = error("version = 0\n");
    assert_eq!(err.kind(), ConfigErrorKind::Version);
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn syntax_unterminated_string() {
    let err = error("version = 1\n[node]\nlisten = \"127.0.0.1:7070\n");
    assert_eq!(err.kind(), ConfigErrorKind::Syntax);
    assert_eq!(err.line(), Some(3));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn syntax_bad_table_header() {
    let err = error("version = 1\n[node\nlisten = \"127.0.0.1:7070\"\n");
    assert_eq!(err.kind(), ConfigErrorKind::Syntax);
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn syntax_duplicate_key() {
    let err =
        error("version = 1\n[node]\nlisten = \"127.0.0.1:7070\"\nlisten = \"0.0.0.0:7070\"\n");
    assert_eq!(err.kind(), ConfigErrorKind::Syntax);
    assert_eq!((err.line(), err.column()), (Some(4), Some(1)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn syntax_duplicate_table() {
    let err = error("version = 1\n[log]\nlevel = \"info\"\n\n[log]\nformat = \"json\"\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn syntax_unquoted_string() {
    let err = error("version = 1\n[log]\nlevel = debug\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn syntax_missing_value() {
    let err = error("version = 1\n[log]\nlevel =\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn gutter_widens_for_two_digit_lines() {
    let source = "version = 1\n\n# one\n# two\n# three\n# four\n# five\n\n[http]\n# timeouts\nrequest_timeout = \"30s\"\nbody_limit = \"lots\"\n";
    let err = error(source);
    assert_eq!(err.line(), Some(12));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn tabs_in_the_quoted_line() {
    let err = error("version = 1\n[node]\n\tlisten\t= \"nowhere\"\n");
    assert_eq!((err.line(), err.column()), (Some(3), Some(11)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn io_error_missing_file() {
    let err = match solo_config::load(std::path::Path::new("does/not/exist/solo.toml")) {
        Ok(stack) => panic!("expected an error, got {stack:?}"),
        Err(err) => err,
    };
    assert_eq!(err.kind(), ConfigErrorKind::Io);
    assert_eq!(err.origin(), "does/not/exist/solo.toml");
    assert_eq!((err.line(), err.column()), (None, None));
    assert_eq!(err.io_error_kind(), Some(std::io::ErrorKind::NotFound));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn origin_names_the_file() {
    let err = match parse("version = 1\nx = 1\n", "examples/demo/solo.toml") {
        Ok(_) => panic!("expected an error"),
        Err(err) => err,
    };
    assert_eq!(err.origin(), "examples/demo/solo.toml");
    assert!(
        err.to_string()
            .contains(" --> examples/demo/solo.toml:2:1\n")
    );
}

#[test]
fn section_written_as_an_array() {
    // serde would happily fill a struct from an array; solo insists on a table.
    let err = error("version = 1\nnode = [\"127.0.0.1:7070\"]\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn syntax_trailing_text() {
    let err = error("version = 1\n[log]\nformat = 'json' 'x'\n");
    assert_eq!(err.kind(), ConfigErrorKind::Syntax);
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn tls_pair_checked_for_dotted_keys_too() {
    let err = error("version = 1\nhttp.tls_cert = \"a.pem\"\n");
    assert_eq!(err.message(), "`tls_cert` is set, but `tls_key` is missing");
    assert_eq!((err.line(), err.column()), (Some(2), Some(6)));
}

#[test]
fn crlf_and_byte_order_mark() {
    let err = error("\u{feff}version = 1\r\n[node]\r\nlisen = 'x'\r\n");
    assert_eq!((err.line(), err.column()), (Some(3), Some(1)));
    assert!(!err.to_string().contains('\r'));
}

#[test]
fn wrong_type_inside_a_list() {
    let err = error("version = 1\n[http]\ncors_origins = [5]\n");
    assert_eq!(
        err.message(),
        "wrong type for `cors_origins` in [http]: expected an origin like `https://app.example.com`, found an integer"
    );
    assert_eq!(err.help(), Some("put the value in quotes"));
    assert_eq!((err.line(), err.column()), (Some(3), Some(17)));
}

#[test]
fn in_memory_sqlite_database() {
    for url in [
        "sqlite::memory:",
        "sqlite://:memory:",
        "sqlite::memory:?cache=shared",
        "sqlite:file::memory:",
        "sqlite:solo.db?mode=memory",
        "sqlite://solo.db?cache=shared&mode=memory",
    ] {
        let err = error(&format!("version = 1\n[database]\nurl = \"{url}\"\n"));
        assert_eq!(err.kind(), ConfigErrorKind::Invalid, "{url}");
        assert_eq!((err.line(), err.column()), (Some(3), Some(7)), "{url}");
        assert!(err.message().contains("in-memory"), "{url}: {err}");
    }
    let err = error("version = 1\n[database]\nurl = \"sqlite::memory:\"\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn zero_request_timeout() {
    let err = error("version = 1\n[http]\nrequest_timeout = \"0s\"\n");
    assert_eq!((err.line(), err.column()), (Some(3), Some(19)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn zero_shutdown_grace() {
    let err = error("version = 1\nhttp = { shutdown_grace = \"0ms\" }\n");
    assert_eq!((err.line(), err.column()), (Some(2), Some(27)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn zero_statement_timeout() {
    let err = error("version = 1\n[database]\nstatement_timeout = \"0s\"\n");
    assert_eq!((err.line(), err.column()), (Some(3), Some(21)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn statement_timeout_over_an_hour() {
    let err = error("version = 1\n[database]\nstatement_timeout = \"1h1ms\"\n");
    assert_eq!((err.line(), err.column()), (Some(3), Some(21)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn data_dir_that_holds_the_stack_file() {
    for dir in [".", "./", "..", "../..", "state/..", "./state/../.."] {
        let err = error(&format!("version = 1\n[node]\ndata_dir = \"{dir}\"\n"));
        assert_eq!(err.kind(), ConfigErrorKind::Invalid, "{dir}");
        assert_eq!((err.line(), err.column()), (Some(3), Some(12)), "{dir}");
    }
    let err = error("version = 1\n[node]\ndata_dir = \".\"\n");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn zero_session_idle() {
    let err = error("version = 1\n[access]\nsession_idle = \"0s\"\n");
    assert_eq!((err.line(), err.column()), (Some(3), Some(16)));
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn session_lifetime_over_thirty_days() {
    let err = error("version = 1\n[access]\nsession_lifetime = \"31d\"\n");
    assert_eq!((err.line(), err.column()), (Some(3), Some(20)));
    insta::assert_snapshot!(err.to_string());
}
