//! Walking the chain.

use serde::{Deserialize, Serialize};
use solo_store::Db;
use utoipa::ToSchema;

use crate::canonical::{GENESIS, entry_hash};
use crate::{AuditError, store};

/// Entries read per query: the chain is walked, never loaded whole.
const PAGE: i64 = 1000;

/// The first entry that does not hold, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BadEntry {
    pub seq: i64,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerifyReport {
    /// Entries checked (up to the first bad one).
    pub entries: u64,
    /// The last good entry's hash: publish it somewhere, and later
    /// tampering before it shows even if the whole tail is rewritten.
    pub head_hash: Option<String>,
    pub first_bad: Option<BadEntry>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Recomputes every hash and link, in order, and names the first entry
/// that does not hold.
pub async fn verify(db: &Db) -> Result<VerifyReport, AuditError> {
    let mut report = VerifyReport {
        entries: 0,
        head_hash: None,
        first_bad: None,
    };
    let mut last_seq = 0;
    let mut prev_hash = GENESIS.to_owned();
    loop {
        let page = store::page_after(db, last_seq, PAGE).await?;
        if page.is_empty() {
            return Ok(report);
        }
        for record in page {
            let bad = |seq: i64, problem: String| Some(BadEntry { seq, problem });
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    report.first_bad = bad(last_seq + 1, format!("unreadable: {error}"));
                    return Ok(report);
                }
            };
            let problem = if record.seq != last_seq + 1 {
                Some(if record.seq > last_seq + 1 {
                    format!(
                        "entry {} is missing (the chain jumps from {last_seq} to {})",
                        last_seq + 1,
                        record.seq
                    )
                } else {
                    format!("out of order after entry {last_seq}")
                })
            } else if record.prev_hash != prev_hash {
                Some(format!(
                    "its prev_hash does not match entry {last_seq}'s hash (an earlier entry was \
                     changed, or this one was moved)"
                ))
            } else if entry_hash(&record) != record.hash {
                Some("its hash does not match its contents (changed after it was written)".into())
            } else {
                None
            };
            if let Some(problem) = problem {
                let seq = if record.seq > last_seq + 1 {
                    last_seq + 1
                } else {
                    record.seq
                };
                report.first_bad = bad(seq, problem);
                return Ok(report);
            }
            report.entries += 1;
            last_seq = record.seq;
            prev_hash = record.hash;
            report.head_hash = Some(prev_hash.clone());
        }
    }
}
