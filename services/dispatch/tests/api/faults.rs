//! The fault knob: with half of the event handlings failing on purpose, the
//! bus redelivers what failed and every order still ships exactly once.

use eshop_test_support::{TestBackend, on_both_backends};

use crate::helpers::{Options, TestApp, assert_shipped_once, spawn_with};

async fn spawn(backend: TestBackend) -> TestApp {
    let options = Options {
        fault_error_rate: "0.5".parse().expect("a rate"),
        ..Options::default()
    };
    spawn_with(backend, options).await
}

on_both_backends!(with_half_of_handlings_failing_every_order_still_ships_once);

async fn with_half_of_handlings_failing_every_order_still_ships_once(app: TestApp) {
    let mut orders = Vec::new();
    for _ in 0..20 {
        orders.push(app.pay().await);
    }
    let events = app.all_delivered(&orders).await;
    assert_shipped_once(&events, &orders, false);
    let summary = app.summary().await;
    assert_eq!(summary["delivered"], 20, "{summary}");
    assert_eq!(summary["total"], 20, "{summary}");
    assert_eq!(
        app.counter("eshop_dispatch_shipments_scheduled_total")
            .await,
        20
    );
    let injected = app.counter("eshop_dispatch_injected_faults_total").await;
    assert!(injected > 0, "no fault was injected in 20 orders");
    eprintln!("{injected} handlings failed on purpose; every order shipped once");
}
