//! Passwords: the policy a new one must pass, and argon2id hashing.
//!
//! Policy (NIST 800-63B style): at least 12 characters, at most 256; not a
//! common password, nor a common password with a short suffix
//! (`password1234!`), nor one character or a short run repeated, nor the
//! user's own name. No composition rules: length is what counts.
//!
//! Hashing: argon2id, m = 19 MiB, t = 3, p = 1: above OWASP's recommended
//! minimum (m = 19 MiB, t = 2, p = 1). Parameters live in each PHC string,
//! so raising them later keeps old hashes verifiable.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::AccessError;

pub const MIN_LENGTH: usize = 12;
/// Longer inputs are refused before hashing: argon2 over megabytes is a
/// denial of service, and no one types 256 characters.
pub const MAX_LENGTH: usize = 256;

const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 3;
const P_COST: u32 = 1;

const COMMON: &str = include_str!("../data/common-passwords.txt");

/// Why a new password was refused. The message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    #[error(
        "the password is too short: use at least {MIN_LENGTH} characters (a few words work well)"
    )]
    TooShort,
    #[error("the password is too long: use at most {MAX_LENGTH} characters")]
    TooLong,
    #[error(
        "the password is on a list of commonly used passwords: choose another (a few unrelated words work well)"
    )]
    Common,
    #[error("the password is a short pattern repeated: choose something less predictable")]
    Repetitive,
    #[error("the password contains the user name: choose something else")]
    ContainsName,
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON.lines().filter(|l| !l.is_empty()).collect())
}

/// Checks a new password against the policy.
pub fn check_policy(password: &str, user_name: &str) -> Result<(), PasswordRejected> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordRejected::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordRejected::TooLong);
    }
    let lower = password.to_lowercase();
    let common = common_passwords();
    if common.contains(lower.as_str()) {
        return Err(PasswordRejected::Common);
    }
    // A common stem with up to 6 characters of digits or symbols after it.
    let stem = lower.trim_end_matches(|c: char| !c.is_alphabetic());
    if lower.len() - stem.len() <= 6 && stem.chars().count() >= 6 && common.contains(stem) {
        return Err(PasswordRejected::Common);
    }
    if is_repetitive(&lower) {
        return Err(PasswordRejected::Repetitive);
    }
    let name = user_name.trim().to_lowercase();
    if name.chars().count() >= 4 && lower.contains(&name) {
        return Err(PasswordRejected::ContainsName);
    }
    Ok(())
}

/// True when the text is a unit of up to 4 characters repeated
/// (`aaaaaaaaaaaa`, `abcabcabcabc`, `12341234…`).
fn is_repetitive(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    (1..=4).any(|unit| {
        chars.len().is_multiple_of(unit) && chars.chunks(unit).all(|chunk| chunk == &chars[..unit])
    })
}

fn argon2() -> Result<Argon2<'static>, AccessError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| AccessError::Hashing(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string (`$argon2id$v=19$m=19456,t=3,p=1$…`) of `password`.
/// CPU-heavy (tens of milliseconds): call it from a blocking task.
pub fn hash(password: &str) -> Result<String, AccessError> {
    let hash = argon2()?
        .hash_password(password.as_bytes())
        .map_err(|e| AccessError::Hashing(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string. A malformed hash
/// never matches. CPU-heavy like [`hash`].
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_LENGTH * 4 {
        return false;
    }
    match argon2() {
        Ok(argon2) => argon2.verify_password(password.as_bytes(), phc).is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification, for logins of unknown users: the
/// answer must not come back faster when the name does not exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(phc) = DUMMY.get_or_init(|| hash("solo-dummy-password-for-timing").ok()) {
        let _ = verify(password, phc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_short_common_repetitive_and_named_passwords() {
        let cases = [
            ("short-pass", PasswordRejected::TooShort),
            ("qwerty123456", PasswordRejected::Common),
            ("1q2w3e4r5t6y", PasswordRejected::Common),
            ("Password1234!", PasswordRejected::Common),
            ("aaaaaaaaaaaaaa", PasswordRejected::Repetitive),
            ("abcabcabcabc", PasswordRejected::Repetitive),
            ("margaret-is-the-best", PasswordRejected::ContainsName),
        ];
        for (password, why) in cases {
            assert_eq!(check_policy(password, "Margaret"), Err(why), "{password}");
        }
        assert_eq!(
            check_policy(&"x1".repeat(200), "ann"),
            Err(PasswordRejected::TooLong)
        );
        for good in ["correct horse battery staple", "tangerine-oboe-43-glacier"] {
            assert_eq!(check_policy(good, "ann"), Ok(()), "{good}");
        }
    }

    #[test]
    fn common_list_is_loaded() {
        assert!(common_passwords().len() > 40_000);
        assert!(common_passwords().contains("password"));
    }

    #[test]
    fn hashes_are_argon2id_with_the_owasp_parameters_and_verify() {
        let phc = hash("tangerine-oboe-43-glacier").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=3,p=1$"), "{phc}");
        assert!(verify("tangerine-oboe-43-glacier", &phc));
        assert!(!verify("tangerine-oboe-43-glaciers", &phc));
        assert!(!verify("anything", "not a hash"));
        assert_ne!(phc, hash("tangerine-oboe-43-glacier").unwrap(), "salted");
    }
}
