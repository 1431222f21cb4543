//! An access service on a test database, with a clock the test moves.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use solo_access::{Access, AccessSettings, Actor, ManualClock, RequestMeta, Role};
use solo_store::Db;
use solo_test_support::engines::migrate;

pub const PASSWORD: &str = "tangerine-oboe-43-glacier";

pub struct Fixture {
    pub access: Access,
    pub clock: Arc<ManualClock>,
}

pub async fn fixture(db: &Db) -> Fixture {
    fixture_with(db, AccessSettings::default()).await
}

pub async fn fixture_with(db: &Db, settings: AccessSettings) -> Fixture {
    migrate(db, &[solo_audit::MIGRATIONS, solo_access::MIGRATIONS]).await;
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    let access = Access::with_clock(db.clone(), settings, clock.clone());
    Fixture { access, clock }
}

pub fn system() -> Actor {
    Actor::System {
        name: "test".into(),
    }
}

pub fn meta(client: &str) -> RequestMeta {
    RequestMeta {
        request_id: Some("req-test".into()),
        client: Some(client.into()),
        user_agent: Some("test-agent".into()),
    }
}

impl Fixture {
    pub async fn user(&self, name: &str, role: Role) -> solo_access::UserInfo {
        self.access
            .create_user(&system(), name, role, PASSWORD, &meta("10.0.0.1"))
            .await
            .unwrap()
    }
}
