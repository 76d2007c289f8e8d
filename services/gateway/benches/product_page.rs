//! The gateway's product page under a bounded load, once with every service
//! up and once with ratings down, where the page must still answer.
//!
//! `cargo bench -p eshop-gateway --bench product_page` (or
//! `tests/bench/product-page`). The whole shop runs in this process on the
//! embedded backend with the demo catalog, as `eshop up` runs it. `WORKERS`
//! clients share `REQUESTS` requests of `GET /products/{sku}`, the HTML
//! page that gathers product, stock, rating summary and latest reviews in
//! parallel. Prints requests per second and p50/p99 latency for each case.

use std::{
    net::TcpListener,
    num::NonZeroU32,
    time::{Duration, Instant},
};

use eshop::shop::{JwtKeys, Shop, ShopConfig, Stores};
use eshop_gateway::{GatewaySettings, settings::RateLimit};
use eshop_test_support::{INTERNAL_TOKEN, Latencies, TestKeys};
use secrecy::SecretString;

const WORKERS: usize = 8;
const REQUESTS: usize = 4_000;
const PAGE: &str = "/products/ROBOT-ARM-2";
/// What the page says when ratings cannot be reached.
const DEGRADED: &str = "Ratings are unavailable right now.";

/// `REQUESTS` page loads by `WORKERS` clients: the latencies and how long
/// it all took. Every answer must be 200 and say `expected`.
async fn load(url: &str, expected: &str) -> (Latencies, Duration) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");
    let started = Instant::now();
    let per_worker = REQUESTS / WORKERS;
    let recorded = futures::future::join_all((0..WORKERS).map(|_| {
        let http = &http;
        async move {
            let mut latencies = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                let sent = Instant::now();
                let response = http.get(url).send().await.expect("the gateway answers");
                assert_eq!(response.status(), 200, "{url}");
                let page = response.text().await.expect("a page");
                latencies.push(sent.elapsed());
                assert!(page.contains(expected), "{url} does not say {expected:?}");
            }
            latencies
        }
    }))
    .await;
    (
        Latencies::new(recorded.into_iter().flatten().collect()),
        started.elapsed(),
    )
}

/// Runs a gateway with `settings` and loads its product page.
async fn measure(case: &str, settings: GatewaySettings, expected: &str) {
    let application = eshop_gateway::build(settings)
        .await
        .expect("the gateway builds");
    let gateway = eshop_test_support::start(application);
    eshop_test_support::wait_until_ready(&gateway.admin).await;
    let url = format!("{}{PAGE}", gateway.address);
    load(&url, expected).await;
    let (latencies, elapsed) = load(&url, expected).await;
    #[expect(clippy::cast_precision_loss, reason = "a request count")]
    let per_second = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "product page, {case}: {} requests by {WORKERS} clients in {:.1}s: {per_second:.0} req/s, {}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.summary()
    );
}

#[tokio::main]
async fn main() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let keys = TestKeys::generate();
    let config = ShopConfig {
        stores: Stores::Embedded {
            data_dir: data.path().to_owned(),
        },
        internal_token: SecretString::from(INTERNAL_TOKEN),
        keys: JwtKeys {
            private_pem: SecretString::from(keys.private_pem.clone()),
            public_pem: keys.public_pem,
        },
        demo_data: true,
        host: [127, 0, 0, 1].into(),
        gateway: ([127, 0, 0, 1], 0).into(),
        log: "error".to_owned(),
        dispatch_delay: Duration::from_secs(10),
        delivery_delay: Duration::from_secs(10),
        checkout_lease: Duration::from_secs(15),
        checkout_deadline: Duration::from_secs(120),
        retention: Duration::from_secs(7 * 24 * 60 * 60),
    };
    let shop = Shop::start(&config, &["gateway"])
        .await
        .expect("the shop starts");
    for address in shop.admin_addresses().values() {
        eshop_test_support::wait_until_ready(&format!("http://{address}")).await;
    }
    let mut settings = config.gateway(&shop);
    // A client this busy is one client to the rate limits; they are not
    // what is measured.
    settings.rate_limit = RateLimit {
        per_second: NonZeroU32::MAX,
        burst: NonZeroU32::MAX,
    };
    measure("every service up", settings.clone(), "Add to cart").await;

    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    settings.downstream.ratings = format!("http://{closed}").parse().expect("a URL");
    measure("ratings down", settings, DEGRADED).await;
    shop.stop().await;
}
