//! Readiness follows the store and the bus: a dispatch whose Redis cannot
//! be reached is live but not ready, says why, and its API answers 503.

use std::net::TcpListener;

use eshop_dispatch::DispatchSettings;
use eshop_platform::settings::{KeyValueStore, Rate};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;

use crate::helpers::{DELIVERY_DELAY, DISPATCH_DELAY, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_dispatch_is_live_but_not_ready() {
    // A loopback port that nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let settings = DispatchSettings {
        server: eshop_test_support::server_settings(),
        store: KeyValueStore::Redis {
            url: SecretString::from(format!("redis://127.0.0.1:{port}")),
            key_prefix: "nowhere:".to_owned(),
        },
        dispatch_delay: DISPATCH_DELAY,
        delivery_delay: DELIVERY_DELAY,
        redeliver_after: DISPATCH_DELAY,
        fault_error_rate: Rate::ZERO,
        retention: std::time::Duration::from_secs(7 * 24 * 60 * 60),
    };
    let dispatch =
        eshop_test_support::start(eshop_dispatch::build(settings).await.expect("builds"));
    let http = reqwest::Client::new();
    let admin = |path: &str| http.get(format!("{}{path}", dispatch.admin)).send();
    let api = |path: &str| http.get(format!("{}{path}", dispatch.address)).send();

    assert_eq!(
        admin("/healthz").await.expect("answers").status(),
        StatusCode::OK
    );
    let failing = eventually("/readyz to name the store and the bus", || async {
        let response = admin("/readyz").await.expect("answers");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = response.json().await.expect("JSON");
        let failing = body["failing"].clone();
        (failing["redis"].is_string() && failing["bus"].is_string()).then_some(failing)
    })
    .await;
    eprintln!("/readyz without Redis: {failing}");
    let starting = api("/internal/shipments/summary").await.expect("answers");
    assert_eq!(starting.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = starting.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "starting");
}
