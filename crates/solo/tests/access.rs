//! Access control of the whole node, over real HTTP against the real
//! binary: every route has a rule, every rule holds (401 without
//! credentials, 403 below the rule), and cookie sessions are safe in a
//! browser (flags, CSRF).
#![allow(clippy::unwrap_used)]

#[path = "../src/access_rules.rs"]
#[allow(dead_code)]
mod access_rules;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::{Method, StatusCode};
use solo_access::Role;
use solo_access::rules::Rule;
use solo_test_support::node::{NodeBuilder, SoloNode};

const SOLO: &str = env!("CARGO_BIN_EXE_solo");
const PASSWORD: &str = "tangerine-oboe-43-glacier";
/// The only routes anyone may call without credentials.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/mfa"),
    ("GET", "/assets/solo.css"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/login/mfa"),
    ("POST", "/login/mfa"),
];

/// Runs a CLI command against the node's stack, with `stdin`.
fn cli(node: &SoloNode, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(SOLO)
        .arg("--config")
        .arg(node.dir().join("solo.toml"))
        .args(args)
        .env_remove("SOLO_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "solo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn token(node: &SoloNode, role: Role) -> String {
    let out = cli(
        node,
        &[
            "tokens",
            "create",
            "--name",
            role.as_str(),
            "--role",
            role.as_str(),
            "--json",
        ],
        "",
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    created["token"].as_str().unwrap().to_owned()
}

fn concrete(path: &str) -> String {
    // Route parameters get a value that names nothing.
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("no-such-id");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

async fn call(node: &SoloNode, method: &str, path: &str, token: Option<&str>) -> StatusCode {
    let mut request = reqwest::Client::new()
        .request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            node.url(&concrete(path)),
        )
        .header("content-type", "application/json")
        .body("{}");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_has_a_rule_and_every_rule_holds() {
    let node = NodeBuilder::new(SOLO).spawn();
    let tokens = [
        (Role::Viewer, token(&node, Role::Viewer)),
        (Role::Operator, token(&node, Role::Operator)),
        (Role::Admin, token(&node, Role::Admin)),
    ];
    let token_for = |role: Role| {
        tokens
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, t)| t.as_str())
    };

    // The router, as the node describes it.
    let doc: serde_json::Value = reqwest::Client::new()
        .get(node.url("/api/v1/openapi.json"))
        .bearer_auth(token_for(Role::Viewer).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes.insert(("GET".into(), "/api/v1/openapi.json".into()));
    assert!(routes.len() > 20, "{routes:?}");

    let table = access_rules::table(true);
    let ruled: BTreeSet<(String, String)> = table
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let unruled: Vec<_> = routes.difference(&ruled).collect();
    assert!(
        unruled.is_empty(),
        "routes without an access rule: {unruled:?}"
    );
    let stale: Vec<_> = ruled.difference(&routes).collect();
    assert!(
        stale.is_empty(),
        "rules for routes that do not exist: {stale:?}"
    );

    let mut checked = 0;
    for line in &table {
        let public = PUBLIC.contains(&(line.method, line.path));
        assert_eq!(
            public,
            line.rule == Rule::Public,
            "{} {} is public in the table but not in the test's list, or the reverse",
            line.method,
            line.path
        );
        let anonymous = call(&node, line.method, line.path, None).await;
        if public {
            assert!(
                anonymous != StatusCode::UNAUTHORIZED && anonymous != StatusCode::FORBIDDEN,
                "{} {} is public but answered {anonymous}",
                line.method,
                line.path
            );
            continue;
        }
        assert_eq!(
            anonymous,
            StatusCode::UNAUTHORIZED,
            "{} {} without credentials",
            line.method,
            line.path
        );
        let least = match line.rule {
            Rule::AtLeast(role) => role,
            _ => Role::Viewer,
        };
        if let Some(below) = least.below() {
            let status = call(&node, line.method, line.path, token_for(below)).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{} {} as {below}",
                line.method,
                line.path
            );
        }
        let status = call(&node, line.method, line.path, token_for(least)).await;
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{} {} as {least} answered {status}",
            line.method,
            line.path
        );
        checked += 1;
    }
    assert!(checked > 15);

    // A method a route does not serve is a plain 405, for anyone.
    for (method, path) in [("DELETE", "/healthz"), ("PUT", "/api/v1/status")] {
        let status = call(&node, method, path, token_for(Role::Admin)).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }

    // A revoked or made-up token is refused outright.
    let bad = call(&node, "GET", "/api/v1/status", Some("solo_made-up")).await;
    assert_eq!(bad, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_need_a_viewer_unless_configured_public() {
    let node = NodeBuilder::new(SOLO)
        .config("version = 1\n[http]\npublic_metrics = false\n")
        .spawn();
    let anonymous = reqwest::get(node.url("/metrics")).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let viewer = token(&node, Role::Viewer);
    let allowed = reqwest::Client::new()
        .get(node.url("/metrics"))
        .bearer_auth(viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn cookie_sessions_are_strict_and_refuse_cross_site_changes() {
    let node = NodeBuilder::new(SOLO).spawn();
    cli(
        &node,
        &["users", "add", "ann", "--role", "operator"],
        &format!("{PASSWORD}\n"),
    );
    let client = reqwest::Client::new();

    let login = client
        .post(node.url("/api/v1/auth/login"))
        .json(&serde_json::json!({ "name": "ann", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "plain HTTP on loopback: {set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let value = cookie.split_once('=').unwrap().1;
    assert_eq!(value.len(), 43, "256 random bits, base64url");
    let body: serde_json::Value = login.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();

    let me = client
        .get(node.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<serde_json::Value>().await.unwrap()["name"], "ann");

    let origin = format!("http://{}", node.addr());
    let post = |headers: Vec<(&'static str, String)>, body: String, form: bool| {
        let mut request = client
            .post(node.url("/api/v1/auth/logout"))
            .header("cookie", &cookie)
            .header(
                "content-type",
                if form {
                    "application/x-www-form-urlencoded"
                } else {
                    "application/json"
                },
            )
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };

    // A cross-site form post carrying even the right token is refused.
    let cross_site = post(
        vec![("origin", "https://evil.example".into())],
        format!("csrf_token={csrf}"),
        true,
    )
    .await
    .unwrap();
    assert_eq!(cross_site.status(), 403);
    let body: serde_json::Value = cross_site.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf");
    let fetch_cross = post(
        vec![
            ("sec-fetch-site", "cross-site".into()),
            ("x-csrf-token", csrf.clone()),
        ],
        String::new(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(fetch_cross.status(), 403);
    // Same origin without the token, or with a wrong one: refused.
    let no_token = post(vec![("origin", origin.clone())], String::new(), false)
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);
    let wrong = post(
        vec![("origin", origin.clone())],
        "csrf_token=not-it".into(),
        true,
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 403);
    // No Origin at all on a cookie-authenticated change: refused.
    let no_origin = post(vec![("x-csrf-token", csrf.clone())], String::new(), false)
        .await
        .unwrap();
    assert_eq!(no_origin.status(), 403);

    // The dashboard's own forms are guarded the same way.
    let page_cross_site = client
        .post(node.url("/account/logout-everywhere"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page_cross_site.status(), 403);

    // Same origin with the form token: signed out, the session is gone.
    let ok = post(
        vec![("origin", origin.clone())],
        format!("csrf_token={csrf}&x=1"),
        true,
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 204);
    assert!(
        ok.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = client
        .get(node.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "revoked server-side");

    // Wrong passwords and unknown names look the same.
    let wrong = |name: &'static str| {
        client
            .post(node.url("/api/v1/auth/login"))
            .json(&serde_json::json!({ "name": name, "password": "not-the-password" }))
            .send()
    };
    let a = wrong("ann").await.unwrap();
    let b = wrong("nobody").await.unwrap();
    assert_eq!(a.status(), 401);
    assert_eq!(b.status(), 401);
    let (a, b): (serde_json::Value, serde_json::Value) =
        (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a["error"]["message"], b["error"]["message"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_section_of_solo_toml_reaches_the_node() {
    let node = NodeBuilder::new(SOLO)
        .config("version = 1\n[access]\nsession_lifetime = \"1h\"\nrequire_mfa_for_admins = true\n")
        .spawn();
    cli(
        &node,
        &["users", "add", "root", "--role", "admin"],
        &format!("{PASSWORD}\n"),
    );
    let client = reqwest::Client::new();
    let login = client
        .post(node.url("/api/v1/auth/login"))
        .json(&serde_json::json!({ "name": "root", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("Max-Age=3600"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    // An admin without TOTP may reach their account, nothing else.
    let users = client
        .get(node.url("/api/v1/users"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 403);
    let body: serde_json::Value = users.json().await.unwrap();
    assert_eq!(body["error"]["code"], "mfa_required");
    let me = client
        .get(node.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(
        me.json::<serde_json::Value>().await.unwrap()["mfa_required"],
        true
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn over_tls_the_session_cookie_is_secure() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let node = NodeBuilder::new(SOLO)
        .dir(dir.path())
        .config("version = 1\n[http]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n")
        .spawn();
    cli(
        &node,
        &["users", "add", "ann", "--role", "viewer"],
        &format!("{PASSWORD}\n"),
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let login = client
        .post(format!(
            "https://localhost:{}/api/v1/auth/login",
            node.addr().port()
        ))
        .json(&serde_json::json!({ "name": "ann", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap();
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
}

#[tokio::test(flavor = "multi_thread")]
async fn token_calls_skip_origin_checks_and_pages_are_never_cached() {
    let node = NodeBuilder::new(SOLO).spawn();
    let admin = token(&node, Role::Admin);
    let client = reqwest::Client::new();
    let from_a_page = client
        .post(node.url("/api/v1/users"))
        .bearer_auth(&admin)
        .header("origin", "https://app.example")
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({ "name": "bob", "role": "viewer", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(from_a_page.status(), 201, "a bearer token is its own proof");

    let login = client
        .get(node.url("/login"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(login.headers()["cache-control"], "no-store");
    let css = client
        .get(node.url("/assets/solo.css"))
        .send()
        .await
        .unwrap();
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
}
