//! Data that would only grow is pruned: after a shop has handled N orders
//! and the retention (one second here) has passed, its event streams hold
//! at most the last message each group read, and the published outbox rows,
//! the ids of handled events, the finished checkouts and the delivered
//! shipments are gone. A second round of N orders ends the same way, so
//! storage does not grow with the orders handled. What was pruned was
//! finished with: an order returned after its checkout was deleted is
//! still refunded and restocked.

use std::time::{Duration, Instant};

use eshop::shop::Stores;
use eshop_contracts::{DISPATCH_STREAM, ORDERS_STREAM};
use eshop_platform::{auth::INTERNAL_TOKEN_HEADER, events};
use eshop_test_support::{INTERNAL_TOKEN, TestBackend, on_both_backends};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Customer, TestShop, Timing, spawn_with, wallet};

/// Orders per round.
const ORDERS: usize = 6;
/// What each customer buys, and the top-up they pay with.
const PRODUCT: &str = "SENSOR-IMU-3";
const TOP_UP: i64 = 100_000;
/// How long pruning may take once the retention has passed: each kind of
/// data is pruned every 5 s (`housekeeping::PRUNE_EVERY`).
const PATIENCE: Duration = Duration::from_secs(30);

on_both_backends!(storage_stays_bounded_however_many_orders_are_handled);

async fn spawn(backend: TestBackend) -> TestShop {
    let timing = Timing {
        retention: Duration::from_secs(1),
        ..Timing::default()
    };
    spawn_with(backend, timing, &[]).await
}

/// What would grow with every order, counted in rows or messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Storage {
    orders_stream: usize,
    dispatch_stream: usize,
    orders_outbox: i64,
    handled_events: i64,
    /// Completed and failed checkouts in payments.
    finished_checkouts: i64,
    /// Shipments dispatch holds, in any status.
    shipments: i64,
}

impl Storage {
    /// At most the last message a group read is kept on each stream; the
    /// tables are emptied.
    fn is_pruned(self) -> bool {
        self.orders_stream <= 1
            && self.dispatch_stream <= 1
            && self.orders_outbox == 0
            && self.handled_events == 0
            && self.finished_checkouts == 0
            && self.shipments == 0
    }
}

async fn storage_stays_bounded_however_many_orders_are_handled(shop: TestShop) {
    let mut delivered = Vec::new();
    for round in 1..=2 {
        delivered = buy_and_receive(&shop, round).await;
        let grown = storage(&shop).await;
        let started = Instant::now();
        let pruned = loop {
            let now = storage(&shop).await;
            if now.is_pruned() {
                break now;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "round {round}: not pruned within {PATIENCE:?}: {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        eprintln!(
            "round {round}: after {} orders {grown:?}; pruned after {:.1}s: {pruned:?}",
            round * ORDERS,
            started.elapsed().as_secs_f64()
        );
    }
    // What was pruned was finished with: an order whose checkout is gone
    // is returned, refunded and restocked, and every charge is whole.
    let (customer, order) = delivered.first().expect("orders were delivered");
    let total = shop.order(customer, order).await["total_cents"]
        .as_i64()
        .expect("a total");
    let stock = shop.stock(PRODUCT).await;
    let returned = shop
        .http
        .post(shop.url("orders", &format!("/v1/orders/{order}/return")))
        .bearer_auth(&customer.token)
        .send()
        .await
        .expect("orders answers");
    assert_eq!(returned.status(), StatusCode::OK);
    shop.eventually("balance", TOP_UP, || shop.balance(customer))
        .await;
    shop.eventually("stock", stock + 1, || shop.stock(PRODUCT))
        .await;
    let figures = shop.settle().await;
    assert_eq!(figures.refunded_cents, total);
    assert_eq!(
        figures.paid_orders_cents,
        figures.charged_cents - figures.refunded_cents
    );
}

/// `ORDERS` customers each buy one `PRODUCT` and wait for its delivery;
/// answers who bought which order.
async fn buy_and_receive(shop: &TestShop, round: usize) -> Vec<(Customer, String)> {
    let mut delivered = Vec::with_capacity(ORDERS);
    for n in 0..ORDERS {
        let customer = shop.customer().await;
        shop.top_up(&customer, TOP_UP).await;
        shop.add_to_cart(&customer, PRODUCT, 1).await;
        let (status, checkout) = shop
            .checkout_patiently(&customer, &format!("round-{round}-{n}"), wallet())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{checkout}");
        let order = checkout["order_id"].as_str().expect("an order id");
        shop.wait_for_order(&customer, order, "delivered").await;
        delivered.push((customer, order.to_owned()));
    }
    delivered
}

async fn storage(shop: &TestShop) -> Storage {
    let bus = events::open(&shop.config.key_value_store())
        .await
        .expect("the bus opens");
    let stream_length = |stream| {
        let bus = bus.clone();
        async move { bus.read_all(stream).await.expect("the stream reads").len() }
    };
    let (orders_outbox, handled_events) = orders_rows(shop).await;
    let checkouts = internal(shop, "payments", "/internal/checkouts/summary").await;
    let shipments = internal(shop, "dispatch", "/internal/shipments/summary").await;
    let count = |summary: &Value, field: &str| summary[field].as_i64().expect("a count");
    Storage {
        orders_stream: stream_length(ORDERS_STREAM).await,
        dispatch_stream: stream_length(DISPATCH_STREAM).await,
        orders_outbox,
        handled_events,
        finished_checkouts: count(&checkouts, "completed") + count(&checkouts, "failed"),
        shipments: count(&shipments, "total"),
    }
}

/// A service's internal endpoint, read with the internal credential.
async fn internal(shop: &TestShop, service: &str, path: &str) -> Value {
    let response = shop
        .http
        .get(shop.url(service, path))
        .header(INTERNAL_TOKEN_HEADER, INTERNAL_TOKEN)
        .send()
        .await
        .expect("the service answers");
    assert_eq!(response.status(), StatusCode::OK, "{service} {path}");
    response.json().await.expect("JSON")
}

/// Rows in orders' `outbox` and `handled_events`.
async fn orders_rows(shop: &TestShop) -> (i64, i64) {
    let query = "SELECT (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM handled_events)";
    match &shop.config.stores {
        Stores::Server { database_url, .. } => {
            let pool = eshop_platform::stores::postgres_pool(database_url, "orders")
                .expect("a pool on orders' schema");
            sqlx::query_as(query).fetch_one(&pool).await
        }
        Stores::Embedded { data_dir } => {
            let pool = eshop_platform::stores::sqlite_pool(data_dir, "orders")
                .expect("a pool on orders' file");
            sqlx::query_as(query).fetch_one(&pool).await
        }
    }
    .expect("counting orders' rows")
}
