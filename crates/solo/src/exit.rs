//! Exit codes scripts can trust, and the one error type commands return.

use std::fmt;

/// Documented in `solo --help`; never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Something failed at run time (database unreachable, port taken…).
    Failure = 1,
    /// The command line was wrong (clap uses this too).
    Usage = 2,
    /// solo.toml is missing or invalid.
    Config = 3,
    /// No node answered (`solo status`).
    Unreachable = 4,
    /// The database refused this binary: its schema is newer, or an applied
    /// migration was changed.
    Schema = 5,
    /// A deploy or rollback did not go live; the release before it serves.
    NotLive = 6,
}

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  failure at run time (database unreachable, address in use, …)
  2  wrong command line
  3  solo.toml missing or invalid
  4  no node answered (solo status)
  5  the database refused this binary (schema newer than solo, or a changed migration)
  6  a deploy or rollback did not go live (the release before it still serves)";

/// An error on its way to the user: what to print, and how to exit.
pub struct CliError {
    pub exit: Exit,
    /// Machine code for `--json` output, e.g. `config_invalid`.
    pub code: &'static str,
    pub report: anyhow::Error,
    /// Already rendered for humans (a config diagnostic): print as is.
    pub rendered: Option<String>,
    /// Extra fields for `--json` output (a config error's line and column).
    pub details: Option<serde_json::Value>,
}

impl CliError {
    pub fn new(exit: Exit, code: &'static str, report: impl Into<anyhow::Error>) -> Self {
        CliError {
            exit,
            code,
            report: report.into(),
            rendered: None,
            details: None,
        }
    }

    pub fn failure(report: impl Into<anyhow::Error>) -> Self {
        CliError::new(Exit::Failure, "failure", report)
    }
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:#}", self.exit, self.report)
    }
}

impl From<solo_config::ConfigError> for CliError {
    fn from(error: solo_config::ConfigError) -> Self {
        let details = serde_json::json!({
            "file": error.origin(),
            "line": error.line(),
            "column": error.column(),
            "help": error.help(),
        });
        CliError {
            exit: Exit::Config,
            code: "config_invalid",
            report: anyhow::anyhow!("{}", error.message()),
            rendered: Some(error.to_string()),
            details: Some(details),
        }
    }
}

impl From<solo_store::StoreError> for CliError {
    fn from(error: solo_store::StoreError) -> Self {
        use solo_store::StoreError as E;
        let (exit, code) = match &error {
            E::MigrationChanged { .. } | E::DatabaseNewer { .. } | E::MigrationGap { .. } => {
                (Exit::Schema, "schema_refused")
            }
            E::InvalidUrl { .. } => (Exit::Config, "config_invalid"),
            _ => (Exit::Failure, "database"),
        };
        CliError::new(exit, code, error)
    }
}

/// `.context(...)`-style helper producing a runtime failure.
pub trait OrFail<T> {
    fn or_fail(self, what: impl FnOnce() -> String) -> Result<T, CliError>;
}

impl<T, E: Into<anyhow::Error>> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: impl FnOnce() -> String) -> Result<T, CliError> {
        self.map_err(|e| CliError::failure(e.into().context(what())))
    }
}
