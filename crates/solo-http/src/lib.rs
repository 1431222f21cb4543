//! The HTTP stack every solo API and page shares.
//!
//! Capability crates hand in their routes as an [`ApiRoutes`] (an
//! `OpenApiRouter` whose handlers carry `#[utoipa::path]`); [`build_app`]
//! nests them under `/api/v1`, adds the system routes (`/healthz`, `/readyz`,
//! `/metrics`, `/api/v1/status`, `/api/v1/openapi.json`) and wraps everything
//! in the same middleware, outermost first:
//!
//! 1. security headers (CSP, nosniff, Referrer-Policy, frame-ancestors; HSTS
//!    over TLS),
//! 2. observation: request id kept or made, a `request` span carrying it,
//!    metrics, one access log line,
//! 3. errors: a panic becomes a 500, and every error response is rendered in
//!    the one JSON error shape,
//! 4. strict CORS (configured origins only), request timeout, body limit.
//!
//! [`serve`] runs the accept loop (plain or TLS, HTTP/1.1 and HTTP/2) and
//! shuts down gracefully.

mod app;
mod conn;
mod error;
mod guard;
mod metrics;
mod middleware;
mod request_id;
mod serve;
mod settings;
mod system;
mod tls;

pub use app::{ApiRoutes, AppRoutes, build_app, build_app_with};
pub use conn::ConnectionInfo;
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use guard::{AllowAll, RequestGuard};
pub use metrics::HttpMetrics;
pub use request_id::RequestId;
pub use serve::serve;
pub use settings::{HttpSettings, TlsFiles};
pub use system::{NodeIdentity, NodeStatus, SystemState};
pub use tls::{TlsError, load_tls};
