//! TOTP (RFC 6238): HMAC-SHA1, 6 digits, 30-second steps, as every
//! authenticator app expects. One step of clock skew either way is
//! accepted, and a step once used is refused again (no replay).

use chrono::{DateTime, Utc};
use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::AccessError;
use crate::secret::{constant_time_eq, random_bytes};

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
/// Steps accepted either side of now (RFC 6238 §5.2 recommends one).
pub const SKEW_STEPS: i64 = 1;

/// A new 160-bit secret, base32 without padding (what apps accept).
pub fn new_secret() -> Result<String, AccessError> {
    Ok(BASE32_NOPAD.encode(&random_bytes::<20>()?))
}

/// The step number of a moment.
pub fn step_at(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(STEP_SECONDS)
}

/// The code for a step (HOTP, RFC 4226 §5.3, with the step as counter).
pub fn code_for_step(secret_base32: &str, step: i64) -> Result<String, AccessError> {
    let key = BASE32_NOPAD
        .decode(secret_base32.as_bytes())
        .map_err(|_| AccessError::Corrupt("a TOTP secret is not valid base32".into()))?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key)
        .map_err(|_| AccessError::Corrupt("a TOTP secret has an invalid length".into()))?;
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    Ok(format!(
        "{:0width$}",
        binary % 10u32.pow(DIGITS),
        width = DIGITS as usize
    ))
}

/// The code an authenticator shows at `at`.
pub fn code_at(secret_base32: &str, at: DateTime<Utc>) -> Result<String, AccessError> {
    code_for_step(secret_base32, step_at(at))
}

/// The step `code` belongs to, if it is valid at `at` within the skew and
/// newer than `last_used_step`.
pub fn matching_step(
    secret_base32: &str,
    code: &str,
    at: DateTime<Utc>,
    last_used_step: Option<i64>,
) -> Result<Option<i64>, AccessError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    let now = step_at(at);
    for step in (now - SKEW_STEPS)..=(now + SKEW_STEPS) {
        if last_used_step.is_some_and(|last| step <= last) {
            continue;
        }
        if constant_time_eq(&code_for_step(secret_base32, step)?, &code) {
            return Ok(Some(step));
        }
    }
    Ok(None)
}

/// The `otpauth://` URI an authenticator app scans.
pub fn provisioning_uri(secret_base32: &str, issuer: &str, account: &str) -> String {
    let label = format!("{issuer}:{account}");
    format!(
        "otpauth://totp/{}?secret={secret_base32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent_encode(&label),
        percent_encode(issuer),
    )
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// RFC 6238 appendix B, SHA-1 key "12345678901234567890", last 6 digits.
    #[test]
    fn rfc_6238_vectors() {
        let secret = BASE32_NOPAD.encode(b"12345678901234567890");
        for (unix, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            let at = Utc.timestamp_opt(unix, 0).unwrap();
            assert_eq!(code_at(&secret, at).unwrap(), code, "at {unix}");
        }
    }

    #[test]
    fn skew_of_one_step_and_no_replay() {
        let secret = new_secret().unwrap();
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let step = step_at(now);
        let previous = code_for_step(&secret, step - 1).unwrap();
        let next = code_for_step(&secret, step + 1).unwrap();
        let too_old = code_for_step(&secret, step - 2).unwrap();
        assert_eq!(
            matching_step(&secret, &previous, now, None).unwrap(),
            Some(step - 1)
        );
        assert_eq!(
            matching_step(&secret, &next, now, None).unwrap(),
            Some(step + 1)
        );
        assert_eq!(matching_step(&secret, &too_old, now, None).unwrap(), None);
        assert_eq!(
            matching_step(&secret, &previous, now, Some(step - 1)).unwrap(),
            None,
            "a used step is not accepted twice"
        );
        assert_eq!(matching_step(&secret, "12345", now, None).unwrap(), None);
    }

    #[test]
    fn provisioning_uri_is_what_apps_scan() {
        let uri = provisioning_uri("JBSWY3DPEHPK3PXP", "solo", "ann smith");
        assert_eq!(
            uri,
            "otpauth://totp/solo%3Aann%20smith?secret=JBSWY3DPEHPK3PXP&issuer=solo&algorithm=SHA1&digits=6&period=30"
        );
    }
}
