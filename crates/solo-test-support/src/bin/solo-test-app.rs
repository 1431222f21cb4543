//! A small web app for the deploy tests: what solo supervises, proxies,
//! switches and rolls back. It reads how to behave from its release
//! directory, so each release of it can differ:
//!
//! - `version.txt`: what `GET /` answers (`hello from <version>`);
//! - `mode.txt`: `healthy` (default), `never-healthy` (`/healthz` answers
//!   503), `sickens` (`/healthz` answers 503 after 3 s), `crash` (exits at
//!   once), `slow-start` (listens after 3 s);
//!
//! It exits when the process that started it goes away (a `kill -9`ed
//! solo), so tests leave nothing behind.
//!
//! Routes: `/` and `/healthz`; `/slow?ms=N` answers after N ms; `/boom`
//! answers 500; `/ws` is a WebSocket echo (text frames). Listens on
//! `127.0.0.1:$PORT`; on SIGTERM exits after the requests in flight.

use std::convert::Infallible;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let version = std::fs::read_to_string("version.txt")
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let mode = std::fs::read_to_string("mode.txt")
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|_| "healthy".into());
    println!("test app {version} starting in mode {mode} on port {port}");
    // What a careless app prints: solo's log must not keep it.
    println!("connecting with password=hunter2-not-for-logs");
    if mode == "crash" {
        eprintln!("crashing on purpose");
        std::process::exit(3);
    }
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if std::os::unix::process::parent_id() != parent {
                std::process::exit(0);
            }
        }
    });
    if mode == "slow-start" {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen: {e}");
            std::process::exit(2);
        }
    };
    let state = std::sync::Arc::new((version, mode, std::time::Instant::now()));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .unwrap_or_else(|_| std::process::exit(4));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                let service = service_fn(move |req| handle(req, state.clone()));
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = term.recv() => {
                println!("SIGTERM: finishing requests in flight");
                break;
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
    println!("stopped");
}

async fn handle(
    mut req: Request<Incoming>,
    state: std::sync::Arc<(String, String, std::time::Instant)>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (version, mode, started) = (&state.0, &state.1, state.2);
    let text = |status: StatusCode, body: String| {
        Ok(Response::builder()
            .status(status)
            .header("content-type", "text/plain")
            .header("x-app-version", version.as_str())
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default())
    };
    match req.uri().path() {
        "/healthz" if mode == "never-healthy" => {
            text(StatusCode::SERVICE_UNAVAILABLE, "not ready".into())
        }
        "/healthz" if mode == "sickens" && started.elapsed() > Duration::from_secs(3) => {
            text(StatusCode::SERVICE_UNAVAILABLE, "sick".into())
        }
        "/healthz" => text(StatusCode::OK, "ok".into()),
        "/boom" => text(StatusCode::INTERNAL_SERVER_ERROR, "boom".into()),
        "/slow" => {
            let ms = req
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("ms="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            text(StatusCode::OK, format!("slow hello from {version}"))
        }
        "/headers" => {
            let mut lines: Vec<String> = req
                .headers()
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
                .collect();
            lines.sort();
            text(StatusCode::OK, lines.join("\n"))
        }
        "/ws" => {
            let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
                return text(StatusCode::BAD_REQUEST, "not a websocket request".into());
            };
            let mut digest = Sha1::new();
            digest.update(key.as_bytes());
            digest.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
            let accept = base64::engine::general_purpose::STANDARD.encode(digest.finalize());
            let upgrade = hyper::upgrade::on(&mut req);
            let version = version.clone();
            tokio::spawn(async move {
                if let Ok(upgraded) = upgrade.await {
                    echo(TokioIo::new(upgraded), &version).await;
                }
            });
            Ok(Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header("upgrade", "websocket")
                .header("connection", "upgrade")
                .header("sec-websocket-accept", accept)
                .body(Full::new(Bytes::new()))
                .unwrap_or_default())
        }
        _ => {
            // Read what was sent, as an app does, before answering.
            let _ = http_body_util::BodyExt::collect(req.into_body()).await;
            text(StatusCode::OK, format!("hello from {version}"))
        }
    }
}

/// Echoes short text frames back as `<version>: <text>` until a close
/// frame or the end of the stream.
async fn echo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut io: S, version: &str) {
    loop {
        let mut head = [0u8; 2];
        if io.read_exact(&mut head).await.is_err() {
            return;
        }
        let opcode = head[0] & 0x0f;
        let masked = head[1] & 0x80 != 0;
        let len = usize::from(head[1] & 0x7f);
        if len > 125 {
            return;
        }
        let mut mask = [0u8; 4];
        if masked && io.read_exact(&mut mask).await.is_err() {
            return;
        }
        let mut payload = vec![0u8; len];
        if io.read_exact(&mut payload).await.is_err() {
            return;
        }
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        if opcode == 0x8 {
            let _ = io.write_all(&[0x88, 0]).await;
            return;
        }
        let reply = format!("{version}: {}", String::from_utf8_lossy(&payload));
        let reply = reply.as_bytes();
        let mut frame = vec![0x81, reply.len().min(125) as u8];
        frame.extend_from_slice(&reply[..reply.len().min(125)]);
        if io.write_all(&frame).await.is_err() {
            return;
        }
    }
}
