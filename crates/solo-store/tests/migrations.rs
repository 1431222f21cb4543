//! The migration runner, on both engines from one set of test bodies.
#![allow(clippy::unwrap_used)]

use solo_store::{Db, Migration, MigrationSet, Migrator, StoreError};
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

/// Separate handles, as separate processes (nodes) would have.
async fn handles(
    target: &solo_store::DbTarget,
    n: usize,
    statement_timeout: std::time::Duration,
) -> Vec<Db> {
    let mut dbs = Vec::new();
    for _ in 0..n {
        let mut options = solo_store::DbOptions::new(target.clone());
        options.statement_timeout = statement_timeout;
        dbs.push(Db::open(&options).await.unwrap());
    }
    dbs
}

/// A migration slower than the pool's statement timeout (PostgreSQL
/// sleeps; SQLite has no statement timeout to outlast).
const SLOW: Migration = Migration {
    version: 1,
    name: "slow",
    sqlite: "CREATE TABLE slow (id INTEGER);",
    postgres: "CREATE TABLE slow (id INTEGER); SELECT pg_sleep(0.6);",
};

async fn separate_nodes_migrate_one_at_a_time(test: solo_test_support::engines::TestDb) {
    let short = std::time::Duration::from_millis(200);
    let dbs = handles(&test.target, 4, short).await;
    let m = migrator(&[
        set("slowpoke", &[SLOW]),
        set("notes", &[NOTES_V1, NOTES_V2, NOTES_V3]),
    ]);
    let runs: Vec<_> = dbs
        .iter()
        .map(|db| {
            let (m, db) = (m.clone(), db.clone());
            tokio::spawn(async move { m.run(&db).await })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        let report = run
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("a waiting node failed: {e}"));
        assert_eq!(report.schema_version, 4);
        applied.extend(report.applied);
    }
    applied.sort();
    assert_eq!(
        applied,
        [
            "notes/0001_create_notes",
            "notes/0002_add_author",
            "notes/0003_index_body",
            "slowpoke/0001_slow"
        ],
        "each migration applied by exactly one node"
    );
    assert_eq!(ledger_len(&dbs[0]).await, 4);
    for db in &dbs {
        db.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_sqlite_handles_migrate_one_at_a_time() {
    separate_nodes_migrate_one_at_a_time(solo_test_support::engines::TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_postgres_handles_wait_past_the_statement_timeout() {
    let Some(test) = solo_test_support::engines::TestDb::postgres(
        "migrations::separate_postgres_handles_wait_past_the_statement_timeout",
    )
    .await
    else {
        return;
    };
    separate_nodes_migrate_one_at_a_time(test).await;
}
