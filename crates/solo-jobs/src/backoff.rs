//! Exponential backoff with jitter.

use std::time::Duration;

/// The default first wait: 15 s.
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(15);

/// The wait before attempt `attempt + 1` after `attempt` failed:
/// `base × 2^(attempt−1)`, plus up to 10 % jitter so failures that happened
/// together do not retry together, capped at one day. With the default
/// 15 s: 1 → ~15 s, 2 → ~30 s, 5 → ~4 min, 10 → ~2.1 h, 14+ → 1 day.
pub fn backoff(attempt: i64, base: Duration) -> Duration {
    const CAP_MS: u64 = 86_400_000;
    let attempt = u32::try_from(attempt.max(1)).unwrap_or(1).min(40);
    let base_ms = u64::try_from(base.as_millis()).unwrap_or(CAP_MS);
    let wait_ms = base_ms.saturating_mul(1 << (attempt - 1)).min(CAP_MS);
    let jitter = rand::random_range(0..=wait_ms / 10);
    Duration::from_millis(wait_ms + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps_with_bounded_jitter() {
        for (attempt, base) in [(1, 15), (2, 30), (3, 60), (10, 7680), (50, 86_400)] {
            let wait = backoff(attempt, DEFAULT_RETRY_BASE).as_secs();
            assert!(
                wait >= base && wait <= base + base / 10 + 1,
                "{attempt}: {wait}"
            );
        }
        assert_eq!(backoff(3, Duration::ZERO), Duration::ZERO);
        assert!(backoff(2, Duration::from_millis(100)) < Duration::from_millis(221));
    }
}
