//! Readiness follows the database: a catalog whose PostgreSQL cannot be
//! reached answers `/healthz` but not `/readyz` or its API, and turns ready
//! by itself once the database can be reached.
//!
//! The database is the real test PostgreSQL; it "comes up" when a loopback
//! port that refused connections starts forwarding them to it.

use std::{
    net::TcpListener as StdListener,
    time::{Duration, Instant},
};

use eshop_catalog::CatalogSettings;
use eshop_platform::settings::SqlStore;
use eshop_test_support::TestDatabase;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

/// `url` with its `host:port` replaced by `127.0.0.1:{port}`.
fn via_port(url: &str, port: u16) -> (String, String) {
    let (scheme_and_user, rest) = url.split_once('@').expect("the URL names a user");
    let (server, database) = rest.split_once('/').expect("the URL names a database");
    (
        format!("{scheme_and_user}@127.0.0.1:{port}/{database}"),
        server.to_owned(),
    )
}

/// Forwards every connection to `127.0.0.1:{port}` to `server`.
async fn forward(listener: TcpListener, server: String) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        let server = server.clone();
        tokio::spawn(async move {
            if let Ok(mut upstream) = TcpStream::connect(&server).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_on_once_the_database_can_be_reached() {
    let database = TestDatabase::create().await;
    let port = StdListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let (url, server) = via_port(&database.url(), port);
    let settings = CatalogSettings {
        server: eshop_test_support::server_settings(),
        store: SqlStore::Postgres {
            url: SecretString::from(url),
        },
        demo_data: true,
        reservation_ttl: Duration::from_secs(900),
    };
    let catalog = eshop_test_support::start(eshop_catalog::build(settings).await.expect("builds"));
    let http = reqwest::Client::new();
    let admin = |path: &str| http.get(format!("{}{path}", catalog.admin)).send();
    let api = |path: &str| http.get(format!("{}{path}", catalog.address)).send();

    assert_eq!(
        admin("/healthz").await.expect("answers").status(),
        StatusCode::OK
    );
    let not_ready = admin("/readyz").await.expect("answers");
    assert_eq!(not_ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = not_ready.json().await.expect("JSON");
    assert_eq!(body["status"], "not_ready");
    let reason = body["failing"]["postgres"]
        .as_str()
        .expect("a reason")
        .to_owned();
    eprintln!("before the database is reachable: /readyz 503, postgres: {reason}");
    let starting = api("/v1/products").await.expect("answers");
    assert_eq!(starting.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = starting.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "starting");

    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is still free");
    let reachable = Instant::now();
    tokio::spawn(forward(listener, server));
    eshop_test_support::wait_until_ready(&catalog.admin).await;
    eprintln!(
        "the database became reachable; /readyz 200 after {:.1}s",
        reachable.elapsed().as_secs_f64()
    );
    let products: Value = api("/v1/products")
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        products["total"], 50,
        "the demo catalog was loaded once ready"
    );
}
