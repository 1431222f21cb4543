use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::PgPool;

use crate::error::StoreError;
use crate::sqlite::SqliteDb;

/// Which engine a [`Db`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the database lives.
#[derive(Clone, PartialEq, Eq)]
pub enum DbTarget {
    /// A SQLite file, created when missing.
    Sqlite { path: PathBuf },
    /// A PostgreSQL connection URL (`postgres://…`).
    Postgres { url: String },
}

impl DbTarget {
    /// Reads a `SOLO_DATABASE_URL`-style string: `postgres://…`, `postgresql://…`,
    /// `sqlite://PATH` or `sqlite:PATH`. A relative SQLite path is returned as written: the
    /// caller decides what it is relative to. In-memory SQLite databases (`sqlite::memory:`,
    /// `mode=memory`) are refused: solo's state must outlive the process.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbTarget::Postgres {
                url: url.to_owned(),
            });
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if crate::sqlite::is_in_memory(Path::new(path))
                || query
                    .split('&')
                    .any(|pair| pair.eq_ignore_ascii_case("mode=memory"))
            {
                return Err(StoreError::InvalidUrl {
                    reason: crate::sqlite::IN_MEMORY_REFUSED.into(),
                });
            }
            if path.is_empty() {
                return Err(StoreError::InvalidUrl {
                    reason: "a sqlite: URL needs a file path, like sqlite:///var/lib/solo/solo.db"
                        .into(),
                });
            }
            return Ok(DbTarget::Sqlite { path: path.into() });
        }
        Err(StoreError::InvalidUrl {
            reason: "expected a URL starting with postgres://, postgresql:// or sqlite:".into(),
        })
    }

    /// A description safe to print and log: never contains a password.
    pub fn describe(&self) -> String {
        match self {
            DbTarget::Sqlite { path } => path.display().to_string(),
            DbTarget::Postgres { url } => crate::postgres::describe_url(url),
        }
    }

    /// The password the URL carries, if any, so the binary can hand it to
    /// the log redactor: a driver error quoting it must not reach a log.
    pub fn password(&self) -> Option<String> {
        match self {
            DbTarget::Sqlite { .. } => None,
            DbTarget::Postgres { url } => crate::postgres::url_password(url),
        }
    }
}

// Debug must not print a URL that may carry a password.
impl std::fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbTarget::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            DbTarget::Postgres { .. } => f
                .debug_struct("Postgres")
                .field("target", &self.describe())
                .finish(),
        }
    }
}

/// How to open a [`Db`].
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub target: DbTarget,
    /// Upper bound of the PostgreSQL pool, and of the SQLite read pool.
    pub max_connections: u32,
    /// PostgreSQL `statement_timeout`.
    pub statement_timeout: Duration,
    /// How long to wait for a free connection (and, for SQLite, a lock held by
    /// another process) before giving up.
    pub acquire_timeout: Duration,
}

impl DbOptions {
    pub fn new(target: DbTarget) -> Self {
        DbOptions {
            target,
            max_connections: 10,
            statement_timeout: Duration::from_secs(30),
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Pool figures for `/metrics` and `solo status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, writer included.
    pub open: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The configured upper bound.
    pub max: u32,
}

/// A handle to the database: cheap to clone, shared by every crate.
///
/// Capability crates match on it in exactly one module of their own (their
/// storage seam) and run engine-specific SQL there.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

impl Db {
    /// Opens (and for SQLite creates) the database. Does not migrate.
    pub async fn open(options: &DbOptions) -> Result<Db, StoreError> {
        match &options.target {
            DbTarget::Sqlite { path } => Ok(Db::Sqlite(SqliteDb::open(path, options).await?)),
            DbTarget::Postgres { url } => {
                Ok(Db::Postgres(crate::postgres::open(url, options).await?))
            }
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Round-trips a trivial query: is the database reachable right now?
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(db) => {
                sqlx::query("SELECT 1").execute(db.reader()).await?;
            }
            Db::Postgres(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
        }
        Ok(())
    }

    pub fn pool_stats(&self) -> PoolStats {
        match self {
            Db::Sqlite(db) => db.pool_stats(),
            Db::Postgres(pool) => PoolStats {
                open: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            },
        }
    }

    /// Closes every connection, waiting for checked-out ones to come back.
    pub async fn close(&self) {
        match self {
            Db::Sqlite(db) => db.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_database_urls() {
        assert!(matches!(
            DbTarget::from_url("postgres://u@h/db").unwrap(),
            DbTarget::Postgres { .. }
        ));
        assert_eq!(
            DbTarget::from_url("sqlite:///var/lib/solo.db").unwrap(),
            DbTarget::Sqlite {
                path: "/var/lib/solo.db".into()
            }
        );
        assert_eq!(
            DbTarget::from_url("sqlite:data/solo.db?mode=rwc").unwrap(),
            DbTarget::Sqlite {
                path: "data/solo.db".into()
            }
        );
        assert!(DbTarget::from_url("mysql://x").is_err());
        assert!(DbTarget::from_url("sqlite:").is_err());
    }

    #[test]
    fn the_password_is_found_for_the_redactor() {
        let cases = [
            ("postgres://solo:pa55@db/app", Some("pa55")),
            ("postgres://solo:p@ss@db/app", Some("p@ss")),
            ("postgres://solo:p%40ss@db/app", Some("p@ss")),
            ("postgres://db/app?user=solo&password=qu3ry", Some("qu3ry")),
            ("postgres://solo@db/app", None),
        ];
        for (url, password) in cases {
            let target = DbTarget::from_url(url).unwrap();
            assert_eq!(target.password().as_deref(), password, "{url}");
        }
        let sqlite = DbTarget::from_url("sqlite:/tmp/x.db").unwrap();
        assert_eq!(sqlite.password(), None);
    }

    #[test]
    fn refuses_in_memory_sqlite() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite::memory:?cache=shared",
            "sqlite:file::memory:",
            "sqlite:solo.db?mode=memory",
            "sqlite://?cache=shared&mode=memory",
        ] {
            let error = DbTarget::from_url(url).unwrap_err().to_string();
            assert!(error.contains("in-memory"), "{url}: {error}");
            assert!(error.contains("file path"), "{url}: {error}");
        }
        assert!(DbTarget::from_url("sqlite:memory.db?mode=rwc").is_ok());
    }

    #[test]
    fn debug_never_prints_a_password() {
        let target =
            DbTarget::from_url("postgres://solo:hunter2hunter2@db.internal:5433/app").unwrap();
        let shown = format!("{target:?} {}", target.describe());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db.internal:5433/app"), "{shown}");
    }
}
