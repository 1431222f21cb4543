//! Who may call what: every route of the node, with the least it needs.
//!
//! This table is the one place to audit access. A route missing here is
//! refused to everyone (the guard fails closed), and the access matrix test
//! (`tests/access.rs`) walks every route of the running node against it:
//! without credentials each answers 401 (unless listed `Public`), and with
//! a role below its rule, 403.
//!
//! Roles: viewer reads; operator also operates (deploys, jobs, backups);
//! admin also manages users, tokens, secrets and the stack.

use solo_access::Role::{Admin, Operator, Viewer};
use solo_access::rules::{RouteRule, Rule, rule};

use Rule::{AtLeast, Public, SignedIn};

/// Every route, with its rule. `/metrics` is added by [`table`] according
/// to `http.public_metrics`.
const ROUTES: &[RouteRule] = &[
    // System.
    rule("GET", "/healthz", Public),
    rule("GET", "/readyz", Public),
    rule("GET", "/api/v1/status", AtLeast(Viewer)),
    rule("GET", "/api/v1/openapi.json", AtLeast(Viewer)),
    rule("GET", "/api/v1/nodes", AtLeast(Viewer)),
    // Validates a file sent to it; changes nothing.
    rule("POST", "/api/v1/config/check", AtLeast(Viewer)),
    // Signing in and out.
    rule("POST", "/api/v1/auth/login", Public),
    rule("POST", "/api/v1/auth/mfa", Public),
    rule("POST", "/api/v1/auth/logout", SignedIn),
    rule("POST", "/api/v1/auth/logout-everywhere", SignedIn),
    // The caller's own account.
    rule("GET", "/api/v1/me", SignedIn),
    rule("PUT", "/api/v1/me/password", SignedIn),
    rule("GET", "/api/v1/me/sessions", SignedIn),
    rule("DELETE", "/api/v1/me/sessions/{id}", SignedIn),
    rule("POST", "/api/v1/me/mfa", SignedIn),
    rule("POST", "/api/v1/me/mfa/confirm", SignedIn),
    rule("POST", "/api/v1/me/mfa/disable", SignedIn),
    // Users and tokens.
    rule("GET", "/api/v1/users", AtLeast(Admin)),
    rule("POST", "/api/v1/users", AtLeast(Admin)),
    rule("PATCH", "/api/v1/users/{id}", AtLeast(Admin)),
    rule("PUT", "/api/v1/users/{id}/password", AtLeast(Admin)),
    rule("GET", "/api/v1/tokens", AtLeast(Admin)),
    rule("POST", "/api/v1/tokens", AtLeast(Admin)),
    rule("DELETE", "/api/v1/tokens/{id}", AtLeast(Admin)),
    // The audit log.
    rule("GET", "/api/v1/audit", AtLeast(Viewer)),
    // Jobs: viewers read; operators enqueue, act on jobs, publish events
    // and run pull workers.
    rule("GET", "/api/v1/jobs", AtLeast(Viewer)),
    rule("POST", "/api/v1/jobs", AtLeast(Operator)),
    rule("GET", "/api/v1/jobs/{id}", AtLeast(Viewer)),
    rule("POST", "/api/v1/jobs/{id}/retry", AtLeast(Operator)),
    rule("POST", "/api/v1/jobs/{id}/cancel", AtLeast(Operator)),
    rule("POST", "/api/v1/jobs/purge", AtLeast(Operator)),
    // Deploys: viewers read; operators deploy and roll back.
    rule("POST", "/api/v1/deploys", AtLeast(Operator)),
    rule("GET", "/api/v1/deploys/{id}", AtLeast(Viewer)),
    rule("GET", "/api/v1/releases", AtLeast(Viewer)),
    rule("POST", "/api/v1/releases/rollback", AtLeast(Operator)),
    rule("GET", "/api/v1/releases/stats", AtLeast(Viewer)),
    rule("GET", "/api/v1/queues", AtLeast(Viewer)),
    rule("GET", "/api/v1/cron", AtLeast(Viewer)),
    rule("POST", "/api/v1/events", AtLeast(Operator)),
    rule("POST", "/api/v1/queues/{queue}/claim", AtLeast(Operator)),
    rule(
        "POST",
        "/api/v1/queues/{queue}/heartbeat",
        AtLeast(Operator),
    ),
    rule("POST", "/api/v1/queues/{queue}/complete", AtLeast(Operator)),
    rule("POST", "/api/v1/queues/{queue}/fail", AtLeast(Operator)),
    // Dashboard: signing in.
    rule("GET", "/assets/solo.css", Public),
    rule("GET", "/login", Public),
    rule("POST", "/login", Public),
    rule("GET", "/login/mfa", Public),
    rule("POST", "/login/mfa", Public),
    rule("POST", "/logout", SignedIn),
    // Dashboard: pages.
    rule("GET", "/", AtLeast(Viewer)),
    rule("GET", "/audit", AtLeast(Viewer)),
    rule("GET", "/releases", AtLeast(Viewer)),
    rule("POST", "/releases/rollback", AtLeast(Operator)),
    rule("GET", "/jobs", AtLeast(Viewer)),
    rule("GET", "/jobs/{id}", AtLeast(Viewer)),
    rule("POST", "/jobs/{id}/retry", AtLeast(Operator)),
    rule("POST", "/jobs/{id}/cancel", AtLeast(Operator)),
    rule("GET", "/users", AtLeast(Admin)),
    rule("POST", "/users", AtLeast(Admin)),
    rule("POST", "/users/{id}", AtLeast(Admin)),
    rule("GET", "/tokens", AtLeast(Admin)),
    rule("POST", "/tokens", AtLeast(Admin)),
    rule("POST", "/tokens/{id}/revoke", AtLeast(Admin)),
    rule("GET", "/account", SignedIn),
    rule("POST", "/account/password", SignedIn),
    rule("POST", "/account/mfa", SignedIn),
    rule("POST", "/account/mfa/confirm", SignedIn),
    rule("POST", "/account/mfa/disable", SignedIn),
    rule("POST", "/account/sessions/{id}/revoke", SignedIn),
    rule("POST", "/account/logout-everywhere", SignedIn),
];

/// The whole table for this node.
pub fn table(public_metrics: bool) -> Vec<RouteRule> {
    let metrics = if public_metrics {
        Public
    } else {
        AtLeast(Viewer)
    };
    let mut table = ROUTES.to_vec();
    table.push(rule("GET", "/metrics", metrics));
    table
}
