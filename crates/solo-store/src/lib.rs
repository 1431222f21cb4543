//! The storage seam: one [`Db`] over embedded SQLite and PostgreSQL.
//!
//! Every capability crate talks to storage through a `Db` and keeps its engine
//! differences in one place of its own (its `store` module), matching on
//! [`Db`] there and nowhere else. This crate knows nothing of any capability's
//! tables: it opens the engines with the right settings, reports pool figures,
//! and runs the migrations each crate declares ([`migrate`]).
//!
//! Engine settings, and why:
//! - SQLite: WAL (readers never block the writer), `synchronous=FULL` (a
//!   committed job survives power loss, not only a crash), foreign keys on, a
//!   busy timeout for other processes (the CLI), and exactly **one** writer
//!   connection so writes inside this process queue up instead of failing with
//!   `SQLITE_BUSY`. Reads go through a separate read-only pool.
//! - PostgreSQL: a bounded pool, `statement_timeout` and
//!   `idle_in_transaction_session_timeout` so a stuck query cannot hold the
//!   pool forever, and `application_name = solo` for `pg_stat_activity`.

mod db;
mod dispatch;
mod error;
pub mod migrate;
mod postgres;
mod sqlite;
mod tx;

pub use db::{Db, DbOptions, DbTarget, Engine, PoolStats};
pub use error::StoreError;
pub use migrate::{Migration, MigrationSet, Migrator, SchemaStatus};
pub use sqlite::SqliteDb;
pub use tx::Tx;

/// Re-exported so capability crates name one sqlx version.
pub use sqlx;
