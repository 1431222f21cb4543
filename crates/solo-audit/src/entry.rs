//! What an entry is, in and out.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use solo_observe::{REDACTED, Redactor};
use utoipa::ToSchema;

use crate::canonical::{GENESIS, entry_hash};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Actor {
    /// A person, signed in.
    User { id: String, name: String },
    /// An API token.
    Token { id: String, name: String },
    /// solo itself (`node`), or the CLI at the machine (`cli:<os user>`),
    /// or nobody yet (`anonymous`, for failed sign-ins).
    System { name: String },
}

impl Actor {
    pub fn system(name: impl Into<String>) -> Self {
        Actor::System { name: name.into() }
    }

    /// (kind, id, name) as stored.
    pub(crate) fn parts(&self) -> (&'static str, Option<&str>, &str) {
        match self {
            Actor::User { id, name } => ("user", Some(id), name),
            Actor::Token { id, name } => ("token", Some(id), name),
            Actor::System { name } => ("system", None, name),
        }
    }

    pub(crate) fn from_parts(kind: &str, id: Option<String>, name: String) -> Result<Self, String> {
        match (kind, id) {
            ("user", Some(id)) => Ok(Actor::User { id, name }),
            ("token", Some(id)) => Ok(Actor::Token { id, name }),
            ("system", None) => Ok(Actor::System { name }),
            (kind, _) => Err(format!("actor kind `{kind}` with that id is impossible")),
        }
    }

    pub fn name(&self) -> &str {
        self.parts().2
    }
}

/// An entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub actor: Actor,
    /// Dotted, subject first: `user.create`, `session.login_failed`.
    pub action: String,
    /// What was changed, by name (a user, a token, a job…).
    pub target: Option<String>,
    /// Anything else worth keeping; redacted before it is stored.
    pub details: Value,
    pub request_id: Option<String>,
    pub client: Option<String>,
}

impl NewEntry {
    pub fn new(actor: Actor, action: impl Into<String>) -> Self {
        NewEntry {
            actor,
            action: action.into(),
            target: None,
            details: Value::Object(serde_json::Map::new()),
            request_id: None,
            client: None,
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn request(mut self, request_id: Option<String>, client: Option<String>) -> Self {
        self.request_id = request_id;
        self.client = client;
        self
    }
}

/// Who asks for a change and from where: what every audited action
/// carries from the API, the dashboard, the CLI or solo itself.
#[derive(Debug, Clone)]
pub struct Requester {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub client: Option<String>,
}

impl Requester {
    /// solo itself (`node`, `solo (watch)`), outside any request.
    pub fn system(name: impl Into<String>) -> Self {
        Requester {
            actor: Actor::system(name),
            request_id: None,
            client: None,
        }
    }

    /// The entry recording `action` on `target` by this requester.
    pub fn entry(&self, action: &str, target: Option<String>, details: Value) -> NewEntry {
        let mut entry = NewEntry::new(self.actor.clone(), action)
            .details(details)
            .request(self.request_id.clone(), self.client.clone());
        entry.target = target;
        entry
    }
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditRecord {
    /// 1, 2, 3… without gaps.
    pub seq: i64,
    /// Unix microseconds (what the hash covers); `at` is the same instant.
    pub at_us: i64,
    pub actor: Actor,
    pub action: String,
    pub target: Option<String>,
    pub details: Value,
    pub request_id: Option<String>,
    pub client: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        Utc.timestamp_micros(self.at_us)
            .single()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }

    /// The next entry after `head` (seq and hash of the last one, if any).
    pub(crate) fn chained(entry: NewEntry, at: DateTime<Utc>, head: Option<(i64, String)>) -> Self {
        let (seq, prev_hash) = match head {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS.to_owned()),
        };
        let mut record = AuditRecord {
            seq,
            at_us: at.timestamp_micros(),
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            details: redact(entry.details, &Redactor::new()),
            request_id: entry.request_id,
            client: entry.client,
            prev_hash,
            hash: String::new(),
        };
        record.hash = entry_hash(&record);
        record
    }
}

/// Credentials never reach the audit log: values under credential-like
/// keys are replaced, and credential shapes inside text are scrubbed.
fn redact(value: Value, redactor: &Redactor) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let value = if Redactor::is_sensitive_name(&key) && !value.is_null() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact(value, redactor)
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| redact(v, redactor)).collect())
        }
        Value::String(text) => Value::String(redactor.text(&text)),
        other => other,
    }
}

/// Which entries [`crate::list`] returns.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The actor's name, exactly.
    pub actor: Option<String>,
    /// An action exactly, or a prefix when it ends with `.` or `*`
    /// (`user.*` matches `user.create`, `user.disable`…).
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only entries older than this seq (paging backwards).
    pub before_seq: Option<i64>,
    /// At most this many (default 100, capped at 1000).
    pub limit: Option<u32>,
}

impl AuditFilter {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 1000;

    pub(crate) fn limit(&self) -> i64 {
        i64::from(
            self.limit
                .unwrap_or(Self::DEFAULT_LIMIT)
                .clamp(1, Self::MAX_LIMIT),
        )
    }

    /// (exact action, LIKE pattern for a prefix).
    pub(crate) fn action_match(&self) -> (Option<String>, Option<String>) {
        match self.action.as_deref() {
            None => (None, None),
            Some(action) => match action
                .strip_suffix('*')
                .or_else(|| action.ends_with('.').then_some(action))
            {
                Some(prefix) => {
                    let escaped = prefix
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    (None, Some(format!("{escaped}%")))
                }
                None => (Some(action.to_owned()), None),
            },
        }
    }
}
