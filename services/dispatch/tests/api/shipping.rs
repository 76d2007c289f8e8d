//! The life of a shipment: a paid order is dispatched, then delivered, once
//! each and after its delays, however often the bus hands its payment over.

use eshop_contracts::{EventKind, OrderDispatched, OrderPlaced};
use eshop_platform::events::Event;
use eshop_test_support::{TestBackend, on_both_backends};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    DELIVERY_DELAY, DISPATCH_DELAY, Options, Shipped, TestApp, assert_shipped_once, order_paid,
    spawn_with, time,
};

async fn spawn(backend: TestBackend) -> TestApp {
    spawn_with(backend, Options::default()).await
}

on_both_backends!(
    a_paid_order_is_dispatched_then_delivered_once_after_its_delays,
    a_payment_seen_again_ships_nothing_more,
    a_malformed_payment_is_dead_lettered_and_other_orders_still_ship,
);

async fn a_paid_order_is_dispatched_then_delivered_once_after_its_delays(app: TestApp) {
    let order_id = app.pay().await;
    let events = app.all_delivered(&[order_id]).await;
    assert_shipped_once(&events, &[order_id], false);

    let shipment = app.shipment(order_id).await.expect("a shipment");
    assert_eq!(shipment["order_id"], order_id.to_string());
    assert_eq!(shipment["status"], "delivered");
    let scheduled_at = time(&shipment["scheduled_at"]);
    let dispatch_at = time(&shipment["dispatch_at"]);
    let dispatched_at = time(&shipment["dispatched_at"]);
    let deliver_at = time(&shipment["deliver_at"]);
    let delivered_at = time(&shipment["delivered_at"]);
    assert_eq!(dispatch_at - scheduled_at, DISPATCH_DELAY);
    assert_eq!(deliver_at - dispatched_at, DELIVERY_DELAY);
    // Neither move came early.
    assert!(dispatched_at >= dispatch_at, "{shipment}");
    assert!(dispatched_at - scheduled_at >= DISPATCH_DELAY, "{shipment}");
    assert!(delivered_at >= deliver_at, "{shipment}");
    assert!(delivered_at - dispatched_at >= DELIVERY_DELAY, "{shipment}");
    assert!(shipment["cancelled_at"].is_null());
    assert!(shipment["late_cancellation_at"].is_null());

    let shipped = Shipped::of(&events);
    let (_, dispatched) = &shipped.dispatched(order_id)[0];
    let payload: OrderDispatched = dispatched.payload().expect("an OrderDispatched");
    assert_eq!(payload.dispatched_at, dispatched_at);
    assert_eq!(dispatched.occurred_at, dispatched_at);
    let tracking_number = shipment["tracking_number"]
        .as_str()
        .expect("a tracking number");
    assert_eq!(payload.tracking_number, tracking_number);
    assert!(tracking_number.starts_with("ESH-"), "{tracking_number}");
    let (_, delivered) = &shipped.delivered(order_id)[0];
    assert_eq!(time(&delivered.payload["delivered_at"]), delivered_at);

    let summary = app.summary().await;
    assert_eq!(summary["delivered"], 1, "{summary}");
    assert_eq!(summary["total"], 1, "{summary}");
    for (counter, count) in [
        ("eshop_dispatch_shipments_scheduled_total", 1),
        ("eshop_dispatch_shipments_dispatched_total", 1),
        ("eshop_dispatch_shipments_delivered_total", 1),
        ("eshop_dispatch_shipments_cancelled_total", 0),
        ("eshop_dispatch_injected_faults_total", 0),
    ] {
        assert_eq!(app.counter(counter).await, count, "{counter}");
    }
}

async fn a_payment_seen_again_ships_nothing_more(app: TestApp) {
    let order_id = Uuid::new_v4();
    let paid = order_paid(order_id);
    app.publish(&paid).await;
    // A redelivery of the same event, and the same payment as a new event.
    app.publish(&paid).await;
    app.publish(&order_paid(order_id)).await;
    // Events dispatch does not act on pass by.
    let placed = OrderPlaced {
        order_id,
        user_id: Uuid::new_v4(),
        checkout_id: Uuid::new_v4(),
        lines: Vec::new(),
        total_cents: 4_999,
    };
    app.publish(&Event::new(OrderPlaced::KIND, &placed)).await;
    app.all_delivered(&[order_id]).await;

    // Once more after delivery; an order paid later shows it was handled.
    app.publish(&paid).await;
    let later = app.pay().await;
    let events = app.all_delivered(&[order_id, later]).await;
    assert_shipped_once(&events, &[order_id, later], false);
    let summary = app.summary().await;
    assert_eq!(summary["delivered"], 2, "{summary}");
    assert_eq!(summary["total"], 2, "{summary}");
    assert_eq!(
        app.counter("eshop_dispatch_shipments_scheduled_total")
            .await,
        2
    );
}

async fn a_malformed_payment_is_dead_lettered_and_other_orders_still_ship(app: TestApp) {
    let malformed = Event::new("OrderPaid", &json!({ "order_id": "not-an-order" }));
    app.publish(&malformed).await;
    let order_id = app.pay().await;
    let events = app.all_delivered(&[order_id]).await;
    assert_shipped_once(&events, &[order_id], false);
    let dead = app
        .bus
        .read_all("orders.dead")
        .await
        .expect("reading the dead letters");
    assert_eq!(dead, [malformed]);
}
