//! Static assets, compiled into the binary.

use axum::response::IntoResponse;
use http::header;

const STYLESHEET: &str = include_str!("../assets/solo.css");

/// The stylesheet.
#[utoipa::path(get, path = "/assets/solo.css", tag = "dashboard",
    responses((status = 200, description = "CSS", content_type = "text/css", body = String)))]
pub(crate) async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}
