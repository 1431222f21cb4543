//! Serving over TLS: HTTP/1.1 and HTTP/2, and HSTS only there.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Options, spawn_app};
use solo_http::{TlsFiles, load_tls};

#[tokio::test]
async fn tls_serves_both_http_versions_with_hsts() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, cert.cert.pem()).unwrap();
    std::fs::write(&files.key, cert.signing_key.serialize_pem()).unwrap();
    let tls = load_tls(&files).unwrap();
    let app = spawn_app(Options {
        tls: Some(tls),
        ..Options::default()
    })
    .await;

    let root = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap();
    let url = format!("https://localhost:{}/healthz", app.addr.port());
    for http2 in [false, true] {
        let mut builder = reqwest::Client::builder().add_root_certificate(root.clone());
        builder = if http2 {
            builder.http2_prior_knowledge()
        } else {
            builder.http1_only()
        };
        let response = builder.build().unwrap().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let expected = if http2 {
            reqwest::Version::HTTP_2
        } else {
            reqwest::Version::HTTP_11
        };
        assert_eq!(response.version(), expected);
        let hsts = response.headers()["strict-transport-security"]
            .to_str()
            .unwrap();
        assert!(hsts.starts_with("max-age="), "{hsts}");
    }
}

#[test]
fn unreadable_tls_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = TlsFiles {
        cert: dir.path().join("missing.pem"),
        key: dir.path().join("missing.key"),
    };
    let error = load_tls(&missing).unwrap_err().to_string();
    assert!(
        error.contains("cannot read the TLS certificate") && error.contains("missing.pem"),
        "{error}"
    );

    std::fs::write(dir.path().join("empty.pem"), "not a certificate").unwrap();
    let empty = TlsFiles {
        cert: dir.path().join("empty.pem"),
        key: dir.path().join("missing.key"),
    };
    let error = load_tls(&empty).unwrap_err().to_string();
    assert!(error.contains("no PEM certificate"), "{error}");
}
