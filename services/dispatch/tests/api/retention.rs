//! Retention: cancelled and delivered shipments are deleted once they have
//! been finished for the retention (one second here), and leave the
//! summary with them; a shipment still waiting to leave stays.
//!
//! Shipments wait a minute to leave here, so the waiting one cannot finish
//! during the test.

use std::time::Duration;

use eshop_test_support::{TestBackend, on_both_backends};
use uuid::Uuid;

use crate::helpers::{Options, TestApp, eventually, order_cancelled, order_paid, spawn_with};

async fn spawn(backend: TestBackend) -> TestApp {
    let options = Options {
        dispatch_delay: Duration::from_secs(60),
        retention: Duration::from_secs(1),
        ..Options::default()
    };
    spawn_with(backend, options).await
}

on_both_backends!(finished_shipments_are_deleted_after_the_retention_and_waiting_ones_stay);

async fn finished_shipments_are_deleted_after_the_retention_and_waiting_ones_stay(app: TestApp) {
    let stopped = Uuid::new_v4();
    let never_paid = Uuid::new_v4();
    let waiting = Uuid::new_v4();
    app.publish(&order_paid(stopped)).await;
    app.publish(&order_paid(waiting)).await;
    app.publish(&order_cancelled(stopped)).await;
    app.publish(&order_cancelled(never_paid)).await;
    app.shipment_in(stopped, "cancelled").await;
    app.shipment_in(never_paid, "cancelled").await;
    app.shipment_in(waiting, "scheduled").await;
    let summary = app.summary().await;
    assert_eq!(
        (
            &summary["cancelled"],
            &summary["scheduled"],
            &summary["total"]
        ),
        (&2.into(), &1.into(), &3.into()),
        "{summary}"
    );

    let summary = eventually("the cancelled shipments deleted", || async {
        let summary = app.summary().await;
        (summary["total"] == 1).then_some(summary)
    })
    .await;
    eprintln!("after the retention: {summary}");
    assert_eq!(summary["cancelled"], 0, "{summary}");
    assert_eq!(summary["scheduled"], 1, "{summary}");
    assert!(app.shipment(stopped).await.is_none());
    assert!(app.shipment(never_paid).await.is_none());
    let kept = app.shipment(waiting).await.expect("the waiting shipment");
    assert_eq!(kept["status"], "scheduled", "{kept}");
}
