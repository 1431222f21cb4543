//! Exponential backoff with jitter.

use std::time::Duration;

/// The wait before attempt `attempt + 1` after `attempt` failed:
/// `attempt⁴ + 15 s`, plus up to 10 % jitter so failures that happened
/// together do not retry together. Capped at one day.
/// 1 → ~16 s, 2 → ~31 s, 3 → ~96 s, 5 → ~10 min, 10 → ~2.8 h, 13+ → 1 day.
pub fn backoff(attempt: i64) -> Duration {
    let attempt = u64::try_from(attempt.max(1)).unwrap_or(1).min(1000);
    let base = attempt.saturating_pow(4).saturating_add(15).min(86_400);
    let jitter = rand::random_range(0..=base / 10);
    Duration::from_secs(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_with_bounded_jitter() {
        for (attempt, base) in [(1, 16), (2, 31), (3, 96), (10, 10_015), (50, 86_400)] {
            let wait = backoff(attempt).as_secs();
            assert!(
                wait >= base && wait <= base + base / 10,
                "{attempt}: {wait}"
            );
        }
    }
}
