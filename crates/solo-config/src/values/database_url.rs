use std::fmt;
use std::str::FromStr;

use super::{ValueError, serde_via_str};
use crate::redact::redact_secrets;

/// Where solo keeps its state: `postgres://…`, `postgresql://…` or `sqlite:…`.
///
/// A relative `sqlite:` path is kept as written: it is relative to the directory holding
/// `solo.toml`, which the caller resolves. An in-memory SQLite database (`sqlite::memory:`,
/// `mode=memory`) is refused: solo's state must survive a restart.
///
/// A URL carrying a password is refused: passwords belong in the `SOLO_DATABASE_URL`
/// environment variable, not in a file that gets committed. `Debug` and `Display` also mask
/// anything that looks like a password, as a second line of defence.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DatabaseUrl(String);

/// The environment variable that should hold a database URL with a password in it.
pub const DATABASE_URL_ENV: &str = "SOLO_DATABASE_URL";

impl DatabaseUrl {
    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `true` for `postgres://` and `postgresql://` URLs.
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }

    /// `true` for `sqlite:` URLs.
    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

/// Does the part of a `sqlite:` URL after the scheme name an in-memory database: `:memory:`,
/// `//:memory:`, a `file::memory:` URI, or `mode=memory` in the query?
fn is_in_memory_sqlite(rest: &str) -> bool {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path == ":memory:"
        || path.starts_with("file::memory:")
        || query
            .split('&')
            .any(|pair| pair.eq_ignore_ascii_case("mode=memory"))
}

/// Does this URL carry a password, in its user info (`user:secret@host`) or its query
/// (`?password=secret`)? Works on any scheme, so a refused scheme never leaks one either.
pub(crate) fn has_password(url: &str) -> bool {
    redact_secrets(url) != url
}

impl FromStr for DatabaseUrl {
    type Err = ValueError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        // Never echo `input` in a message: it may hold a secret.
        if has_password(input) {
            return Err(ValueError::new("the database url contains a password").with_help(
                format!(
                    "keep passwords out of solo.toml: set {DATABASE_URL_ENV} in the environment instead"
                ),
            ));
        }
        let expected = "solo works with PostgreSQL (`postgres://…`) and SQLite (`sqlite:…`)";
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ValueError::new(
                "the database url contains spaces or control characters",
            ));
        }
        if input.starts_with("postgres://") || input.starts_with("postgresql://") {
            return Ok(Self(input.to_owned()));
        }
        if let Some(rest) = input.strip_prefix("sqlite:") {
            if is_in_memory_sqlite(rest) {
                return Err(ValueError::new(
                    "an in-memory SQLite database cannot hold solo's state: it is lost \
                     whenever the node stops",
                )
                .with_help(
                    "use a file path, like `sqlite:data/solo.db` (relative to this file), or \
                     leave `url` out to use the database in data_dir",
                ));
            }
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.split('?').next().unwrap_or_default().is_empty() {
                return Err(ValueError::new("the sqlite url has no path").with_help(
                    "write a file path, like `sqlite:data/solo.db` (relative to this file)",
                ));
            }
            return Ok(Self(input.to_owned()));
        }
        let scheme = input
            .split_once(':')
            .map(|(scheme, _)| scheme)
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+'));
        Err(match scheme {
            Some(scheme) => ValueError::new(format!(
                "unsupported database url scheme `{scheme}`: {expected}"
            )),
            None => ValueError::new(format!("invalid database url: {expected}")),
        })
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_secrets(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&redact_secrets(&self.0))
            .finish()
    }
}

serde_via_str!(
    DatabaseUrl,
    "a database url like `postgres://solo@localhost/solo`"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<DatabaseUrl, ValueError> {
        s.parse()
    }

    #[test]
    fn accepts_supported_urls() {
        for ok in [
            "postgres://solo@db.internal/solo",
            "postgresql://localhost/solo?sslmode=require",
            "postgres://",
            "postgres://solo@[::1]:5432/solo",
            "sqlite:solo.db",
            "sqlite://var/lib/solo.db",
            "sqlite:solo.db?mode=rwc",
            "sqlite:memory.db",
        ] {
            let url = parse(ok);
            assert_eq!(url.as_ref().map(|u| u.as_str()).ok(), Some(ok));
            assert_eq!(url.map(|u| u.to_string()).ok().as_deref(), Some(ok));
        }
        assert!(parse("postgres://x/y").is_ok_and(|u| u.is_postgres() && !u.is_sqlite()));
        assert!(parse("sqlite:x.db").is_ok_and(|u| u.is_sqlite() && !u.is_postgres()));
    }

    #[test]
    fn refuses_passwords_without_echoing_them() {
        for (bad, secret) in [
            ("postgres://solo:hunter2@db/solo", "hunter2"),
            ("postgresql://solo:s3cr%40t@db:5432/solo", "s3cr"),
            ("postgres://db/solo?user=solo&password=hunter2", "hunter2"),
            ("postgres://db/solo?PASSWORD=hunter2", "hunter2"),
            ("mysql://root:hunter2@db/x", "hunter2"),
        ] {
            let err = parse(bad).err();
            let text = format!("{err:?}");
            assert!(text.contains("contains a password"), "{bad}: {text}");
            assert!(!text.contains(secret), "{bad}: {text}");
            assert_eq!(
                err.as_ref().and_then(ValueError::help),
                Some(
                    "keep passwords out of solo.toml: set SOLO_DATABASE_URL in the environment instead"
                )
            );
        }
    }

    #[test]
    fn refuses_other_urls() {
        assert_eq!(
            parse("mysql://db/x")
                .err()
                .map(|e| e.message().to_owned())
                .as_deref(),
            Some(
                "unsupported database url scheme `mysql`: solo works with PostgreSQL (`postgres://…`) and SQLite (`sqlite:…`)"
            )
        );
        for bad in [
            "",
            "db.internal",
            "sqlite:",
            "sqlite://",
            "sqlite:?mode=rwc",
            "postgres:// x",
            "Postgres://x",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn refuses_in_memory_sqlite() {
        for bad in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite::memory:?cache=shared",
            "sqlite:file::memory:?cache=shared",
            "sqlite:solo.db?mode=memory",
            "sqlite://?cache=shared&mode=memory",
        ] {
            assert!(
                parse(bad).is_err_and(|e| e.message().contains("in-memory")),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn debug_never_shows_a_password() {
        // Cannot be built from text with a password; check the masking directly.
        let url = DatabaseUrl("postgres://solo:hunter2@db/solo".to_owned());
        assert!(!format!("{url:?} {url}").contains("hunter2"));
    }
}
