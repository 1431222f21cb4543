//! `solo audit verify|list`: straight from the database, so the log can be
//! checked with the node down (or suspected).

use chrono::{DateTime, Utc};
use solo_audit::{AuditFilter, AuditRecord, canonical_json};

use crate::cli::{AuditCommand, GlobalArgs};
use crate::commands::local;
use crate::exit::{CliError, Exit};
use crate::output;

pub async fn run(global: &GlobalArgs, command: AuditCommand) -> Result<(), CliError> {
    // Read-only: checking a database you suspect must not change it.
    let db = local::existing_db(global).await?;
    let result = match command {
        AuditCommand::Verify => {
            let report = solo_audit::verify(&db).await.map_err(|e| {
                CliError::failure(anyhow::Error::new(e).context("reading the audit log"))
            })?;
            output::emit(global.json, &report, || match &report.first_bad {
                None => format!(
                    "the audit chain is intact: {} entries, head {}",
                    report.entries,
                    report.head_hash.as_deref().unwrap_or("(empty)")
                ),
                Some(bad) => format!(
                    "entry {} is bad: {}\n({} entries before it are intact)",
                    bad.seq, bad.problem, report.entries
                ),
            });
            match report.first_bad {
                None => Ok(()),
                Some(bad) => Err(CliError::new(
                    Exit::Failure,
                    "audit_chain_broken",
                    anyhow::anyhow!(
                        "the audit chain is broken at entry {}: it was changed outside solo; \
                         restore the database from a backup taken before, and find out who had access",
                        bad.seq
                    ),
                )),
            }
        }
        AuditCommand::List {
            actor,
            action,
            since,
            limit,
        } => {
            let since = since.as_deref().map(parse_since).transpose()?;
            let filter = AuditFilter {
                actor,
                action,
                since,
                limit: Some(limit),
                ..AuditFilter::default()
            };
            let entries = solo_audit::list(&db, &filter).await.map_err(|e| {
                CliError::failure(anyhow::Error::new(e).context("reading the audit log"))
            })?;
            output::emit(global.json, &entries, || table(&entries));
            Ok(())
        }
    };
    db.close().await;
    result
}

/// An RFC 3339 time, a date, or a duration back from now (`24h`, `7d`).
fn parse_since(text: &str) -> Result<DateTime<Utc>, CliError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Some(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(day.and_utc());
    }
    if let Ok(ago) = text.parse::<solo_config::Duration>()
        && let Ok(ago) = chrono::Duration::from_std(ago.as_std())
    {
        return Ok(Utc::now() - ago);
    }
    Err(CliError::new(
        Exit::Usage,
        "invalid_since",
        anyhow::anyhow!(
            "--since `{text}`: give a time (2026-11-23T09:00:00Z), a date (2026-11-23) or how long ago (24h, 7d)"
        ),
    ))
}

fn table(entries: &[AuditRecord]) -> String {
    if entries.is_empty() {
        return "no entries match".into();
    }
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!(
            "{:>6}  {}  {:<16} {:<24} {:<16} {}\n",
            e.seq,
            e.at().format("%Y-%m-%d %H:%M:%S"),
            e.actor.name(),
            e.action,
            e.target.as_deref().unwrap_or("-"),
            canonical_json(&e.details)
        ));
    }
    out.trim_end().to_owned()
}
