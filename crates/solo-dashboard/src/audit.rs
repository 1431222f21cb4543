//! The audit log, with filters.

use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use solo_access::Caller;
use solo_audit::{AuditFilter, canonical_json};

use crate::Dashboard;
use crate::layout::{self, Nav, Notice, when};

const PAGE_SIZE: u32 = 50;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub(crate) struct Filters {
    actor: Option<String>,
    action: Option<String>,
    /// A date (`2026-11-23`) or an RFC 3339 time.
    since: Option<String>,
    before: Option<i64>,
}

fn since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{text}` is not a date like 2026-11-23"))
}

fn blank(value: Option<&String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The audit log.
#[utoipa::path(get, path = "/audit", tag = "dashboard", params(Filters),
    responses((status = 200, description = "Audit log page", content_type = "text/html", body = String)))]
pub(crate) async fn page(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    Query(filters): Query<Filters>,
) -> Markup {
    let mut notice = None;
    let since_at = match blank(filters.since.as_ref()).map(|s| since(&s)) {
        Some(Ok(at)) => Some(at),
        Some(Err(why)) => {
            notice = Some(Notice::Error(format!("Since: {why}.")));
            None
        }
        None => None,
    };
    let filter = AuditFilter {
        actor: blank(filters.actor.as_ref()),
        action: blank(filters.action.as_ref()),
        since: since_at,
        before_seq: filters.before,
        limit: Some(PAGE_SIZE),
        ..AuditFilter::default()
    };
    let entries = solo_audit::list(&dashboard.db, &filter).await;
    let older = entries
        .as_ref()
        .ok()
        .filter(|e| e.len() == PAGE_SIZE as usize)
        .and_then(|e| e.last())
        .map(|last| last.seq);
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = html! {
        form.card.filters method="get" action="/audit" {
            label { "Actor" input name="actor" value=(value(&filters.actor)) placeholder="ann"; }
            label { "Action" input name="action" value=(value(&filters.action)) placeholder="user.*"; }
            label { "Since" input name="since" value=(value(&filters.since)) placeholder="2026-11-23"; }
            button.quiet type="submit" { "Filter" }
        }
        section.card {
            div.table-wrap { table data-audit {
                thead { tr { th { "#" } th { "When" } th { "Who" } th { "Action" } th { "Target" } th { "From" } th { "Details" } } }
                tbody {
                    @match &entries {
                        Ok(entries) => {
                            @for entry in entries {
                                tr {
                                    td.mono { (entry.seq) }
                                    td { (when(entry.at())) }
                                    td { (entry.actor.name()) }
                                    td.mono { (entry.action) }
                                    td { (entry.target.as_deref().unwrap_or("")) }
                                    td.mono { (entry.client.as_deref().unwrap_or("")) }
                                    td.mono { (canonical_json(&entry.details)) }
                                }
                            }
                            @if entries.is_empty() {
                                tr { td colspan="7" { span.muted { "No entries match." } } }
                            }
                        }
                        Err(error) => tr { td colspan="7" { "The audit log could not be read: " (error.to_string()) } },
                    }
                }
            } }
            @if let Some(seq) = older {
                p { a href=(older_link(seq, &filters)) { "Older entries →" } }
            }
        }
    };
    layout::page("Audit log", &caller, Nav::Audit, notice, body)
}

/// The next page's address, with the filters kept (URL-encoded).
fn older_link(seq: i64, filters: &Filters) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("before", &seq.to_string());
    for (key, value) in [
        ("actor", &filters.actor),
        ("action", &filters.action),
        ("since", &filters.since),
    ] {
        if let Some(value) = value {
            query.append_pair(key, value);
        }
    }
    format!("/audit?{}", query.finish())
}
