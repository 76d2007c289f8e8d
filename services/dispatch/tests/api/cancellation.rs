//! Cancellations: one that arrives before the shipment leaves stops it for
//! good; one that arrives later is recorded and changes nothing.
//!
//! Shipments wait a second here, so a cancellation published right after
//! its payment is handled well before the shipment is due. An order paid at
//! the same moment shows when the cancelled one would have left.

use std::time::Duration;

use eshop_test_support::{TestBackend, on_both_backends};
use uuid::Uuid;

use crate::helpers::{
    Options, Shipped, TestApp, assert_shipped_once, eventually, order_cancelled, order_paid,
    spawn_with,
};

async fn spawn(backend: TestBackend) -> TestApp {
    let options = Options {
        dispatch_delay: Duration::from_secs(1),
        ..Options::default()
    };
    spawn_with(backend, options).await
}

on_both_backends!(
    an_order_cancelled_before_dispatch_never_leaves,
    a_cancellation_after_dispatch_is_recorded_and_ignored,
    a_cancellation_that_overtakes_its_payment_keeps_the_order_home,
);

async fn an_order_cancelled_before_dispatch_never_leaves(app: TestApp) {
    let kept = Uuid::new_v4();
    let cancelled = Uuid::new_v4();
    app.publish(&order_paid(kept)).await;
    app.publish(&order_paid(cancelled)).await;
    app.publish(&order_cancelled(cancelled)).await;
    app.shipment_in(cancelled, "cancelled").await;
    // Paid again and cancelled again (redeliveries): nothing changes.
    app.publish(&order_paid(cancelled)).await;
    app.publish(&order_cancelled(cancelled)).await;
    let later = app.pay().await;

    let events = app.all_delivered(&[kept, later]).await;
    assert_shipped_once(&events, &[kept, later], false);
    let shipment = app.shipment(cancelled).await.expect("a shipment");
    assert_eq!(shipment["status"], "cancelled", "{shipment}");
    assert!(shipment["scheduled_at"].is_string(), "{shipment}");
    assert!(shipment["cancelled_at"].is_string(), "{shipment}");
    assert!(shipment["tracking_number"].is_null(), "{shipment}");
    assert!(shipment["dispatched_at"].is_null(), "{shipment}");
    let summary = app.summary().await;
    assert_eq!(summary["cancelled"], 1, "{summary}");
    assert_eq!(summary["delivered"], 2, "{summary}");
    assert_eq!(summary["scheduled"], 0, "{summary}");
    assert_eq!(summary["total"], 3, "{summary}");
    assert_eq!(
        app.counter("eshop_dispatch_shipments_cancelled_total")
            .await,
        1
    );
}

async fn a_cancellation_after_dispatch_is_recorded_and_ignored(app: TestApp) {
    let order_id = app.pay().await;
    eventually("the order dispatched", || async {
        let events = app.dispatch_stream().await;
        (!Shipped::of(&events).dispatched(order_id).is_empty()).then_some(())
    })
    .await;
    app.publish(&order_cancelled(order_id)).await;
    let recorded = eventually("the late cancellation recorded", || async {
        app.shipment(order_id)
            .await
            .filter(|shipment| shipment["late_cancellation_at"].is_string())
    })
    .await;
    assert_ne!(recorded["status"], "cancelled", "{recorded}");

    let events = app.all_delivered(&[order_id]).await;
    assert_shipped_once(&events, &[order_id], false);
    let shipment = app.shipment(order_id).await.expect("a shipment");
    assert_eq!(shipment["status"], "delivered", "{shipment}");
    assert!(shipment["cancelled_at"].is_null(), "{shipment}");
    assert_eq!(
        shipment["late_cancellation_at"], recorded["late_cancellation_at"],
        "{shipment}"
    );
    let summary = app.summary().await;
    assert_eq!(summary["delivered"], 1, "{summary}");
    assert_eq!(summary["cancelled"], 0, "{summary}");
    assert_eq!(summary["late_cancellations"], 1, "{summary}");
    assert_eq!(
        app.counter("eshop_dispatch_late_cancellations_total").await,
        1
    );
}

async fn a_cancellation_that_overtakes_its_payment_keeps_the_order_home(app: TestApp) {
    // A payment whose first delivery failed can reach dispatch after the
    // order's cancellation.
    let order_id = Uuid::new_v4();
    app.publish(&order_cancelled(order_id)).await;
    app.publish(&order_paid(order_id)).await;
    let later = app.pay().await;

    let events = app.all_delivered(&[later]).await;
    assert_shipped_once(&events, &[later], false);
    let shipment = app.shipment(order_id).await.expect("a shipment");
    assert_eq!(shipment["status"], "cancelled", "{shipment}");
    assert!(shipment["scheduled_at"].is_null(), "{shipment}");
    assert!(shipment["cancelled_at"].is_string(), "{shipment}");
    let summary = app.summary().await;
    assert_eq!(summary["cancelled"], 1, "{summary}");
    assert_eq!(summary["total"], 2, "{summary}");
}
