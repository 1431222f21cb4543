//! The migration runner, on both engines from one set of test bodies.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use solo_store::migrate::MigrationReport;
use solo_store::{Db, DbOptions, DbTarget, Migration, MigrationSet, Migrator, StoreError};
use solo_test_support::storage_tests;

const NOTES_V1: Migration = Migration {
    version: 1,
    name: "create_notes",
    sqlite: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    postgres: "CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL);",
};
const NOTES_V2: Migration = Migration {
    version: 2,
    name: "add_author",
    sqlite: "ALTER TABLE notes ADD COLUMN author TEXT;",
    postgres: "ALTER TABLE notes ADD COLUMN author TEXT;",
};
const NOTES_V3: Migration = Migration {
    version: 3,
    name: "index_body",
    sqlite: "CREATE INDEX notes_body ON notes (body);",
    postgres: "CREATE INDEX notes_body ON notes (body);",
};
const TAGS_V1: Migration = Migration {
    version: 1,
    name: "create_tags",
    sqlite: "CREATE TABLE tags (name TEXT PRIMARY KEY);\nCREATE TABLE tag_links (tag TEXT NOT NULL REFERENCES tags(name));",
    postgres: "CREATE TABLE tags (name TEXT PRIMARY KEY);\nCREATE TABLE tag_links (tag TEXT NOT NULL REFERENCES tags(name));",
};

/// Outlasts [`SHORT_TIMEOUT`] on PostgreSQL. SQLite has no statement
/// timeout, so there it is an ordinary quick migration.
const NOTES_V4_SLOW: Migration = Migration {
    version: 4,
    name: "backfill_author",
    sqlite: "UPDATE notes SET author = 'unknown' WHERE author IS NULL;",
    postgres: "SELECT pg_sleep(0.5);\nUPDATE notes SET author = 'unknown' WHERE author IS NULL;",
};
/// Takes a while on both engines (SQLite counts to three million), so a
/// second migrator can arrive while it runs.
const NOTES_V3_SLOW: Migration = Migration {
    version: 3,
    name: "index_body",
    sqlite: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
             SELECT count(*) FROM c;\nCREATE INDEX notes_body ON notes (body);",
    postgres: "SELECT pg_sleep(1);\nCREATE INDEX notes_body ON notes (body);",
};

/// Another component's slow migration, listed before `notes`.
const WARMUP_V1_SLOW: Migration = Migration {
    version: 1,
    name: "warm_up",
    sqlite: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
             SELECT count(*) FROM c;",
    postgres: "SELECT pg_sleep(1);",
};

/// A statement timeout every slow migration above outlasts.
const SHORT_TIMEOUT: Duration = Duration::from_millis(200);

fn set(component: &'static str, migrations: &'static [Migration]) -> MigrationSet {
    MigrationSet {
        component,
        migrations,
    }
}

fn migrator(sets: &[MigrationSet]) -> Migrator {
    Migrator::new(sets, "1.0.0").unwrap()
}

async fn table_exists(db: &Db, table: &str) -> bool {
    let sql = match db {
        Db::Sqlite(_) => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        Db::Postgres(_) => "SELECT count(*) FROM information_schema.tables WHERE table_name = $1",
    };
    let count: i64 = match db {
        Db::Sqlite(s) => sqlx::query_scalar(sql)
            .bind(table)
            .fetch_one(s.reader())
            .await
            .unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(sql)
            .bind(table)
            .fetch_one(p)
            .await
            .unwrap(),
    };
    count > 0
}

