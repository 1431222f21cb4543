//! Run one statement on whichever engine a [`Db`](crate::Db) or
//! [`Tx`](crate::Tx) holds.
//!
//! Both engines take `$N` parameters (sqlx's SQLite driver reads them), so
//! a crate that keeps its column types portable (BIGINT times, TEXT) writes
//! each statement once and runs it through these. The body is expanded once
//! per engine, so it type-checks against each driver.

/// `on_reader!(db, ex => body)`: `ex` is SQLite's read pool or the
/// PostgreSQL pool.
#[macro_export]
macro_rules! on_reader {
    ($db:expr, $ex:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite(sqlite) => {
                let $ex = sqlite.reader();
                $body
            }
            $crate::Db::Postgres(pool) => {
                let $ex = pool;
                $body
            }
        }
    };
}

/// `on_tx!(tx, ex => body)`: `ex` is the connection of a write transaction.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $ex:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(tx) => {
                let $ex = &mut **tx;
                $body
            }
            $crate::Tx::Postgres(tx) => {
                let $ex = &mut **tx;
                $body
            }
        }
    };
}
