use std::sync::{Arc, OnceLock, RwLock};

use regex::Regex;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Scrubs credentials out of log fields.
///
/// Three rules, applied to every field:
/// 1. a field *named* like a credential (password, token, secret,
///    authorization, cookie, api key, …) loses its whole value;
/// 2. inside any text, credential-shaped pieces are replaced: `Bearer …`,
///    `password=…`/`"token": "…"` pairs, and passwords in URLs;
/// 3. values registered at run time (the secrets vault registers every
///    secret it holds) are replaced wherever they appear.
#[derive(Clone, Default)]
pub struct Redactor {
    known: Arc<RwLock<Vec<String>>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").finish_non_exhaustive()
    }
}

struct Patterns {
    scheme: Regex,
    pair: Regex,
    url_password: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| Patterns {
        scheme: Regex::new(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{3,}")
            .expect("static regex"),
        pair: Regex::new(
            r#"(?i)("?[a-z0-9_-]*(?:password|passwd|secret|token|auth|cookie|session|api[_-]?key|private[_-]?key|credential)[a-z0-9_-]*"?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,&;}\]]+)"#,
        )
        .expect("static regex"),
        url_password: Regex::new(r"(://[^/\s:@]+:)[^@\s/]+@").expect("static regex"),
    })
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when a field of this name holds a credential as a whole.
    pub fn is_sensitive_name(name: &str) -> bool {
        // "auth" covers authorization and custom headers (x-auth, oauth…);
        // "session" covers session ids and session cookies.
        const WORDS: &[&str] = &[
            "password",
            "passwd",
            "secret",
            "token",
            "auth",
            "cookie",
            "session",
            "apikey",
            "api_key",
            "private_key",
            "credential",
        ];
        let lower = name.to_ascii_lowercase();
        // `session_id`, `token_id`, `client_id`: names of things, not
        // credentials; solo never uses an id as a bearer secret.
        if lower.ends_with("_id") || lower.ends_with("-id") {
            return false;
        }
        WORDS.iter().any(|w| lower.contains(w))
    }

    /// Adds a value to replace wherever it appears (e.g. a secret's value).
    /// Very short values are ignored: replacing `on` everywhere helps nobody.
    pub fn register_secret(&self, value: &str) {
        if value.len() < 6 {
            return;
        }
        if let Ok(mut known) = self.known.write()
            && !known.iter().any(|k| k == value)
        {
            known.push(value.to_owned());
            // Longest first, so a secret containing another is replaced whole.
            known.sort_by_key(|k| std::cmp::Reverse(k.len()));
        }
    }

    /// The value of a field named `name`, made safe to write.
    pub fn field(&self, name: &str, value: &str) -> String {
        if Self::is_sensitive_name(name) {
            return REDACTED.to_owned();
        }
        self.text(value)
    }

    /// Free text made safe to write.
    pub fn text(&self, value: &str) -> String {
        let p = patterns();
        let mut out = p
            .scheme
            .replace_all(value, format!("${{1}}${{2}}{REDACTED}"))
            .into_owned();
        out = p
            .pair
            .replace_all(&out, format!("${{1}}{REDACTED}"))
            .into_owned();
        out = p
            .url_password
            .replace_all(&out, format!("${{1}}{REDACTED}@"))
            .into_owned();
        if let Ok(known) = self.known.read() {
            for secret in known.iter() {
                if out.contains(secret.as_str()) {
                    out = out.replace(secret.as_str(), REDACTED);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_field_by_name() {
        let r = Redactor::new();
        for name in [
            "password",
            "new_password",
            "api_token",
            "Authorization",
            "set-cookie",
            "client_secret",
            "x-auth",
            "session",
            "api_key",
        ] {
            assert_eq!(r.field(name, "hunter2hunter2"), REDACTED, "{name}");
        }
        assert_eq!(r.field("route", "/healthz"), "/healthz");
        for id in ["session_id", "token_id", "client_id"] {
            assert_eq!(
                r.field(id, "01h2x3"),
                "01h2x3",
                "{id} is a name, not a secret"
            );
        }
    }

    #[test]
    fn credential_shapes_inside_text() {
        let r = Redactor::new();
        let cases = [
            ("Authorization: Bearer s3cr3tv4lue", "s3cr3tv4lue"),
            (r#"{"authorization": "Basic dXNlcjpwYXNz"}"#, "dXNlcjpwYXNz"),
            (
                "login failed password=hunter2hunter2 user=ann",
                "hunter2hunter2",
            ),
            (r#"{"token":"abc.def.ghi","x":1}"#, "abc.def.ghi"),
            ("GET /hook?api_key=k_live_123&x=1", "k_live_123"),
            ("postgres://solo:pa55word@db:5432/app", "pa55word"),
            (r#"{"x-auth": "Key cust0m-k3y"}"#, "cust0m-k3y"),
            (r#"{"cookie": "sid=\"q w e\" x", "a": 1}"#, "q w e"),
            (r#"session="abc\"def""#, "def"),
        ];
        for (input, secret) in cases {
            let out = r.text(input);
            assert!(!out.contains(secret), "{input} -> {out}");
            assert!(out.contains(REDACTED), "{input} -> {out}");
        }
        assert_eq!(r.text("user=ann status=200"), "user=ann status=200");
        assert!(
            r.text("postgres://solo:pa55word@db:5432/app")
                .contains("db:5432/app")
        );
    }

    #[test]
    fn registered_secrets_anywhere() {
        let r = Redactor::new();
        r.register_secret("sk_live_abcdef");
        r.register_secret("abc");
        assert_eq!(
            r.text("calling with sk_live_abcdef now"),
            "calling with [REDACTED] now"
        );
        assert_eq!(r.text("abc"), "abc");
    }
}
