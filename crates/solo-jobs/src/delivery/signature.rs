//! `Solo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`:
//! the timestamp is signed with the body, so an app can refuse replays of
//! an old request as well as forgeries.

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use super::SigningSecret;

type HmacSha256 = hmac::Hmac<Sha256>;

fn mac(secret: &SigningSecret, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut mac = HmacSha256::new_from_slice(secret.bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Solo-Signature` header value for `body` sent at `timestamp`.
pub fn sign(secret: &SigningSecret, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// What an app does with the header: true when it was made with `secret`
/// for exactly `body`, at most `tolerance_s` seconds from `now`.
pub fn verify_signature(
    secret: &SigningSecret,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_s: i64,
) -> bool {
    let mut timestamp = None;
    let mut tag = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => tag = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(tag)) = (timestamp, tag) else {
        return false;
    };
    if (now - timestamp).abs() > tolerance_s {
        return false;
    }
    // Constant-time comparison.
    mac(secret, timestamp, body).verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_secret_body_and_time() {
        let secret = SigningSecret::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let header = sign(&secret, 1_000, b"{\"id\":1}");
        assert!(verify_signature(
            &secret,
            &header,
            b"{\"id\":1}",
            1_010,
            300
        ));
        assert!(
            !verify_signature(&secret, &header, b"{\"id\":2}", 1_010, 300),
            "tampered body"
        );
        let other = SigningSecret::new(b"another secret of enough length!".to_vec());
        assert!(
            !verify_signature(&other, &header, b"{\"id\":1}", 1_010, 300),
            "wrong secret"
        );
        assert!(
            !verify_signature(&secret, &header, b"{\"id\":1}", 2_000, 300),
            "too old: a replay"
        );
        assert!(!verify_signature(&secret, "v1=00", b"", 0, 300));
        assert!(!format!("{secret:?}").contains("0123"));
    }
}
