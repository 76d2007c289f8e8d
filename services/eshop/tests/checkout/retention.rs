//! Data that would only grow is pruned: after a shop has handled N orders
//! and the retention (one second here) has passed, its event streams hold
//! at most the last message each group read, and the published outbox rows
//! and the ids of handled events are gone. A second round of N orders ends
//! the same way, so storage does not grow with the orders handled.

use std::time::{Duration, Instant};

use eshop::shop::Stores;
use eshop_contracts::{DISPATCH_STREAM, ORDERS_STREAM};
use eshop_platform::events;
use eshop_test_support::{TestBackend, on_both_backends};
use reqwest::StatusCode;

use crate::helpers::{TestShop, Timing, spawn_with, wallet};

/// Orders per round.
const ORDERS: usize = 6;
/// How long pruning may take once the retention has passed: the streams,
/// the outbox and the handled events are each pruned every 5 s.
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
}

impl Storage {
    /// At most the last message a group read is kept on each stream; the
    /// tables are emptied.
    fn is_pruned(self) -> bool {
        self.orders_stream <= 1
            && self.dispatch_stream <= 1
            && self.orders_outbox == 0
            && self.handled_events == 0
    }
}

async fn storage_stays_bounded_however_many_orders_are_handled(shop: TestShop) {
    for round in 1..=2 {
        buy_and_receive(&shop, round).await;
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
    // What was pruned was finished with: every order and charge is whole.
    let figures = shop.settle().await;
    assert_eq!(
        figures.paid_orders_cents,
        figures.charged_cents - figures.refunded_cents
    );
}

/// `ORDERS` customers each buy one product and wait for its delivery.
async fn buy_and_receive(shop: &TestShop, round: usize) {
    for n in 0..ORDERS {
        let customer = shop.customer().await;
        shop.top_up(&customer, 100_000).await;
        shop.add_to_cart(&customer, "SENSOR-IMU-3", 1).await;
        let (status, checkout) = shop
            .checkout_patiently(&customer, &format!("round-{round}-{n}"), wallet())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{checkout}");
        let order = checkout["order_id"].as_str().expect("an order id");
        shop.wait_for_order(&customer, order, "delivered").await;
    }
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
    Storage {
        orders_stream: stream_length(ORDERS_STREAM).await,
        dispatch_stream: stream_length(DISPATCH_STREAM).await,
        orders_outbox,
        handled_events,
    }
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