async fn ledger_len(db: &Db) -> i64 {
    let sql = "SELECT count(*) FROM solo_migrations";
    match db {
        Db::Sqlite(s) => sqlx::query_scalar(sql).fetch_one(s.reader()).await.unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

use solo_store::sqlx;

/// Another handle to the same database, as another node (another process)
/// would open it: its own pools, its own connections.
async fn open(target: &DbTarget, statement_timeout: Duration, acquire_timeout: Duration) -> Db {
    let mut options = DbOptions::new(target.clone());
    options.statement_timeout = statement_timeout;
    // For SQLite also the busy timeout: how long to wait for another
    // handle's write lock.
    options.acquire_timeout = acquire_timeout;
    Db::open(&options).await.unwrap()
}

async fn node(target: &DbTarget, statement_timeout: Duration) -> Db {
    open(target, statement_timeout, Duration::from_secs(60)).await
}

/// Whether a migrator holds the migration exclusion right now. `probe` is a
/// handle of its own (for SQLite, with a short busy timeout).
async fn migration_in_progress(probe: &Db) -> bool {
    match probe {
        // SQLite's exclusion is its write lock.
        Db::Sqlite(s) => match s.begin_write().await {
            Ok(tx) => {
                tx.rollback().await.unwrap();
                false
            }
            Err(error) if error.to_string().contains("locked") => true,
            Err(error) => panic!("probing the write lock: {error}"),
        },
        Db::Postgres(p) => advisory_locks(p).await > 0,
    }
}

/// Advisory locks held in this database (whose ever they are).
async fn advisory_locks(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Starts `first` on a handle of its own, waits until it holds the migration
/// exclusion, then runs `second` on another handle (opened with
/// `second_timeout` as its statement timeout) while `first` is mid-run.
async fn second_arrives_mid_run(
    target: &DbTarget,
    first: Migrator,
    second: Migrator,
    second_timeout: Duration,
) -> (
    Result<MigrationReport, StoreError>,
    Result<MigrationReport, StoreError>,
) {
    let first_db = node(target, Duration::from_secs(30)).await;
    let second_db = node(target, second_timeout).await;
    let probe = open(target, Duration::from_secs(30), Duration::from_millis(200)).await;
    let first_run = {
        let db = first_db.clone();
        tokio::spawn(async move { first.run(&db).await })
    };
    while !first_run.is_finished() && !migration_in_progress(&probe).await {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        !first_run.is_finished(),
        "the first run ended before it was seen migrating"
    );
    let second_result = second.run(&second_db).await;
    let first_result = first_run.await.unwrap();
    for db in [first_db, second_db, probe] {
        db.close().await;
    }
    (first_result, second_result)
}

storage_tests! {
    async fn applies_every_set_in_order_once(db: Db) {
        let m = migrator(&[set("notes", &[NOTES_V1, NOTES_V2]), set("tags", &[TAGS_V1])]);
        let before = m.status(&db).await.unwrap();
        assert_eq!((before.applied, before.known), (0, 3));
        assert_eq!(before.pending, ["notes/0001_create_notes", "notes/0002_add_author", "tags/0001_create_tags"]);

        let report = m.run(&db).await.unwrap();
        assert_eq!(report.applied, ["notes/0001_create_notes", "notes/0002_add_author", "tags/0001_create_tags"]);
        assert_eq!(report.schema_version, 3);
        assert!(table_exists(&db, "notes").await && table_exists(&db, "tag_links").await);

        let again = m.run(&db).await.unwrap();
        assert!(again.applied.is_empty(), "{again:?}");
        assert_eq!(ledger_len(&db).await, 3);
        assert!(m.status(&db).await.unwrap().is_current());
    }

    async fn a_later_binary_applies_only_what_is_new(db: Db) {
        migrator(&[set("notes", &[NOTES_V1])]).run(&db).await.unwrap();
        let newer = migrator(&[set("notes", &[NOTES_V1, NOTES_V2]), set("tags", &[TAGS_V1])]);
        assert_eq!(newer.status(&db).await.unwrap().pending.len(), 2);
        let report = newer.run(&db).await.unwrap();
        assert_eq!(report.applied, ["notes/0002_add_author", "tags/0001_create_tags"]);
        assert_eq!(report.schema_version, 3);
    }

    async fn refuses_a_migration_changed_after_it_was_applied(db: Db) {
        migrator(&[set("notes", &[NOTES_V1])]).run(&db).await.unwrap();
        const TAMPERED: Migration = Migration {
            sqlite: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);",
            postgres: "CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, body TEXT);",
            ..NOTES_V1
        };
        let tampered = migrator(&[set("notes", &[TAMPERED, NOTES_V2])]);
        let error = tampered.run(&db).await.unwrap_err();
        assert!(matches!(&error, StoreError::MigrationChanged { component, version: 1, .. } if component == "notes"), "{error}");
        let message = error.to_string();
        assert!(message.contains("notes/0001 (create_notes) was changed after it was applied"), "{message}");
        assert!(message.contains("add a new migration instead"), "{message}");
        // Refused before anything ran: v2 was not applied.
        assert_eq!(ledger_len(&db).await, 1);
        assert!(tampered.status(&db).await.is_err());
    }

    async fn line_endings_alone_are_not_tampering(db: Db) {
        const LF: Migration = Migration {
            sqlite: "CREATE TABLE crlf (id INTEGER);\nCREATE TABLE crlf2 (id INTEGER);",
            postgres: "CREATE TABLE crlf (id INTEGER);\nCREATE TABLE crlf2 (id INTEGER);",
            ..NOTES_V1
        };
        const CRLF: Migration = Migration {
            sqlite: "CREATE TABLE crlf (id INTEGER);\r\nCREATE TABLE crlf2 (id INTEGER);",
            postgres: "CREATE TABLE crlf (id INTEGER);\r\nCREATE TABLE crlf2 (id INTEGER);",
            ..NOTES_V1
        };
        migrator(&[set("notes", &[LF])]).run(&db).await.unwrap();
        assert!(migrator(&[set("notes", &[CRLF])]).status(&db).await.unwrap().is_current());
    }

    async fn refuses_a_database_newer_than_the_binary(db: Db) {
        Migrator::new(&[set("notes", &[NOTES_V1, NOTES_V2])], "2.0.0").unwrap().run(&db).await.unwrap();
        let older = migrator(&[set("notes", &[NOTES_V1])]);
        let error = older.run(&db).await.unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, StoreError::DatabaseNewer { version: 2, .. }), "{message}");
        assert!(message.contains("notes/0002 (add_author) applied by solo 2.0.0"), "{message}");
        assert!(message.contains("this solo (1.0.0)"), "{message}");
        // A whole component this binary has never heard of is refused too.
        let without_tags = migrator(&[set("notes", &[NOTES_V1, NOTES_V2])]);
        migrator(&[set("notes", &[NOTES_V1, NOTES_V2]), set("tags", &[TAGS_V1])]).run(&db).await.unwrap();
        assert!(matches!(without_tags.status(&db).await, Err(StoreError::DatabaseNewer { .. })));
    }

    async fn refuses_a_migration_slipped_in_before_an_applied_one(db: Db) {
        migrator(&[set("notes", &[NOTES_V1, NOTES_V3])]).run(&db).await.unwrap();
        let diverged = migrator(&[set("notes", &[NOTES_V1, NOTES_V2, NOTES_V3])]);
        let error = diverged.run(&db).await.unwrap_err();
        assert!(matches!(error, StoreError::MigrationGap { version: 2, .. }), "{error}");
    }

    async fn a_failing_migration_leaves_nothing_half_done(db: Db) {
        const BROKEN: Migration = Migration {
            version: 2,
            name: "broken",
            sqlite: "CREATE TABLE half (id INTEGER);\nTHIS IS NOT SQL;",
            postgres: "CREATE TABLE half (id INTEGER);\nTHIS IS NOT SQL;",
        };
        let m = migrator(&[set("notes", &[NOTES_V1, BROKEN])]);
        let error = m.run(&db).await.unwrap_err();
        assert!(matches!(error, StoreError::MigrationFailed { version: 2, .. }), "{error}");
        assert!(error.to_string().contains("notes/0002 (broken) failed"), "{error}");
        assert!(table_exists(&db, "notes").await, "v1 stays applied");
        assert!(!table_exists(&db, "half").await, "v2 rolled back whole");
        assert_eq!(ledger_len(&db).await, 1);
        assert_eq!(m.status(&db).await.unwrap().pending, ["notes/0002_broken"]);
    }

    async fn concurrent_runs_apply_each_migration_once(db: Db) {
        let m = migrator(&[set("notes", &[NOTES_V1, NOTES_V2, NOTES_V3]), set("tags", &[TAGS_V1])]);
        let runs = (0..4).map(|_| {
            let (m, db) = (m.clone(), db.clone());
            tokio::spawn(async move { m.run(&db).await })
        });
        let mut applied = Vec::new();
        for run in runs {
            applied.extend(run.await.unwrap().unwrap().applied);
        }
        applied.sort();
        assert_eq!(applied.len(), 4, "each applied by exactly one run: {applied:?}");
        assert_eq!(ledger_len(&db).await, 4);
    }

    async fn concurrent_migrators_on_separate_handles_apply_each_migration_once(db: Db, target: DbTarget) {
        let m = migrator(&[set("notes", &[NOTES_V1, NOTES_V2, NOTES_V3, NOTES_V4_SLOW]), set("tags", &[TAGS_V1])]);
        // Four nodes starting at once, each with its own pool and a statement
        // timeout shorter than both the slow migration and the wait for it.
        let mut nodes = Vec::new();
        for _ in 0..4 {
            nodes.push(node(&target, SHORT_TIMEOUT).await);
        }
        let (a, b, c, d) = tokio::join!(m.run(&nodes[0]), m.run(&nodes[1]), m.run(&nodes[2]), m.run(&nodes[3]));
        let reports = [a, b, c, d].map(|r| r.unwrap_or_else(|error| panic!("a run failed: {error}")));

        let mut applied: Vec<String> = reports.iter().flat_map(|r| r.applied.clone()).collect();
        assert_eq!(applied.len(), 5, "each migration applied by exactly one run: {applied:?}");
        applied.sort();
        applied.dedup();
        assert_eq!(applied.len(), 5, "{applied:?}");
        // Runs do not interleave: one applied everything, the others waited
        // for it and found nothing left to do.
        let mut per_run: Vec<usize> = reports.iter().map(|r| r.applied.len()).collect();
        per_run.sort_unstable();
        assert_eq!(per_run, [0, 0, 0, 5], "{reports:?}");
        assert!(reports.iter().all(|r| r.schema_version == 5), "{reports:?}");
        assert_eq!(ledger_len(&db).await, 5);
        assert!(m.status(&db).await.unwrap().is_current());
        for node in nodes {
            node.close().await;
        }
    }

    async fn a_migration_longer_than_the_statement_timeout_completes(db: Db, target: DbTarget) {
        let short = node(&target, SHORT_TIMEOUT).await;
        if let Db::Postgres(pool) = &short {
            // The premise: an ordinary statement this long is cancelled.
            let error = sqlx::query("SELECT pg_sleep(0.5)").execute(pool).await.unwrap_err();
            assert!(error.to_string().contains("statement timeout"), "{error}");
        }
        let m = migrator(&[set("notes", &[NOTES_V1, NOTES_V2, NOTES_V3, NOTES_V4_SLOW])]);
        let report = m.run(&short).await.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(report.applied.len(), 4, "{report:?}");
        assert_eq!(report.schema_version, 4);
        assert_eq!(ledger_len(&db).await, 4);
        if let Db::Postgres(pool) = &short {
            // The run's session neither came back to the pool without its
            // timeout nor left its lock behind.
            assert_eq!(advisory_locks(pool).await, 0);
            let mut held = Vec::new();
            while pool.num_idle() > 0 || held.is_empty() {
                held.push(pool.acquire().await.unwrap());
            }
            for conn in &mut held {
                let timeout: String = sqlx::query_scalar("SHOW statement_timeout")
                    .fetch_one(&mut **conn)
                    .await
                    .unwrap();
                assert_eq!(timeout, "200ms");
            }
        }
        short.close().await;
    }

    async fn a_migrator_arriving_mid_run_waits_then_succeeds(db: Db, target: DbTarget) {
        let m = migrator(&[set("notes", &[NOTES_V1, NOTES_V2, NOTES_V3_SLOW])]);
        // The second node's statement timeout is far shorter than its wait.
        let (first, second) = second_arrives_mid_run(&target, m.clone(), m, SHORT_TIMEOUT).await;
        let first = first.unwrap_or_else(|error| panic!("first run: {error}"));
        let second = second.unwrap_or_else(|error| panic!("second run: {error}"));
        assert_eq!(first.applied.len(), 3, "{first:?}");
        assert!(second.applied.is_empty(), "{second:?}");
        assert_eq!(second.schema_version, 3);
        assert_eq!(ledger_len(&db).await, 3);
    }

    async fn a_migrator_that_waited_checks_the_ledger_it_finds(db: Db, target: DbTarget) {
        migrator(&[set("notes", &[NOTES_V1])]).run(&db).await.unwrap();
        // Two binaries that disagree: one knows notes v1 and v3, the other
        // has a v2 in between. Whoever migrates second must check the ledger
        // as the first left it, not as it was when the second arrived. (Two
        // slow migrations in a row: a migrator that reads the ledger between
        // them, outside the lock, misses the second.)
        let first = migrator(&[set("warmup", &[WARMUP_V1_SLOW]), set("notes", &[NOTES_V1, NOTES_V3_SLOW])]);
        let second = migrator(&[set("warmup", &[WARMUP_V1_SLOW]), set("notes", &[NOTES_V1, NOTES_V2, NOTES_V3_SLOW])]);
        let (first, second) = second_arrives_mid_run(&target, first, second, Duration::from_secs(30)).await;
        let first = first.unwrap_or_else(|error| panic!("first run: {error}"));
        assert_eq!(first.applied, ["warmup/0001_warm_up", "notes/0003_index_body"]);
        let error = match second {
            Ok(report) => panic!("the second run applied on a ledger it never checked: {report:?}"),
            Err(error) => error,
        };
        assert!(matches!(error, StoreError::MigrationGap { version: 2, .. }), "{error}");
        assert_eq!(ledger_len(&db).await, 3);
    }
}

#[test]
fn invalid_sets_are_refused_before_touching_a_database() {
    let dup = [set("notes", &[NOTES_V1]), set("notes", &[NOTES_V2])];
    assert!(
        Migrator::new(&dup, "1")
            .unwrap_err()
            .to_string()
            .contains("listed twice")
    );
    const UNORDERED: &[Migration] = &[NOTES_V2, NOTES_V1];
    assert!(
        Migrator::new(&[set("notes", UNORDERED)], "1")
            .unwrap_err()
            .to_string()
            .contains("increase")
    );
    assert!(Migrator::new(&[set("Bad-Name", &[NOTES_V1])], "1").is_err());
    const EMPTY_SQL: Migration = Migration {
        postgres: " ",
        ..NOTES_V1
    };
    assert!(
        Migrator::new(&[set("notes", &[EMPTY_SQL])], "1")
            .unwrap_err()
            .to_string()
            .contains("both engines")
    );
}
