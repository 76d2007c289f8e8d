//! Restarts: dispatch killed while shipments are at every stage (payments
//! not yet read or not yet acknowledged, shipments scheduled, dispatched,
//! moves in flight) and started again on the same stores loses none of
//! them and repeats none.

use eshop_test_support::{TestBackend, on_both_backends};
use uuid::Uuid;

use crate::helpers::{Options, Shipped, TestApp, assert_shipped_once, eventually, spawn_with};

/// Orders in flight when dispatch is killed.
const ORDERS: usize = 30;

async fn spawn(backend: TestBackend) -> TestApp {
    let options = Options {
        crashable: true,
        ..Options::default()
    };
    spawn_with(backend, options).await
}

on_both_backends!(a_crash_mid_way_neither_loses_nor_repeats_a_shipment);

async fn a_crash_mid_way_neither_loses_nor_repeats_a_shipment(mut app: TestApp) {
    let orders: Vec<Uuid> = (0..ORDERS).map(|_| Uuid::new_v4()).collect();
    let (first, second) = orders.split_at(ORDERS / 2);
    for &order_id in first {
        app.publish(&crate::helpers::order_paid(order_id)).await;
    }
    eventually("a first order dispatched", || async {
        let events = app.dispatch_stream().await;
        let shipped = Shipped::of(&events);
        first
            .iter()
            .any(|order| !shipped.dispatched(*order).is_empty())
            .then_some(())
    })
    .await;
    for &order_id in second {
        app.publish(&crate::helpers::order_paid(order_id)).await;
    }
    app.crash();

    let at_crash = app.dispatch_stream().await;
    let shipped = Shipped::of(&at_crash);
    let delivered = orders
        .iter()
        .filter(|order| !shipped.delivered(**order).is_empty())
        .count();
    assert!(
        delivered < ORDERS,
        "every order was delivered before the crash; it tested nothing"
    );
    eprintln!("killed with {delivered} of {ORDERS} orders delivered");

    app.restart().await;
    let events = app.all_delivered(&orders).await;
    // The SQLite outbox relay may publish again, under the same id, what
    // the crash kept it from marking published; Redis appends each event
    // in the script that makes its move.
    let copies_allowed = app.backend == TestBackend::Embedded;
    assert_shipped_once(&events, &orders, copies_allowed);
    let summary = app.summary().await;
    assert_eq!(summary["delivered"], ORDERS, "{summary}");
    assert_eq!(summary["total"], ORDERS, "{summary}");
}
