//! Two replicas on the same stores and bus share the work, and each move
//! is made by exactly one of them.

use eshop_test_support::{TestBackend, on_both_backends};

use crate::helpers::{Options, TestApp, assert_shipped_once, spawn_with};

const ORDERS: u64 = 20;

async fn spawn(backend: TestBackend) -> TestApp {
    spawn_with(backend, Options::default()).await
}

on_both_backends!(two_replicas_ship_each_order_once);

async fn two_replicas_ship_each_order_once(app: TestApp) {
    let other = app.another_replica().await;
    let mut orders = Vec::new();
    for _ in 0..ORDERS {
        orders.push(app.pay().await);
    }
    let events = app.all_delivered(&orders).await;
    assert_shipped_once(&events, &orders, false);
    let summary = app.summary().await;
    assert_eq!(summary["delivered"], ORDERS, "{summary}");
    assert_eq!(summary["total"], ORDERS, "{summary}");
    // Each replica counts the moves it made: together, one per shipment.
    for counter in [
        "eshop_dispatch_shipments_scheduled_total",
        "eshop_dispatch_shipments_dispatched_total",
        "eshop_dispatch_shipments_delivered_total",
    ] {
        let here = app.counter(counter).await;
        let there = app.counter_at(&other.admin, counter).await;
        assert_eq!(here + there, ORDERS, "{counter}: {here} + {there}");
    }
}
