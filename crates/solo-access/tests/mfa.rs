//! TOTP enrolment and sign-in, recovery codes, and the admin MFA rule.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::{PASSWORD, fixture, fixture_with, meta};
use solo_access::totp::{STEP_SECONDS, code_at};
use solo_access::{AccessError, AccessSettings, LoginError, LoginStage, Role};
use solo_test_support::storage_tests;

storage_tests! {
    async fn totp_sign_in_with_skew_and_single_use_recovery_codes(db: Db) {
        let f = fixture(&db).await;
        f.user("ann", Role::Admin).await;
        let session = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        let caller = f.access.authenticate_session(&session.token).await.unwrap().unwrap();

        // Enrol: a pending secret changes nothing until a code confirms it.
        let enrolment = f.access.start_mfa(&caller, &meta("10.0.0.1")).await.unwrap();
        assert!(enrolment.uri.starts_with("otpauth://totp/solo%3Aann?secret="));
        assert!(matches!(
            f.access.confirm_mfa(&caller, "000000", &meta("10.0.0.1")).await,
            Err(AccessError::WrongCode)
        ));
        let code = code_at(&enrolment.secret, f.access.now()).unwrap();
        let recovery = f.access.confirm_mfa(&caller, &code, &meta("10.0.0.1")).await.unwrap();
        assert_eq!(recovery.len(), 10);
        assert_eq!(f.access.recovery_codes_left(&caller).await.unwrap(), 10);

        // Password alone now only reaches the code stage, which is no session.
        // (Two steps on: the step that confirmed enrolment is spent.)
        f.clock.advance(Duration::seconds(2 * STEP_SECONDS));
        let pending = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        assert_eq!(pending.stage, LoginStage::MfaPending);
        assert!(f.access.authenticate_session(&pending.token).await.unwrap().is_err());

        // A code from the previous step (a slow phone) is accepted…
        let late = code_at(&enrolment.secret, f.access.now() - Duration::seconds(STEP_SECONDS)).unwrap();
        let active = f.access.login_mfa(&pending.token, &late, &meta("10.0.0.1")).await.unwrap();
        assert_eq!(active.stage, LoginStage::Active);
        assert_ne!(active.session_id, pending.session_id, "a new session id once signed in");
        assert!(f.access.authenticate_session(&active.token).await.unwrap().is_ok());
        assert!(f.access.authenticate_session(&pending.token).await.unwrap().is_err());

        // …but not twice, and not from two steps away.
        let pending = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        assert!(matches!(
            f.access.login_mfa(&pending.token, &late, &meta("10.0.0.1")).await,
            Err(LoginError::Invalid)
        ), "a used code is refused");
        let stale = code_at(&enrolment.secret, f.access.now() - Duration::seconds(2 * STEP_SECONDS)).unwrap();
        assert!(matches!(
            f.access.login_mfa(&pending.token, &stale, &meta("10.0.0.1")).await,
            Err(LoginError::Invalid)
        ));
        let ahead = code_at(&enrolment.secret, f.access.now() + Duration::seconds(STEP_SECONDS)).unwrap();
        f.access.login_mfa(&pending.token, &ahead, &meta("10.0.0.1")).await.expect("one step ahead is fine");

        // Recovery codes: any case, with or without the dash; each once.
        let code = recovery[3].to_lowercase().replace('-', "");
        let pending = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        f.access.login_mfa(&pending.token, &code, &meta("10.0.0.1")).await.unwrap();
        let pending = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        assert!(matches!(
            f.access.login_mfa(&pending.token, &recovery[3], &meta("10.0.0.1")).await,
            Err(LoginError::Invalid)
        ), "a recovery code works once");
        assert_eq!(f.access.recovery_codes_left(&caller).await.unwrap(), 9);

        // The code stage expires.
        let pending = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        f.clock.advance(Duration::minutes(6));
        let code = code_at(&enrolment.secret, f.access.now()).unwrap();
        assert!(matches!(
            f.access.login_mfa(&pending.token, &code, &meta("10.0.0.1")).await,
            Err(LoginError::Invalid)
        ));

        // Turning it off needs the password.
        let session = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        let code = code_at(&enrolment.secret, f.access.now()).unwrap();
        let active = f.access.login_mfa(&session.token, &code, &meta("10.0.0.1")).await.unwrap();
        let caller = f.access.authenticate_session(&active.token).await.unwrap().unwrap();
        assert!(matches!(
            f.access.disable_mfa(&caller, "not-my-password", &meta("x")).await,
            Err(AccessError::WrongPassword)
        ));
        f.access.disable_mfa(&caller, PASSWORD, &meta("x")).await.unwrap();
        let back = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        assert_eq!(back.stage, LoginStage::Active);
    }

    async fn wrong_codes_count_toward_the_lockout(db: Db) {
        let f = fixture(&db).await;
        f.user("ann", Role::Viewer).await;
        let session = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        let caller = f.access.authenticate_session(&session.token).await.unwrap().unwrap();
        let enrolment = f.access.start_mfa(&caller, &meta("x")).await.unwrap();
        let code = code_at(&enrolment.secret, f.access.now()).unwrap();
        f.access.confirm_mfa(&caller, &code, &meta("x")).await.unwrap();
        f.clock.advance(Duration::seconds(STEP_SECONDS * 2));

        let pending = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        for _ in 0..5 {
            assert!(matches!(
                f.access.login_mfa(&pending.token, "123456", &meta("10.0.0.1")).await,
                Err(LoginError::Invalid)
            ));
        }
        let right = code_at(&enrolment.secret, f.access.now()).unwrap();
        assert!(matches!(
            f.access.login_mfa(&pending.token, &right, &meta("10.0.0.1")).await,
            Err(LoginError::Locked { .. })
        ));
    }

    async fn admins_without_mfa_are_held_at_enrolment_when_required(db: Db) {
        let f = fixture_with(&db, AccessSettings {
            require_mfa_for_admins: true,
            ..AccessSettings::default()
        }).await;
        f.user("root", Role::Admin).await;
        f.user("ann", Role::Operator).await;
        let root = f.access.login("root", PASSWORD, &meta("x")).await.unwrap();
        let caller = f.access.authenticate_session(&root.token).await.unwrap().unwrap();
        assert!(caller.mfa_required_but_missing);
        let ann = f.access.login("ann", PASSWORD, &meta("x")).await.unwrap();
        let ann = f.access.authenticate_session(&ann.token).await.unwrap().unwrap();
        assert!(!ann.mfa_required_but_missing, "only admins");

        let enrolment = f.access.start_mfa(&caller, &meta("x")).await.unwrap();
        let code = code_at(&enrolment.secret, f.access.now()).unwrap();
        f.access.confirm_mfa(&caller, &code, &meta("x")).await.unwrap();
        let caller = f.access.authenticate_session(&root.token).await.unwrap().unwrap();
        assert!(!caller.mfa_required_but_missing);
    }
}

