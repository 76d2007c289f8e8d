//! Checkout throughput and latency of the whole shop on PostgreSQL and
//! Redis, next to pgbench's TPC-B-like figure on the same PostgreSQL, so the
//! two can be compared as a ratio.
//!
//! `cargo bench -p eshop --bench checkout` (after `eval "$(tests/stores env)"`;
//! `tests/bench/checkout` does both). The shop runs in this process on a
//! fresh database and Redis prefix with the demo catalog; `WORKERS`
//! customers each loop add-to-cart then checkout (wallet) for `DURATION`.
//! Prints checkouts per second and p50/p99 checkout latency, then runs
//! pgbench for as long on a scratch database of the same server.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use eshop::shop::{JwtKeys, Shop, ShopConfig, Stores};
use eshop_test_support::{INTERNAL_TOKEN, Latencies, TestDatabase, TestKeys, TestRedis};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

const WORKERS: usize = 16;
const DURATION: Duration = Duration::from_secs(20);
const SKU: &str = "AI-MODEL-PACK";

struct Customer {
    token: String,
}

async fn customer(http: &reqwest::Client, shop: &Shop) -> Customer {
    let email = format!("{}@bench.example", Uuid::new_v4().simple());
    let password = "bench password 1";
    http.post(format!("{}/v1/users", shop.url("users")))
        .json(&json!({"email": email, "password": password, "name": "Bench"}))
        .send()
        .await
        .expect("register");
    let session: Value = http
        .post(format!("{}/v1/sessions", shop.url("users")))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("a session");
    let token = session["token"].as_str().expect("a token").to_owned();
    let top_up = http
        .post(format!("{}/v1/wallet/top-ups", shop.url("wallet")))
        .bearer_auth(&token)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({"amount_cents": 1_000_000, "card_number": "4242424242424242"}))
        .send()
        .await
        .expect("top up");
    assert!(top_up.status().is_success(), "top-up refused");
    Customer { token }
}

/// Adds one unit and checks out; the checkout's latency, if it completed.
async fn buy(http: &reqwest::Client, shop: &Shop, customer: &Customer) -> Option<Duration> {
    http.post(format!("{}/v1/cart/items", shop.url("cart")))
        .bearer_auth(&customer.token)
        .json(&json!({"sku": SKU, "quantity": 1}))
        .send()
        .await
        .ok()?;
    let started = Instant::now();
    let response = http
        .post(format!("{}/v1/checkouts", shop.url("payments")))
        .bearer_auth(&customer.token)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({
            "address": {"name": "Bench", "line1": "1 Main St", "postal_code": "1000", "city_id": "fr-paris"},
            "payment": {"method": "wallet"},
        }))
        .send()
        .await
        .ok()?;
    (response.status() == reqwest::StatusCode::CREATED).then(|| started.elapsed())
}

/// pgbench TPC-B-like transactions per second on a scratch database.
fn pgbench(admin_url: &str) -> f64 {
    let database = format!("pgbench_{}", Uuid::new_v4().simple());
    let (server, _) = admin_url.rsplit_once('/').expect("a database URL");
    let url = format!("{server}/{database}");
    let psql = |sql: &str| {
        let status = Command::new("psql")
            .args([admin_url, "-q", "-c", sql])
            .status()
            .expect("psql runs");
        assert!(status.success(), "{sql}");
    };
    psql(&format!("CREATE DATABASE {database}"));
    let init = Command::new("pgbench")
        .args(["-q", "-i", "-s", "10", &url])
        .output()
        .expect("pgbench runs");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let run = Command::new("pgbench")
        .args([
            "-c",
            &WORKERS.to_string(),
            "-j",
            "2",
            "-T",
            &DURATION.as_secs().to_string(),
            &url,
        ])
        .output()
        .expect("pgbench runs");
    psql(&format!("DROP DATABASE {database} WITH (FORCE)"));
    let report = String::from_utf8_lossy(&run.stdout);
    report
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .unwrap_or_else(|| panic!("no tps in pgbench's report:\n{report}"))
}

#[tokio::main]
async fn main() {
    let database = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let keys = TestKeys::generate();
    let config = ShopConfig {
        stores: Stores::Server {
            database_url: SecretString::from(database.url()),
            redis_url: SecretString::from(redis.url().to_owned()),
            redis_prefix: redis.prefix().to_owned(),
        },
        internal_token: SecretString::from(INTERNAL_TOKEN),
        keys: JwtKeys {
            private_pem: SecretString::from(keys.private_pem.clone()),
            public_pem: keys.public_pem.clone(),
        },
        demo_data: true,
        host: [127, 0, 0, 1].into(),
        gateway: ([127, 0, 0, 1], 0).into(),
        log: "error".to_owned(),
        dispatch_delay: Duration::from_secs(2),
        delivery_delay: Duration::from_secs(2),
        checkout_lease: Duration::from_secs(15),
        checkout_deadline: Duration::from_secs(120),
        retention: Duration::from_secs(7 * 24 * 60 * 60),
    };
    let shop = Shop::start(&config, &[]).await.expect("the shop starts");
    for address in shop.admin_addresses().values() {
        eshop_test_support::wait_until_ready(&format!("http://{address}")).await;
    }
    let http = reqwest::Client::new();
    let product: Value = http
        .get(format!("{}/v1/products/{SKU}", shop.url("catalog")))
        .send()
        .await
        .expect("catalog")
        .json()
        .await
        .expect("a product");
    let restock = http
        .put(format!("{}/internal/products/{SKU}", shop.url("catalog")))
        .header("x-internal-token", INTERNAL_TOKEN)
        .json(&json!({
            "name": product["name"], "description": product["description"],
            "price_cents": product["price_cents"], "category": product["category"],
            "weight_grams": product["weight_grams"], "stock": 1_000_000,
        }))
        .send()
        .await
        .expect("catalog");
    assert!(restock.status().is_success());

    let mut customers = Vec::with_capacity(WORKERS);
    for _ in 0..WORKERS {
        customers.push(customer(&http, &shop).await);
    }
    let started = Instant::now();
    let deadline = started + DURATION;
    let latencies = futures::future::join_all(customers.iter().map(|customer| {
        let (http, shop) = (&http, &shop);
        async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                if let Some(latency) = buy(http, shop, customer).await {
                    latencies.push(latency);
                }
            }
            latencies
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let latencies = Latencies::new(latencies.into_iter().flatten().collect());
    let per_second = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "checkout: {} completed in {:.1}s by {WORKERS} customers: {per_second:.1} checkouts/s, {}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.summary(),
    );
    shop.stop().await;

    let admin = std::env::var("ESHOP_TEST_POSTGRES_URL").expect("the test stores are up");
    let tps = pgbench(&admin);
    println!(
        "pgbench TPC-B-like, {WORKERS} clients, {}s, same PostgreSQL: {tps:.0} tps; one checkout costs about {:.0} pgbench transactions",
        DURATION.as_secs(),
        tps / per_second
    );
}
