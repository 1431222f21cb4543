//! `GET /api/v1/audit`.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use solo_http::{ApiError, ApiRoutes};
use solo_store::Db;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{AuditFilter, AuditRecord};

pub fn routes(db: Db) -> ApiRoutes {
    OpenApiRouter::new().routes(routes!(list)).with_state(db)
}

/// Filters, all optional.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// The actor's name, exactly.
    actor: Option<String>,
    /// An action, or a prefix ending in `.` or `*` (`user.*`).
    action: Option<String>,
    /// RFC 3339 time: entries at or after it.
    since: Option<String>,
    /// RFC 3339 time: entries before it.
    until: Option<String>,
    /// Only entries with a smaller seq (the next page).
    before: Option<i64>,
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
}

fn time(field: &'static str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::invalid_field(
                        field,
                        format!("`{v}` is not an RFC 3339 time, like 2026-11-23T09:00:00Z"),
                    )
                })
        })
        .transpose()
}

/// Audit entries, newest first.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses(
        (status = 200, description = "Entries", body = [AuditRecord]),
        (status = 400, description = "A bad filter", body = solo_http::ErrorBody),
    ))]
async fn list(
    State(db): State<Db>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    if query.limit == Some(0) {
        return Err(ApiError::invalid_field("limit", "must be at least 1"));
    }
    let filter = AuditFilter {
        actor: query.actor.filter(|a| !a.is_empty()),
        action: query.action.filter(|a| !a.is_empty()),
        since: time("since", query.since.as_deref())?,
        until: time("until", query.until.as_deref())?,
        before_seq: query.before,
        limit: query.limit,
    };
    crate::list(&db, &filter).await.map(Json).map_err(|error| {
        tracing::error!(%error, "reading the audit log failed");
        ApiError::internal("could not read the audit log")
    })
}
