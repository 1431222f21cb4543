//! The dashboard: server-rendered pages, no JavaScript build step, assets
//! embedded in the binary.
//!
//! Every page is an axum handler documented with `#[utoipa::path]` (tag
//! `dashboard`), so the access-rules test sees pages like API routes. Forms
//! post back to pages; every form carries the session's CSRF token (the
//! guard checks it). Views are `maud` templates: HTML is escaped by
//! construction.

mod account;
mod assets;
mod audit;
mod jobs;
mod layout;
mod login;
mod overview;
mod qr;
mod releases;
mod tokens;
mod users;

use std::time::Duration;

use solo_access::Access;
use solo_cluster::Cluster;
use solo_http::{ApiRoutes, SystemState};
use solo_store::Db;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What the pages read and change.
#[derive(Clone)]
pub struct Dashboard {
    pub access: Access,
    /// For the audit log (read through solo-audit's API).
    pub db: Db,
    pub system: SystemState,
    pub cluster: Cluster,
    /// How long without a heartbeat before a node counts as silent.
    pub silence_limit: Duration,
    pub jobs: solo_jobs::Jobs,
    pub deploys: solo_deploy::Deploys,
}

/// The pages and assets, served at the root.
pub fn routes(dashboard: Dashboard) -> ApiRoutes {
    OpenApiRouter::new()
        .routes(routes!(assets::stylesheet))
        .routes(routes!(login::form, login::submit))
        .routes(routes!(login::mfa_form, login::mfa_submit))
        .routes(routes!(login::logout))
        .routes(routes!(overview::page))
        .routes(routes!(audit::page))
        .routes(routes!(jobs::page))
        .routes(routes!(jobs::show))
        .routes(routes!(jobs::retry))
        .routes(routes!(jobs::cancel))
        .routes(routes!(releases::page))
        .routes(routes!(releases::rollback))
        .routes(routes!(users::page, users::create))
        .routes(routes!(users::update))
        .routes(routes!(tokens::page, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(account::page))
        .routes(routes!(account::change_password))
        .routes(routes!(account::start_mfa))
        .routes(routes!(account::confirm_mfa))
        .routes(routes!(account::disable_mfa))
        .routes(routes!(account::revoke_session))
        .routes(routes!(account::logout_everywhere))
        .with_state(dashboard)
}
