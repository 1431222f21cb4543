use axum::extract::FromRequestParts;
use http::request::Parts;

/// The id of one request: kept from a well-formed `X-Request-Id`, otherwise
/// made here. Carried by every log line of the request and echoed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

pub(crate) const HEADER: &str = "x-request-id";

impl RequestId {
    /// A new, time-ordered id.
    pub fn generate() -> Self {
        RequestId(uuid::Uuid::now_v7().simple().to_string())
    }

    /// Accepts an incoming id only if it is short and plain: 1–128 of
    /// `A-Z a-z 0-9 - _ . :`. Anything else could forge or break log lines.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        ok.then(|| RequestId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The observe middleware always inserts one; a router used without it
        // still gets a usable id.
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_ids_and_refuses_others() {
        assert!(RequestId::parse("abc-123_x.y:z").is_some());
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse("has space").is_none());
        assert!(RequestId::parse("line\nbreak").is_none());
        assert!(RequestId::parse("\"quoted\"").is_none());
        assert!(RequestId::parse(&"a".repeat(129)).is_none());
        assert!(RequestId::parse(&"a".repeat(128)).is_some());
        assert_ne!(RequestId::generate(), RequestId::generate());
    }
}
