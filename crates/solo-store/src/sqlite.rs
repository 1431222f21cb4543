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

impl SqliteDb {
    pub(crate) async fn open(path: &Path, options: &DbOptions) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::OpenSqlite {
                path: path.to_owned(),
                source: sqlx::Error::Io(e),
            })?;
        }
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
