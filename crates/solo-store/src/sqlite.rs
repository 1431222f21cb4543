use std::path::{Path, PathBuf};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::db::{DbOptions, PoolStats};
use crate::error::StoreError;

/// SQLite with one writer connection and a read-only pool beside it.
///
/// All writes in this process go through the single writer, so they queue in
/// the pool instead of racing for SQLite's lock; WAL lets the readers run
/// alongside.
#[derive(Clone, Debug)]
pub struct SqliteDb {
    writer: SqlitePool,
    reader: SqlitePool,
    path: PathBuf,
}

/// Why an in-memory database is refused, and what to use instead.
pub(crate) const IN_MEMORY_REFUSED: &str = "an in-memory SQLite database cannot hold solo's \
    state: it is lost whenever the node stops; use a file path, like sqlite:///var/lib/solo/solo.db";

/// Would SQLite open `path` as an in-memory database (`:memory:`, or a `file::memory:` URI)?
pub(crate) fn is_in_memory(path: &Path) -> bool {
    let path = path.to_string_lossy();
    path == ":memory:" || path.starts_with("file::memory:")
}

impl SqliteDb {
    pub(crate) async fn open(path: &Path, options: &DbOptions) -> Result<Self, StoreError> {
        if is_in_memory(path) {
            return Err(StoreError::InvalidUrl {
                reason: IN_MEMORY_REFUSED.into(),
            });
        }
        let io_err = |e| StoreError::OpenSqlite {
            path: path.to_owned(),
            source: sqlx::Error::Io(e),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_err)?;
        }
        create_private(path).map_err(io_err)?;
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.acquire_timeout);
        let open_err = |source| StoreError::OpenSqlite {
            path: path.to_owned(),
            source,
        };

        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await
            .map_err(open_err)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.clamp(1, 16))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.read_only(true))
            .await
            .map_err(open_err)?;
        Ok(SqliteDb {
            writer,
            reader,
            path: path.to_owned(),
        })
    }

    /// The single writer. Every statement that changes data goes here.
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// The read-only pool: queries that change nothing.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Begins a write transaction that takes SQLite's write lock at once
    /// (`BEGIN IMMEDIATE`), so a read-then-write transaction cannot deadlock
    /// with another process and fail half-way.
    pub async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn pool_stats(&self) -> PoolStats {
        let idle = self.writer.num_idle() + self.reader.num_idle();
        PoolStats {
            open: self.writer.size() + self.reader.size(),
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max: self.writer.options().get_max_connections()
                + self.reader.options().get_max_connections(),
        }
    }

    pub(crate) async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// Creates the database file, empty (SQLite reads that as an empty database), readable by its
/// owner only, before SQLite opens it: SQLite itself would create it 0644, and it gives the
/// `-wal` and `-shm` files it makes later the database file's mode. An existing file is left
/// as it is.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
