//! How each engine is opened: the settings the rest of solo relies on.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use solo_store::sqlx::{self, Row};
use solo_store::{Db, DbOptions, Engine, Tx};
use solo_test_support::engines::TestDb;
use solo_test_support::storage_tests;

storage_tests! {
    async fn write_transactions_commit_or_roll_back_whole(db: Db) {
        let mut tx = db.begin().await.unwrap();
        assert_eq!(tx.engine(), db.engine());
        exec(&mut tx, "CREATE TABLE tx_probe (x INTEGER NOT NULL)").await;
        exec(&mut tx, "INSERT INTO tx_probe VALUES (1)").await;
        tx.commit().await.unwrap();

        let mut tx = db.begin().await.unwrap();
        exec(&mut tx, "INSERT INTO tx_probe VALUES (2)").await;
        drop(tx); // never committed

        let mut tx = db.begin().await.unwrap();
        exec(&mut tx, "INSERT INTO tx_probe VALUES (3)").await;
        tx.rollback().await.unwrap();

        let mut tx = db.begin().await.unwrap();
        let rows = count(&mut tx).await;
        tx.commit().await.unwrap();
        assert_eq!(rows, 1, "only the committed row is there");
    }

    async fn answers_pings_and_reports_its_pool(db: Db) {
        db.ping().await.unwrap();
        let stats = db.pool_stats();
        assert!(stats.open >= 1 && stats.open <= stats.max, "{stats:?}");
        assert!(stats.idle <= stats.open, "{stats:?}");
    }
}

#[tokio::test]
async fn sqlite_runs_wal_full_sync_foreign_keys_and_a_busy_timeout() {
    let test = TestDb::sqlite().await;
    let Db::Sqlite(sqlite) = &test.db else {
        unreachable!()
    };
    assert_eq!(test.db.engine(), Engine::Sqlite);
    for pool in [sqlite.writer(), sqlite.reader()] {
        let mut conn = pool.acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(sync, 2, "FULL");
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(busy, 5000);
    }
    assert_eq!(
        sqlite.writer().options().get_max_connections(),
        1,
        "exactly one writer"
    );
}

#[tokio::test]
async fn sqlite_reader_pool_cannot_write() {
    let test = TestDb::sqlite().await;
    let Db::Sqlite(sqlite) = &test.db else {
        unreachable!()
    };
    sqlx::query("CREATE TABLE t (x INTEGER)")
        .execute(sqlite.writer())
        .await
        .unwrap();
    let error = sqlx::query("INSERT INTO t VALUES (1)")
        .execute(sqlite.reader())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("readonly"), "{error}");
}

/// Many concurrent writers, one of them holding a long IMMEDIATE
/// transaction: with a single writer connection nobody sees SQLITE_BUSY.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writes_never_fail_busy_under_concurrency() {
    let test = TestDb::sqlite().await;
    let Db::Sqlite(sqlite) = test.db.clone() else {
        unreachable!()
    };
    sqlx::query("CREATE TABLE counter (task INTEGER, n INTEGER)")
        .execute(sqlite.writer())
        .await
        .unwrap();
    let long = {
        let sqlite = sqlite.clone();
        tokio::spawn(async move {
            let mut tx = sqlite.begin_write().await.unwrap();
            sqlx::query("INSERT INTO counter VALUES (-1, 0)")
                .execute(&mut *tx)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            tx.commit().await.unwrap();
        })
    };
    let writers: Vec<_> = (0..16)
        .map(|task| {
            let sqlite = sqlite.clone();
            tokio::spawn(async move {
                for n in 0..100 {
                    sqlx::query("INSERT INTO counter VALUES (?, ?)")
                        .bind(task)
                        .bind(n)
                        .execute(sqlite.writer())
                        .await
                        .unwrap();
                    // Reads run beside the writes.
                    let _: i64 = sqlx::query_scalar("SELECT count(*) FROM counter")
                        .fetch_one(sqlite.reader())
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    long.await.unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM counter")
        .fetch_one(sqlite.reader())
        .await
        .unwrap();
    assert_eq!(total, 16 * 100 + 1);
}

#[tokio::test]
async fn postgres_sessions_carry_timeouts_and_a_name() {
    let Some(test) = TestDb::postgres("engines::postgres_sessions_carry_timeouts_and_a_name").await
    else {
        return;
    };
    // Reopen with a distinctive timeout to prove the option is applied.
    let mut options = DbOptions::new(test.target.clone());
    options.statement_timeout = Duration::from_millis(1500);
    options.max_connections = 3;
    let db = Db::open(&options).await.unwrap();
    let Db::Postgres(pool) = &db else {
        unreachable!()
    };
    let row = sqlx::query(
        "SELECT current_setting('statement_timeout'), current_setting('application_name')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>(0), "1500ms");
    assert_eq!(row.get::<String, _>(1), "solo");
    assert_eq!(db.pool_stats().max, 3);
    let error = sqlx::query("SELECT pg_sleep(3)")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("statement timeout"), "{error}");
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_clear_error_without_the_password() {
    // Nothing listens on port 1.
    let mut options = DbOptions::new(
        solo_store::DbTarget::from_url("postgres://solo:sup3rs3cret@127.0.0.1:1/solo").unwrap(),
    );
    options.acquire_timeout = Duration::from_secs(1);
    let error = Db::open(&options).await.unwrap_err().to_string();
    assert!(
        error.contains("cannot connect to PostgreSQL at postgres://127.0.0.1:1/solo"),
        "{error}"
    );
    assert!(!error.contains("sup3rs3cret"), "{error}");
}

async fn exec(tx: &mut Tx, sql: &'static str) {
    match tx {
        Tx::Sqlite(tx) => {
            sqlx::query(sql).execute(&mut **tx).await.unwrap();
        }
        Tx::Postgres(tx) => {
            sqlx::query(sql).execute(&mut **tx).await.unwrap();
        }
    }
}

async fn count(tx: &mut Tx) -> i64 {
    let sql = "SELECT COUNT(*) FROM tx_probe";
    match tx {
        Tx::Sqlite(tx) => sqlx::query_scalar(sql).fetch_one(&mut **tx).await.unwrap(),
        Tx::Postgres(tx) => sqlx::query_scalar(sql).fetch_one(&mut **tx).await.unwrap(),
    }
}

/// The database holds everything solo knows: only its owner may read it, whatever the
/// umask, and SQLite gives the -wal and -shm files the database file's mode.
#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/solo.db");
    let db = Db::open(&DbOptions::new(solo_store::DbTarget::Sqlite {
        path: path.clone(),
    }))
    .await
    .unwrap();
    let Db::Sqlite(sqlite) = &db else {
        unreachable!()
    };
    sqlx::query("CREATE TABLE t (x INTEGER)")
        .execute(sqlite.writer())
        .await
        .unwrap();
    let mode = |suffix: &str| {
        let file = format!("{}{suffix}", path.display());
        std::fs::metadata(&file)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode(suffix), 0o600, "solo.db{suffix}: {:o}", mode(suffix));
    }
    db.close().await;
}
