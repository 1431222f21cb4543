//! Login throttling, kept in the database so every node sees the same
//! count: per account and per client address, with lockouts that double
//! with each failure past the allowance.
//!
//! Unknown names are throttled like real ones: a lockout must not tell an
//! attacker which accounts exist.

use solo_store::Tx;

use crate::store::{self, ThrottleRow};
use crate::{Access, AccessError};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Failures allowed before the first lockout.
    pub allowance: i64,
    /// The first lockout; each further failure doubles it.
    pub first_lockout_ms: i64,
    pub max_lockout_ms: i64,
    /// A count untouched this long starts over.
    pub forget_after_ms: i64,
}

pub(crate) const ACCOUNT: Policy = Policy {
    allowance: 5,
    first_lockout_ms: 60_000,
    max_lockout_ms: 3_600_000,
    forget_after_ms: 24 * 3_600_000,
};

/// Looser: an office or a VPN shares one address.
pub(crate) const CLIENT: Policy = Policy {
    allowance: 20,
    first_lockout_ms: 60_000,
    max_lockout_ms: 3_600_000,
    forget_after_ms: 24 * 3_600_000,
};

pub(crate) fn account_key(name: &str) -> String {
    format!("user:{}", name.trim().to_lowercase())
}

/// IPv4 addresses count one by one; IPv6 ones by their /64, since one host
/// (one customer of a hosting company) typically owns a whole /64.
pub(crate) fn client_key(client: &str) -> String {
    match client.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("client:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => format!(
            "client:{}",
            v6.to_ipv4_mapped()
                .map_or_else(String::new, |v4| v4.to_string())
        ),
        _ => format!("client:{client}"),
    }
}

impl Policy {
    fn lockout_after(&self, failures: i64) -> i64 {
        if failures < self.allowance {
            return 0;
        }
        let doublings = u32::try_from(failures - self.allowance)
            .unwrap_or(u32::MAX)
            .min(20);
        self.first_lockout_ms
            .saturating_mul(1i64 << doublings)
            .min(self.max_lockout_ms)
    }
}

impl Access {
    /// Milliseconds until `key` may try again; 0 when it may now.
    pub(crate) async fn locked_for(&self, key: &str) -> Result<i64, AccessError> {
        let now = self.now_ms();
        Ok(store::throttle(self.db(), key)
            .await?
            .map_or(0, |row| (row.locked_until - now).max(0)))
    }

    pub(crate) async fn record_failure(
        &self,
        tx: &mut Tx,
        key: &str,
        policy: Policy,
    ) -> Result<(), AccessError> {
        let now = self.now_ms();
        let previous = store::throttle_in(tx, key)
            .await?
            .filter(|row| now - row.updated_at < policy.forget_after_ms)
            .unwrap_or_default();
        let failures = previous.failures + 1;
        let lockout = policy.lockout_after(failures);
        store::put_throttle(
            tx,
            key,
            ThrottleRow {
                failures,
                locked_until: if lockout > 0 { now + lockout } else { 0 },
                updated_at: now,
            },
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn clear_failures(&self, tx: &mut Tx, key: &str) -> Result<(), AccessError> {
        store::clear_throttle(tx, key).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_by_their_64() {
        assert_eq!(
            client_key("2001:db8:1:2:aaaa::1"),
            client_key("2001:db8:1:2:ffff:1234::9")
        );
        assert_ne!(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:3::1"));
        assert_eq!(client_key("::ffff:10.0.0.1"), client_key("10.0.0.1"));
        assert_ne!(client_key("10.0.0.1"), client_key("10.0.0.2"));
    }

    #[test]
    fn lockouts_start_after_the_allowance_and_double() {
        assert_eq!(ACCOUNT.lockout_after(4), 0);
        assert_eq!(ACCOUNT.lockout_after(5), 60_000);
        assert_eq!(ACCOUNT.lockout_after(6), 120_000);
        assert_eq!(ACCOUNT.lockout_after(7), 240_000);
        assert_eq!(ACCOUNT.lockout_after(60), 3_600_000, "capped");
    }
}
