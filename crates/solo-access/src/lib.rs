//! Access: who may do what.
//!
//! Users with one of three [`Role`]s, server-side sessions for the
//! dashboard, TOTP second factor with recovery codes, API tokens for
//! scripts and CI, login throttling, and the [`rules`] that decide, per
//! route, the least role a caller needs. Every change appends an audit
//! entry in the same transaction.
//!
//! Owns the `access_*` tables; their SQL lives only in `store.rs`.
//! Secrets are never stored: passwords as argon2id, session ids, tokens and
//! recovery codes as SHA-256.

mod audit;
mod clock;
pub mod cookie;
mod error;
mod extract;
pub mod guard;
mod login;
mod mfa;
pub mod password;
mod role;
mod routes;
pub mod rules;
mod secret;
mod sessions;
mod store;
mod throttle;
mod tokens;
pub mod totp;
mod users;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use solo_store::{Db, Migration, MigrationSet};

pub use audit::{Actor, RequestMeta};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::AccessError;
pub use guard::Guard;
pub use login::{LoginError, LoginOutcome, LoginStage};
pub use mfa::MfaEnrolment;
pub use password::PasswordRejected;
pub use role::{Role, UnknownRole};
pub use routes::{api_error, routes};
pub use sessions::{Caller, NewSession, SessionInfo, SessionRef, SessionRejected};
pub use tokens::{NewToken, TOKEN_PREFIX, TokenInfo};
pub use users::UserInfo;

/// The `access` component's migrations.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    component: "access",
    migrations: &[Migration {
        version: 1,
        name: "create_access",
        sqlite: include_str!("../migrations/sqlite/0001_create_access.sql"),
        postgres: include_str!("../migrations/postgres/0001_create_access.sql"),
    }],
};

/// How access behaves; from `[access]` in solo.toml.
#[derive(Debug, Clone)]
pub struct AccessSettings {
    /// A session unused this long ends (default 30 min).
    pub session_idle: Duration,
    /// A session ends this long after sign-in whatever happens (default 12 h).
    pub session_lifetime: Duration,
    /// Admins without TOTP may only reach their account page, to enrol.
    pub require_mfa_for_admins: bool,
    /// The name authenticator apps show for solo's entry.
    pub issuer: String,
}

impl Default for AccessSettings {
    fn default() -> Self {
        AccessSettings {
            session_idle: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
            require_mfa_for_admins: false,
            issuer: "solo".to_owned(),
        }
    }
}

/// The access service: cheap to clone, shared by the routes, the
/// dashboard and the CLI.
#[derive(Clone, Debug)]
pub struct Access {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    clock: Arc<dyn Clock>,
    settings: AccessSettings,
}

impl Access {
    pub fn new(db: Db, settings: AccessSettings) -> Self {
        Access::with_clock(db, settings, Arc::new(SystemClock))
    }

    /// With an injected clock (tests move it to expire sessions).
    pub fn with_clock(db: Db, settings: AccessSettings, clock: Arc<dyn Clock>) -> Self {
        Access {
            inner: Arc::new(Inner {
                db,
                clock,
                settings,
            }),
        }
    }

    pub fn settings(&self) -> &AccessSettings {
        &self.inner.settings
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Now, by this service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// Unix milliseconds back to a time (0 for the impossible out-of-range).
pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Runs CPU-heavy work (argon2) off the async threads, at most one per
/// core at a time: each hash takes 19 MiB, and a burst of sign-ins must not
/// fill the blocking pool (512 threads) and the machine's memory.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AccessError> {
    static HASHERS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let hashers = HASHERS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores.max(1))
    });
    let _permit = hashers
        .acquire()
        .await
        .map_err(|e| AccessError::Internal(format!("the hashing queue closed: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AccessError::Internal(format!("a hashing task failed: {e}")))
}
