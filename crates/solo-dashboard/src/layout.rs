//! The page shell: head, navigation, the signed-in user, notices.

use maud::{DOCTYPE, Markup, html};
use solo_access::{Actor, Caller, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Overview,
    Jobs,
    Releases,
    Audit,
    Users,
    Tokens,
    Account,
}

/// A message at the top of a page.
pub(crate) enum Notice {
    Ok(String),
    Error(String),
}

pub(crate) fn caller_name(caller: &Caller) -> &str {
    match &caller.actor {
        Actor::User { name, .. } | Actor::Token { name, .. } | Actor::System { name } => name,
    }
}

pub(crate) fn csrf(caller: &Caller) -> &str {
    caller
        .session
        .as_ref()
        .map_or("", |session| session.csrf_token.as_str())
}

/// The whole document around a page's body.
fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · solo" }
                link rel="stylesheet" href="/assets/solo.css";
            }
            body { (body) }
        }
    }
}

/// A page for a signed-in caller.
pub(crate) fn page(
    title: &str,
    caller: &Caller,
    current: Nav,
    notice: Option<Notice>,
    body: Markup,
) -> Markup {
    let admin = caller.role >= Role::Admin;
    let item = |nav: Nav, href: &str, label: &str| {
        html! {
            a href=(href) aria-current=[(nav == current).then_some("page")] { (label) }
        }
    };
    let body = html! {
            header.top {
                div.bar {
                    a.brand href="/" { "solo" }
                    nav aria-label="Main" {
                        (item(Nav::Overview, "/", "Overview"))
                        (item(Nav::Jobs, "/jobs", "Jobs"))
                        (item(Nav::Releases, "/releases", "Releases"))
                        (item(Nav::Audit, "/audit", "Audit log"))
                        @if admin {
                            (item(Nav::Users, "/users", "Users"))
                            (item(Nav::Tokens, "/tokens", "Tokens"))
                        }
                        (item(Nav::Account, "/account", "Account"))
                    }
                    div.who {
                        span { (caller_name(caller)) " · " (caller.role) }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf_token" value=(csrf(caller));
                            button.quiet type="submit" { "Sign out" }
                        }
                    }
                }
            }
            main {
                @if caller.mfa_required_but_missing {
                    div.notice.error { "Admins must set up two-factor sign-in before anything else. "
                        a href="/account" { "Set it up on your account page." } }
                }
                (notice_markup(notice))
                h1 { (title) }
                (body)
            }
    };
    document(title, body)
}

/// A page for someone not signed in (sign-in, setup).
pub(crate) fn bare(title: &str, notice: Option<Notice>, body: Markup) -> Markup {
    document(
        title,
        html! {
            main.narrow {
                p.brand { strong { "solo" } }
                (notice_markup(notice))
                h1 { (title) }
                (body)
            }
        },
    )
}

fn notice_markup(notice: Option<Notice>) -> Markup {
    html! {
        @match notice {
            Some(Notice::Ok(text)) => div.notice.ok role="status" { (text) },
            Some(Notice::Error(text)) => div.notice.error role="alert" { (text) },
            None => {},
        }
    }
}

pub(crate) fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
