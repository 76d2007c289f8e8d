//! Slow clients against a service's real HTTP server, over raw TCP: a
//! request head that never ends, a kept-alive connection left idle, and a
//! body that never ends. The first two are closed within the header read
//! timeout; the third is answered 408 and closed. Each client fault costs
//! the server a bounded wait and is never counted as a server error.

use std::time::{Duration, Instant};

use axum::{Router, routing::post};
use eshop_platform::{
    server::{Application, BODY_READ_TIMEOUT, HEADER_READ_TIMEOUT, Service},
    settings::ServerSettings,
    stores::Preparation,
};
use prometheus_client::registry::Registry;
use secrecy::SecretString;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_util::sync::CancellationToken;

/// How long past its timeout the server may take to act.
const SLACK: Duration = Duration::from_secs(10);

/// A service with one route that echoes a body, on a free port.
async fn start() -> (std::net::SocketAddr, CancellationToken) {
    let settings = ServerSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: "127.0.0.1:0".parse().unwrap(),
        log: "warn".to_owned(),
        request_timeout: Duration::from_secs(30),
        internal_token: SecretString::from("token"),
        fault_latency: Duration::ZERO,
    };
    let service = Service {
        name: "slow-clients",
        api: Router::new().route("/echo", post(|body: String| async move { body })),
        preparation: Preparation::done(),
        checks: Vec::new(),
        registry: Registry::default(),
    };
    let stopping = CancellationToken::new();
    let application = Application::bind(&settings, service, stopping.clone())
        .await
        .expect("the server binds");
    let address = application.address().unwrap();
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    (address, stopping)
}

/// Reads until the server closes the connection, at most `within`; what it
/// sent, and after how long it closed.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut received)).await;
    assert!(
        read.is_ok(),
        "the connection is still open after {within:?}; received: {}",
        String::from_utf8_lossy(&received)
    );
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn half_a_request_line_is_closed_within_the_header_read_timeout() {
    let (address, stopping) = start().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /healthz HTT").await.unwrap();
    let (_, after) = until_closed(&mut stream, HEADER_READ_TIMEOUT + SLACK).await;
    eprintln!("slowloris: half a request line, closed after {after:?}");
    assert!(
        after >= HEADER_READ_TIMEOUT - Duration::from_secs(1),
        "{after:?}"
    );
    stopping.cancel();
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_within_the_header_read_timeout() {
    let (address, stopping) = start().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await
        .unwrap();
    let (said, after) = until_closed(&mut stream, HEADER_READ_TIMEOUT + SLACK).await;
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    eprintln!("an idle kept-alive connection closed after {after:?}");
    stopping.cancel();
}

#[tokio::test]
async fn a_body_that_never_finishes_is_answered_408_and_closed() {
    let (address, stopping) = start().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: shop\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly ten b",
        )
        .await
        .unwrap();
    let (said, after) = until_closed(&mut stream, BODY_READ_TIMEOUT + SLACK).await;
    eprintln!(
        "an unfinished body: answered {:?} after {after:?}",
        said.lines().next()
    );
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains("request_timeout"), "{said}");
    stopping.cancel();
}

#[tokio::test]
async fn a_whole_body_is_served() {
    let (address, stopping) = start().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: shop\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        )
        .await
        .unwrap();
    let (said, _) = until_closed(&mut stream, SLACK).await;
    assert!(
        said.starts_with("HTTP/1.1 200") && said.ends_with("hello"),
        "{said}"
    );
    stopping.cancel();
}