storage_tests! {
    async fn a_right_password_does_not_reset_the_count_of_wrong_codes(db: Db) {
        let f = fixture(&db).await;
        f.user("ann", Role::Viewer).await;
        let session = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        let caller = f.access.authenticate_session(&session.token).await.unwrap().unwrap();
        let enrolment = f.access.start_mfa(&caller, &meta("x")).await.unwrap();
        let code = code_at(&enrolment.secret, f.access.now()).unwrap();
        f.access.confirm_mfa(&caller, &code, &meta("x")).await.unwrap();
        f.clock.advance(Duration::seconds(STEP_SECONDS * 2));

        // Password, 3 wrong codes; password again (from elsewhere), 2 more.
        for (address, guesses) in [("10.0.0.2", 3), ("10.0.0.3", 2)] {
            let pending = f.access.login("ann", PASSWORD, &meta(address)).await.unwrap();
            for _ in 0..guesses {
                assert!(matches!(
                    f.access.login_mfa(&pending.token, "123456", &meta(address)).await,
                    Err(LoginError::Invalid)
                ));
            }
        }
        assert!(matches!(
            f.access.login("ann", PASSWORD, &meta("10.0.0.4")).await,
            Err(LoginError::Locked { .. })
        ), "five wrong codes lock the account, passwords in between or not");
    }
}

storage_tests! {
    async fn a_stolen_session_can_neither_replace_mfa_nor_guess_the_password(db: Db) {
        let f = fixture(&db).await;
        let ann = f.user("ann", Role::Operator).await;
        let session = f.access.login("ann", PASSWORD, &meta("10.0.0.1")).await.unwrap();
        let caller = f.access.authenticate_session(&session.token).await.unwrap().unwrap();
        let enrolment = f.access.start_mfa(&caller, &meta("x")).await.unwrap();
        let code = code_at(&enrolment.secret, f.access.now()).unwrap();
        f.access.confirm_mfa(&caller, &code, &meta("x")).await.unwrap();
        assert!(matches!(
            f.access.start_mfa(&caller, &meta("x")).await,
            Err(AccessError::Conflict(_))
        ), "re-enrolling needs MFA turned off first, which needs the password");

        for _ in 0..5 {
            assert!(matches!(
                f.access.change_password(&caller.actor, &ann.id, "a-guess-at-the-password", "a-new-long-passphrase", None, &meta("x")).await,
                Err(AccessError::WrongPassword)
            ));
        }
        assert!(matches!(
            f.access.disable_mfa(&caller, PASSWORD, &meta("x")).await,
            Err(AccessError::Conflict(_))
        ), "locked out even with the right password");
        assert!(matches!(
            f.access.login("ann", PASSWORD, &meta("10.0.0.9")).await,
            Err(LoginError::Locked { .. })
        ));
    }
}
