//! The seam where access control plugs into the stack.
//!
//! solo-http knows nothing of users or roles; the binary hands
//! [`build_app_with`](crate::build_app_with) a guard (solo-access's) that
//! sees every matched request, after the request id, logging and error
//! rendering are in place and before the handler. It decides, from the
//! route template ([`axum::extract::MatchedPath`] is set), to let the
//! request through, possibly with facts for the handler in its extensions,
//! or to answer itself.

use std::future::Future;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

pub trait RequestGuard: Clone + Send + Sync + 'static {
    fn check(&self, request: Request, next: Next) -> impl Future<Output = Response> + Send;
}

/// Lets everything through: for tests of the stack itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl RequestGuard for AllowAll {
    async fn check(&self, request: Request, next: Next) -> Response {
        next.run(request).await
    }
}

pub(crate) async fn run_guard<G: RequestGuard>(
    State(guard): State<G>,
    request: Request,
    next: Next,
) -> Response {
    guard.check(request, next).await
}
