//! The audit chain on both engines: concurrent writers, transactions,
//! append-only enforcement, tamper detection, redaction, filters.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;
use solo_audit::{Actor, AuditFilter, NewEntry, append, append_now, list, verify};
use solo_store::sqlx;
use solo_store::{Db, Tx};
use solo_test_support::engines::migrate;
use solo_test_support::storage_tests;

fn entry(n: usize) -> NewEntry {
    NewEntry::new(Actor::system(format!("writer-{}", n % 8)), "test.write")
        .target(format!("thing-{n}"))
        .details(json!({ "n": n }))
}

async fn raw(db: &Db, sql: &'static str) -> Result<(), sqlx::Error> {
    match db {
        Db::Sqlite(sqlite) => sqlx::raw_sql(sql)
            .execute(sqlite.writer())
            .await
            .map(|_| ()),
        Db::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
    }
}

/// Lets raw SQL change the log, as someone with database access could.
async fn disable_triggers(db: &Db) {
    match db {
        Db::Sqlite(_) => raw(
            db,
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
        )
        .await
        .unwrap(),
        Db::Postgres(_) => raw(db, "ALTER TABLE audit_log DISABLE TRIGGER USER")
            .await
            .unwrap(),
    }
}

async fn fill(db: &Db, count: usize) {
    for n in 0..count {
        append_now(db, entry(n)).await.unwrap();
    }
}

