use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::get;
use http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ErrorBody;
use crate::guard::{AllowAll, RequestGuard, run_guard};
use crate::metrics::HttpMetrics;
use crate::middleware::errors::{ErrorContext, render_errors};
use crate::middleware::limits::{Limits, limits};
use crate::middleware::observe::observe;
use crate::middleware::security::security_headers;
use crate::settings::HttpSettings;
use crate::system::{self, SystemState};

/// The API routes a capability crate contributes, state already applied.
/// Paths are relative to `/api/v1`.
pub type ApiRoutes = OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "solo",
        description = "The HTTP API of solo, the one-person operating system. \
                       Errors always have the shape {\"error\": {\"code\", \"message\", \"request_id\"}}."
    ),
    components(schemas(ErrorBody))
)]
struct BaseDoc;

/// The routes the capability crates contribute.
#[derive(Default)]
pub struct AppRoutes {
    /// Served under `/api/v1`.
    pub api: ApiRoutes,
    /// Served at the root: the dashboard's pages and assets.
    pub pages: ApiRoutes,
}

/// Builds the whole application: `api` nested under `/api/v1`, the system
/// routes, the OpenAPI document, and the shared middleware; no guard.
pub fn build_app(
    api: ApiRoutes,
    system: SystemState,
    settings: &HttpSettings,
    metrics: HttpMetrics,
) -> Router {
    build_app_with(
        AppRoutes {
            api,
            pages: OpenApiRouter::new(),
        },
        AllowAll,
        system,
        settings,
        metrics,
    )
}

/// [`build_app`] with pages, and a guard that sees every matched request
/// (see [`RequestGuard`]).
pub fn build_app_with<G: RequestGuard>(
    routes: AppRoutes,
    guard: G,
    system: SystemState,
    settings: &HttpSettings,
    metrics: HttpMetrics,
) -> Router {
    let mut base = BaseDoc::openapi();
    base.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let (router, doc) = OpenApiRouter::with_openapi(base)
        .merge(system::root_routes(system.clone()))
        .merge(routes.pages)
        .nest("/api/v1", routes.api.merge(system::api_routes(system)))
        .split_for_parts();
    let doc_json: Arc<str> = serde_json::to_string(&doc).unwrap_or_default().into();

    let errors = Arc::new(ErrorContext {
        body_limit: settings.body_limit,
    });
    router
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc_json.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        doc.to_string(),
                    )
                        .into_response()
                }
            }),
        )
        // Innermost, on matched routes only: the guard sees the route
        // template, and its refusals still get a request id and the one
        // error shape from the layers outside.
        .route_layer(from_fn_with_state(guard, run_guard::<G>))
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(from_fn_with_state(
            Arc::new(Limits {
                body_limit: settings.body_limit,
                request_timeout: settings.request_timeout,
                upload_paths: settings.upload_paths.clone(),
            }),
            limits,
        ))
        .layer(tower::util::option_layer(cors(&settings.cors_origins)))
        .layer(from_fn_with_state(errors, render_errors))
        .layer(from_fn_with_state(Arc::new(metrics), observe))
        .layer(from_fn(security_headers))
}

/// Strict CORS: only the configured origins, exactly; none configured means
/// no CORS headers at all, so browsers refuse every cross-origin call.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([HeaderName::from_static("x-request-id")])
            .max_age(std::time::Duration::from_secs(600)),
    )
}
