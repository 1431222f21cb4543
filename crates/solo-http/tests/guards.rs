//! Connection guards: silent or half-speaking clients are cut off, and the
//! number of open connections is capped.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Options, spawn_app};
use solo_http::HttpSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEAD_TIMEOUT: Duration = Duration::from_millis(300);

fn guarded(max_connections: usize) -> Options {
    Options {
        settings: HttpSettings {
            header_read_timeout: HEAD_TIMEOUT,
            max_connections,
            ..HttpSettings::default()
        },
        ..Options::default()
    }
}

/// Waits for the server to close `stream`; the time it took, or None if it
/// stayed open for `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {} // a response (e.g. 408); keep reading until the close
        }
    }
}

#[tokio::test]
async fn silent_and_half_speaking_clients_are_cut_off() {
    let app = spawn_app(guarded(64)).await;
    let openings: [&[u8]; 4] = [
        b"",                                 // connects, says nothing
        b"GET /healthz HTTP/1.1\r\nHost: x", // a request head that never ends
        b"PRI * HTTP/2.0\r\n",               // half an HTTP/2 preface
        b"P",                                // one byte
    ];
    for opening in openings {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(opening).await.unwrap();
        let closed = closed_within(&mut stream, Duration::from_secs(5)).await;
        let waited = closed.unwrap_or_else(|| {
            panic!(
                "the server kept a connection open for 5 s after {:?}",
                String::from_utf8_lossy(opening)
            )
        });
        assert!(
            waited >= HEAD_TIMEOUT - Duration::from_millis(50),
            "closed too early ({waited:?}) after {:?}",
            String::from_utf8_lossy(opening)
        );
    }
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let app = spawn_app(guarded(64)).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    assert!(
        closed_within(&mut stream, Duration::from_secs(5))
            .await
            .is_some(),
        "an idle keep-alive connection stays open"
    );
}

#[tokio::test]
async fn a_full_server_holds_new_connections_until_a_slot_frees() {
    let app = spawn_app(Options {
        settings: HttpSettings {
            header_read_timeout: Duration::from_secs(30),
            max_connections: 2,
            ..HttpSettings::default()
        },
        ..Options::default()
    })
    .await;
    let first = TcpStream::connect(app.addr).await.unwrap();
    let _second = TcpStream::connect(app.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let refused = client.get(app.url("/healthz")).send().await;
    assert!(
        refused.is_err(),
        "a third connection is served while two hold the slots"
    );

    drop(first);
    let served = reqwest::Client::new()
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("served once a slot is free");
    assert_eq!(served.status(), 200);
}