storage_tests! {
    async fn eight_concurrent_writers_make_one_unbroken_chain(db: Db) {
        migrate(&db, &[solo_audit::MIGRATIONS]).await;
        let mut writers = Vec::new();
        for w in 0..8 {
            let db = db.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..125 {
                    let mut tx = db.begin().await.unwrap();
                    append(&mut tx, entry(w * 1000 + i), Utc::now()).await.unwrap();
                    tx.commit().await.unwrap();
                }
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
        let report = verify(&db).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.entries, 1000);
        let all = list(&db, &AuditFilter { limit: Some(1000), ..AuditFilter::default() }).await.unwrap();
        let seqs: BTreeSet<i64> = all.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (1..=1000).collect::<BTreeSet<_>>());
        assert_eq!(report.head_hash.as_deref(), Some(all[0].hash.as_str()));
    }

    async fn an_entry_commits_or_rolls_back_with_its_change(db: Db) {
        migrate(&db, &[solo_audit::MIGRATIONS]).await;
        raw(&db, "CREATE TABLE things (name TEXT NOT NULL)").await.unwrap();
        append_now(&db, entry(1)).await.unwrap();

        let mut tx = db.begin().await.unwrap();
        insert_thing(&mut tx, "kept").await;
        append(&mut tx, entry(2), Utc::now()).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = db.begin().await.unwrap();
        insert_thing(&mut tx, "dropped").await;
        append(&mut tx, entry(3), Utc::now()).await.unwrap();
        tx.rollback().await.unwrap();

        append_now(&db, entry(4)).await.unwrap();
        let report = verify(&db).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.entries, 3, "the rolled-back entry left no gap");
        let targets: Vec<_> = list(&db, &AuditFilter::default()).await.unwrap()
            .into_iter().filter_map(|r| r.target).collect();
        assert_eq!(targets, ["thing-4", "thing-2", "thing-1"]);
    }

    async fn the_database_refuses_to_change_or_delete_entries(db: Db) {
        migrate(&db, &[solo_audit::MIGRATIONS]).await;
        fill(&db, 3).await;
        for sql in [
            "UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 2",
            "DELETE FROM audit_log WHERE seq = 3",
            "DELETE FROM audit_log",
        ] {
            let error = raw(&db, sql).await.unwrap_err().to_string();
            assert!(error.contains("append-only"), "{sql}: {error}");
        }
        if matches!(db, Db::Postgres(_)) {
            let error = raw(&db, "TRUNCATE audit_log").await.unwrap_err().to_string();
            assert!(error.contains("append-only"), "{error}");
        }
        let report = verify(&db).await.unwrap();
        assert!(report.is_intact() && report.entries == 3, "{report:?}");
    }

    async fn verify_names_the_first_entry_changed_behind_its_back(db: Db) {
        migrate(&db, &[solo_audit::MIGRATIONS]).await;
        fill(&db, 60).await;
        disable_triggers(&db).await;
        raw(&db, "UPDATE audit_log SET details = '{\"n\":999}' WHERE seq = 37").await.unwrap();
        raw(&db, "UPDATE audit_log SET action = 'test.other' WHERE seq = 50").await.unwrap();
        let report = verify(&db).await.unwrap();
        let bad = report.first_bad.unwrap();
        assert_eq!(bad.seq, 37, "{bad:?}");
        assert!(bad.problem.contains("does not match its contents"), "{bad:?}");
        assert_eq!(report.entries, 36);
    }

    async fn verify_names_a_deleted_entry(db: Db) {
        migrate(&db, &[solo_audit::MIGRATIONS]).await;
        fill(&db, 20).await;
        disable_triggers(&db).await;
        raw(&db, "DELETE FROM audit_log WHERE seq = 12").await.unwrap();
        let bad = verify(&db).await.unwrap().first_bad.unwrap();
        assert_eq!(bad.seq, 12, "{bad:?}");
        assert!(bad.problem.contains("entry 12 is missing"), "{bad:?}");
    }

    async fn a_rehashed_forgery_is_caught_at_the_next_link(db: Db) {
        migrate(&db, &[solo_audit::MIGRATIONS]).await;
        fill(&db, 10).await;
        disable_triggers(&db).await;
        // Forge entry 5 and give it a hash that matches its new contents:
        // entry 6 still links to the old hash.
        let mut forged = list(&db, &AuditFilter { before_seq: Some(6), limit: Some(1), ..AuditFilter::default() })
            .await.unwrap().remove(0);
        assert_eq!(forged.seq, 5);
        forged.details = json!({ "n": 12345 });
        let hash = solo_audit::entry_hash(&forged);
        let sql = format!(
            "UPDATE audit_log SET details = '{{\"n\":12345}}', hash = '{hash}' WHERE seq = 5"
        );
        match &db {
            Db::Sqlite(s) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(s.writer()).await.unwrap();
            }
            Db::Postgres(p) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(p).await.unwrap();
            }
        }
        let bad = verify(&db).await.unwrap().first_bad.unwrap();
        assert_eq!(bad.seq, 6, "{bad:?}");
        assert!(bad.problem.contains("prev_hash"), "{bad:?}");
    }

    async fn details_are_redacted_and_canonical(db: Db) {
        migrate(&db, &[solo_audit::MIGRATIONS]).await;
        let record = append_now(&db, NewEntry::new(Actor::system("t"), "test.secret").details(json!({
            "password": "hunter2hunter2",
            "note": "sent Authorization: Bearer abcdef123456",
            "nested": { "api_token": "tok_123456", "kept": "visible" },
        }))).await.unwrap();
        let text = record.details.to_string();
        for secret in ["hunter2hunter2", "abcdef123456", "tok_123456"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("visible"));
        let stored = list(&db, &AuditFilter::default()).await.unwrap().remove(0);
        assert_eq!(stored, record, "what was hashed is what is stored");

        // Key order does not change the hash.
        let a = append_now(&db, NewEntry::new(Actor::system("t"), "x").details(json!({"a": 1, "b": 2}))).await.unwrap();
        let mut twin = a.clone();
        twin.details = serde_json::from_str(r#"{"b": 2, "a": 1}"#).unwrap();
        assert_eq!(solo_audit::entry_hash(&twin), a.hash);
        assert!(verify(&db).await.unwrap().is_intact());
    }

    async fn list_filters_by_actor_action_time_and_pages(db: Db) {
        migrate(&db, &[solo_audit::MIGRATIONS]).await;
        let start = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let items = [
            ("ann", "user.create"), ("ann", "user.disable"), ("bob", "token.create"),
            ("ann", "session.login"), ("bob", "user_x.create"), ("ann", "user.create"),
        ];
        for (i, (who, action)) in items.iter().enumerate() {
            let mut tx = db.begin().await.unwrap();
            let entry = NewEntry::new(Actor::User { id: format!("id-{who}"), name: (*who).into() }, *action);
            append(&mut tx, entry, start + Duration::minutes(i64::try_from(i).unwrap())).await.unwrap();
            tx.commit().await.unwrap();
        }
        let seqs = |records: Vec<solo_audit::AuditRecord>| records.into_iter().map(|r| r.seq).collect::<Vec<_>>();
        let f = |filter: AuditFilter| { let db = db.clone(); async move { seqs(list(&db, &filter).await.unwrap()) } };
        assert_eq!(f(AuditFilter { actor: Some("bob".into()), ..Default::default() }).await, [5, 3]);
        assert_eq!(f(AuditFilter { action: Some("user.create".into()), ..Default::default() }).await, [6, 1]);
        assert_eq!(f(AuditFilter { action: Some("user.*".into()), ..Default::default() }).await, [6, 2, 1], "`_` is not a wildcard");
        assert_eq!(f(AuditFilter { action: Some("user.".into()), ..Default::default() }).await, [6, 2, 1]);
        assert_eq!(f(AuditFilter { since: Some(start + Duration::minutes(3)), ..Default::default() }).await, [6, 5, 4]);
        assert_eq!(f(AuditFilter { until: Some(start + Duration::minutes(2)), ..Default::default() }).await, [2, 1]);
        assert_eq!(f(AuditFilter { before_seq: Some(5), limit: Some(2), ..Default::default() }).await, [4, 3]);
        let record = list(&db, &AuditFilter { limit: Some(1), ..Default::default() }).await.unwrap().remove(0);
        assert_eq!(record.at(), start + Duration::minutes(5));
        assert_eq!(record.actor, Actor::User { id: "id-ann".into(), name: "ann".into() });
    }
}

async fn insert_thing(tx: &mut Tx, name: &str) {
    match tx {
        Tx::Sqlite(tx) => {
            sqlx::query("INSERT INTO things (name) VALUES ($1)")
                .bind(name.to_owned())
                .execute(&mut **tx)
                .await
                .unwrap();
        }
        Tx::Postgres(tx) => {
            sqlx::query("INSERT INTO things (name) VALUES ($1)")
                .bind(name.to_owned())
                .execute(&mut **tx)
                .await
                .unwrap();
        }
    }
}
