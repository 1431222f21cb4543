//! Sign-in, sessions, lockouts and tokens, on both engines, with a clock
//! the tests move.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::{PASSWORD, fixture, fixture_with, meta, system};
use solo_access::{AccessError, AccessSettings, LoginError, LoginStage, Role, SessionRejected};
use solo_test_support::storage_tests;

storage_tests! {
    async fn sessions_end_when_idle_and_at_their_lifetime(db: Db) {
        let f = fixture(&db).await;
        f.user("ann", Role::Viewer).await;

        // Idle: 29 minutes of quiet is fine and counts as use; 30 more is not.
        let session = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        assert_eq!(session.stage, LoginStage::Active);
        f.clock.advance(Duration::minutes(29));
        assert!(f.access.authenticate_session(&session.token).await.unwrap().is_ok());
        f.clock.advance(Duration::minutes(29));
        assert!(f.access.authenticate_session(&session.token).await.unwrap().is_ok(), "used 29 min ago");
        f.clock.advance(Duration::minutes(31));
        assert_eq!(
            f.access.authenticate_session(&session.token).await.unwrap().unwrap_err(),
            SessionRejected::Idle
        );

        // Absolute: kept busy every 20 minutes, it still ends at 12 h.
        let session = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        for _ in 0..35 {
            f.clock.advance(Duration::minutes(20));
            assert!(f.access.authenticate_session(&session.token).await.unwrap().is_ok());
        }
        f.clock.advance(Duration::minutes(20)); // 12 h since sign-in
        assert_eq!(
            f.access.authenticate_session(&session.token).await.unwrap().unwrap_err(),
            SessionRejected::Expired
        );
        assert_eq!(
            f.access.authenticate_session("made-up").await.unwrap().unwrap_err(),
            SessionRejected::Unknown
        );
    }

    async fn timeouts_follow_the_settings(db: Db) {
        let f = fixture_with(&db, AccessSettings {
            session_idle: std::time::Duration::from_secs(120),
            session_lifetime: std::time::Duration::from_secs(600),
            ..AccessSettings::default()
        }).await;
        f.user("ann", Role::Viewer).await;
        let session = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        f.clock.advance(Duration::seconds(121));
        assert_eq!(
            f.access.authenticate_session(&session.token).await.unwrap().unwrap_err(),
            SessionRejected::Idle
        );
    }

    async fn logout_and_sign_out_everywhere_revoke_server_side(db: Db) {
        let f = fixture(&db).await;
        f.user("ann", Role::Operator).await;
        let laptop = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        let phone = f.access.login("ann", PASSWORD, &meta("10.0.0.2")).await.unwrap();
        let tablet = f.access.login("ann", PASSWORD, &meta("10.0.0.3")).await.unwrap();
        assert_ne!(laptop.session_id, phone.session_id, "a new session id at every sign-in");

        let caller = f.access.authenticate_session(&laptop.token).await.unwrap().unwrap();
        assert_eq!(f.access.sessions_of(&caller).await.unwrap().len(), 3);
        f.access.logout(&caller, &meta("10.0.0.1")).await.unwrap();
        assert_eq!(
            f.access.authenticate_session(&laptop.token).await.unwrap().unwrap_err(),
            SessionRejected::Revoked
        );

        let caller = f.access.authenticate_session(&phone.token).await.unwrap().unwrap();
        f.access.revoke_own_session(&caller, &tablet.session_id, &meta("10.0.0.2")).await.unwrap();
        assert!(f.access.authenticate_session(&tablet.token).await.unwrap().is_err());
        assert!(f.access.authenticate_session(&phone.token).await.unwrap().is_ok());

        let again = f.access.login("ann", PASSWORD, &meta("10.0.0.3")).await.unwrap();
        let ended = f.access.logout_everywhere(&caller, &meta("10.0.0.2")).await.unwrap();
        assert_eq!(ended, 2);
        for token in [&phone.token, &again.token] {
            assert!(f.access.authenticate_session(token).await.unwrap().is_err());
        }
    }

    async fn disabling_a_user_ends_their_sessions_and_sign_ins(db: Db) {
        let f = fixture(&db).await;
        f.user("root", Role::Admin).await;
        f.user("ann", Role::Operator).await;
        let session = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        f.access.set_disabled(&system(), "ann", true, &meta("10.0.0.9")).await.unwrap();
        assert!(f.access.authenticate_session(&session.token).await.unwrap().is_err());
        assert!(matches!(
            f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await,
            Err(LoginError::Invalid)
        ));
    }

    async fn unknown_users_and_wrong_passwords_get_the_same_answer_and_lock_out(db: Db) {
        let f = fixture(&db).await;
        f.user("ann", Role::Viewer).await;
        let unknown = f.access.login("nobody", PASSWORD, &meta("10.0.0.1")).await.unwrap_err();
        let wrong = f.access.login("ann", "wrong-password-123", &meta("10.0.0.1")).await.unwrap_err();
        assert_eq!(unknown.to_string(), wrong.to_string());

        // Five failures allowed (one done above), then a lockout that grows.
        for _ in 0..4 {
            assert!(matches!(
                f.access.login("ann", "wrong-password-123", &meta("10.0.0.2")).await,
                Err(LoginError::Invalid)
            ));
        }
        let locked = f.access.login("ann", PASSWORD, &meta("10.0.0.3")).await.unwrap_err();
        let LoginError::Locked { retry_after_s } = locked else { panic!("{locked:?}") };
        assert_eq!(retry_after_s, 60, "even the right password waits");

        f.clock.advance(Duration::seconds(61));
        assert!(matches!(
            f.access.login("ann", "wrong-password-123", &meta("10.0.0.2")).await,
            Err(LoginError::Invalid)
        ));
        let LoginError::Locked { retry_after_s } =
            f.access.login("ann", PASSWORD, &meta("10.0.0.3")).await.unwrap_err()
        else { panic!("locked again") };
        assert_eq!(retry_after_s, 120, "the second lockout is twice as long");

        f.clock.advance(Duration::seconds(121));
        f.access.login("ann", PASSWORD, &meta("10.0.0.3")).await.unwrap();
        assert!(matches!(
            f.access.login("ann", "wrong-password-123", &meta("10.0.0.2")).await,
            Err(LoginError::Invalid)
        ), "a success starts the count over");

        // Unknown names lock out the same way: no account enumeration.
        for _ in 0..5 {
            let _ = f.access.login("ghost", "whatever-password", &meta("10.0.0.4")).await;
        }
        assert!(matches!(
            f.access.login("ghost", "whatever-password", &meta("10.0.0.5")).await,
            Err(LoginError::Locked { .. })
        ));
    }

    async fn one_client_address_is_throttled_across_accounts(db: Db) {
        let f = fixture(&db).await;
        f.user("ann", Role::Viewer).await;
        for i in 0..20 {
            let _ = f.access.login(&format!("guess{i}"), "whatever-password", &meta("10.6.6.6")).await;
        }
        assert!(matches!(
            f.access.login("ann", PASSWORD, &meta("10.6.6.6")).await,
            Err(LoginError::Locked { .. })
        ));
        f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.expect("other addresses are fine");
    }

    async fn api_tokens_expire_and_revoke(db: Db) {
        let f = fixture(&db).await;
        let ci = f.access.create_token(
            &system(), "ci", Role::Operator, Some(std::time::Duration::from_secs(90 * 86_400)), &meta("10.0.0.1"),
        ).await.unwrap();
        assert!(ci.token.starts_with("solo_"), "recognisable prefix");
        let caller = f.access.authenticate_token(&ci.token).await.unwrap().expect("valid");
        assert_eq!(caller.role, Role::Operator);
        assert!(caller.session.is_none());
        let listed = f.access.list_tokens().await.unwrap();
        assert!(listed[0].last_used_at.is_some(), "last use recorded");
        assert!(!serde_json::to_string(&listed).unwrap().contains(&ci.token), "the value is never listed");

        f.clock.advance(Duration::days(90));
        assert!(f.access.authenticate_token(&ci.token).await.unwrap().is_none(), "expired");

        let deploy = f.access.create_token(&system(), "deploy", Role::Admin, None, &meta("10.0.0.1")).await.unwrap();
        f.clock.advance(Duration::days(3650));
        assert!(f.access.authenticate_token(&deploy.token).await.unwrap().is_some(), "no expiry");
        f.access.revoke_token(&system(), &deploy.info.id, &meta("10.0.0.1")).await.unwrap();
        assert!(f.access.authenticate_token(&deploy.token).await.unwrap().is_none(), "revoked");
        assert!(matches!(
            f.access.revoke_token(&system(), &deploy.info.id, &meta("10.0.0.1")).await,
            Err(AccessError::NotFound { .. })
        ));
        assert!(f.access.authenticate_token("solo_not-a-real-token").await.unwrap().is_none());
        assert!(f.access.authenticate_token("ghp_other-scheme").await.unwrap().is_none());
    }

    async fn users_have_rules_of_their_own(db: Db) {
        let f = fixture(&db).await;
        assert!(!f.access.admin_exists().await.unwrap());
        let root = f.user("root", Role::Admin).await;
        assert!(f.access.admin_exists().await.unwrap());
        assert!(matches!(
            f.access.create_user(&system(), "ROOT", Role::Viewer, PASSWORD, &meta("x")).await,
            Err(AccessError::Conflict(_))
        ), "names are unique whatever their case");
        assert!(matches!(
            f.access.create_user(&system(), "bob", Role::Viewer, "qwerty123456", &meta("x")).await,
            Err(AccessError::Password(_))
        ));
        assert!(matches!(
            f.access.create_user(&system(), "no spaces", Role::Viewer, PASSWORD, &meta("x")).await,
            Err(AccessError::Invalid { field: "name", .. })
        ));
        // The last admin can neither be demoted nor disabled.
        assert!(matches!(
            f.access.set_role(&system(), &root.id, Role::Operator, &meta("x")).await,
            Err(AccessError::Conflict(_))
        ));
        assert!(matches!(
            f.access.set_disabled(&system(), "root", true, &meta("x")).await,
            Err(AccessError::Conflict(_))
        ));
        f.user("second", Role::Admin).await;
        let demoted = f.access.set_role(&system(), "root", Role::Operator, &meta("x")).await.unwrap();
        assert_eq!(demoted.role, Role::Operator);

        // Changing a password proves the old one and ends the other sessions.
        let a = f.access.login("root", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        let b = f.access.login("root", PASSWORD, &meta("10.0.0.2")).await.unwrap();
        assert!(matches!(
            f.access.change_password(&system(), &root.id, "not-the-password", "a-brand-new-passphrase", Some(&a.session_id), &meta("x")).await,
            Err(AccessError::WrongPassword)
        ));
        f.access.change_password(&system(), &root.id, PASSWORD, "a-brand-new-passphrase", Some(&a.session_id), &meta("x")).await.unwrap();
        assert!(f.access.authenticate_session(&a.token).await.unwrap().is_ok(), "this session stays");
        assert!(f.access.authenticate_session(&b.token).await.unwrap().is_err(), "others end");
        f.access.login("root", "a-brand-new-passphrase", &meta("10.0.0.1")).await.unwrap();
    }
}

storage_tests! {
    async fn every_change_and_sign_in_leaves_an_audit_entry(db: Db) {
        let f = fixture(&db).await;
        let root = f.user("root", Role::Admin).await;
        let admin = solo_access::Actor::User { id: root.id.clone(), name: "root".into() };
        f.access.create_user(&admin, "ann", Role::Viewer, PASSWORD, &meta("10.0.0.7")).await.unwrap();
        f.access.set_role(&admin, "ann", Role::Operator, &meta("10.0.0.7")).await.unwrap();
        let _ = f.access.login("ann", "wrong-password-123", &meta("10.0.0.8")).await;
        let session = f.access.login("ann", PASSWORD, &meta("10.0.0.8")).await.unwrap();
        // A password typed into the name field is not kept.
        let _ = f.access.login("hunter2-typed-in-the-name", "x", &meta("10.0.0.8")).await;
        let caller = f.access.authenticate_session(&session.token).await.unwrap().unwrap();
        let token = f.access.create_token(&admin, "ci", Role::Viewer, None, &meta("10.0.0.7")).await.unwrap();
        f.access.revoke_token(&admin, &token.info.id, &meta("10.0.0.7")).await.unwrap();
        f.access.logout(&caller, &meta("10.0.0.8")).await.unwrap();
        f.access.set_disabled(&admin, "ann", true, &meta("10.0.0.7")).await.unwrap();

        let entries = solo_audit::list(&db, &solo_audit::AuditFilter::default()).await.unwrap();
        let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, [
            "user.create", "user.create", "user.set_role", "session.login_failed",
            "session.login", "session.login_failed", "token.create", "token.revoke",
            "session.logout", "user.disable",
        ]);
        let unknown = entries.iter().find(|e| e.action == "session.login_failed" && e.details["known_user"] == false).unwrap();
        assert_eq!(unknown.target, None);
        assert!(!serde_json::to_string(unknown).unwrap().contains("hunter2"));
        let failed = entries.iter().find(|e| e.action == "session.login_failed" && e.details["known_user"] == true).unwrap();
        assert_eq!(failed.actor, solo_access::Actor::System { name: "anonymous".into() });
        assert_eq!(failed.target.as_deref(), Some("ann"));
        assert_eq!(failed.client.as_deref(), Some("10.0.0.8"));
        assert_eq!(failed.request_id.as_deref(), Some("req-test"));
        let login = entries.iter().find(|e| e.action == "session.login").unwrap();
        assert_eq!(login.actor.name(), "ann");
        let everything = serde_json::to_string(&entries).unwrap();
        assert!(!everything.contains(PASSWORD) && !everything.contains("wrong-password-123"));
        assert!(!everything.contains(&token.token) && !everything.contains(&session.token));
        assert!(solo_audit::verify(&db).await.unwrap().is_intact());
    }
}

/// Unknown names cost one argon2 verification, like wrong passwords, so
/// timing does not tell which accounts exist. (A loose bound: without the
/// dummy verification the ratio is above 100.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_take_about_as_long_as_wrong_passwords() {
    let test = solo_test_support::engines::TestDb::sqlite().await;
    let f = fixture(&test.db).await;
    f.user("ann", Role::Viewer).await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..6 {
        let started = std::time::Instant::now();
        let _ = f
            .access
            .login("ann", "wrong-password-123", &meta(&format!("10.1.0.{i}")))
            .await;
        known.push(started.elapsed());
        let started = std::time::Instant::now();
        let _ = f
            .access
            .login(
                &format!("nobody{i}"),
                "wrong-password-123",
                &meta(&format!("10.2.0.{i}")),
            )
            .await;
        unknown.push(started.elapsed());
        // Stay under the lockout so every attempt verifies.
        f.clock.advance(Duration::hours(1));
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[3].as_secs_f64(), unknown[3].as_secs_f64());
    let ratio = k.max(u) / k.min(u);
    assert!(
        ratio < 3.0,
        "wrong password {k:.4}s vs unknown user {u:.4}s"
    );
}
