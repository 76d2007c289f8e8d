//! What orders says on the bus, and what it does with what dispatch says:
//! a new order is announced as placed then paid; dispatch's reports move
//! orders on, once per event however often it is delivered; reports about
//! cancelled orders are recorded and change nothing; reports that cannot
//! be applied end in the dead-letter stream.

use eshop_contracts::{
    DISPATCH_STREAM, Destination, EventKind, OrderDispatched, OrderLine, OrderPaid, OrderPlaced,
};
use eshop_platform::events::Event;
use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TOTAL, TestApp, delivered, dispatched, eventually, history_of, id_of, order_body, spawn,
    time_of, uuid_of,
};

on_both_backends!(
    a_new_order_is_announced_as_placed_then_paid,
    dispatch_reports_move_the_order_on_once_however_often_they_come,
    a_delivery_of_a_paid_order_passes_through_dispatched,
    reports_about_a_cancelled_order_change_nothing,
    reports_that_cannot_be_applied_are_dead_lettered,
);

async fn a_new_order_is_announced_as_placed_then_paid(app: TestApp) {
    let user = app.user();
    let body = order_body(user.id);
    let order = app.place_body(&body).await;
    let id = id_of(&order);
    let events = app.await_events(id, 2).await;
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(kinds, [OrderPlaced::KIND, OrderPaid::KIND]);

    let placed: OrderPlaced = events[0].payload().expect("an OrderPlaced");
    assert_eq!(
        placed,
        OrderPlaced {
            order_id: id,
            user_id: user.id,
            checkout_id: uuid_of(&order["checkout_id"]),
            lines: vec![
                OrderLine {
                    sku: "ROBOT-ARM-2".to_owned(),
                    name: "Robot arm".to_owned(),
                    quantity: 2,
                    unit_price_cents: 1999,
                },
                OrderLine {
                    sku: "GEAR-7".to_owned(),
                    name: "Gear".to_owned(),
                    quantity: 3,
                    unit_price_cents: 250,
                },
            ],
            total_cents: TOTAL,
        }
    );
    let paid: OrderPaid = events[1].payload().expect("an OrderPaid");
    assert_eq!(
        paid,
        OrderPaid {
            order_id: id,
            user_id: user.id,
            checkout_id: uuid_of(&order["checkout_id"]),
            total_cents: TOTAL,
            destination: Destination {
                city: "Rotterdam".to_owned(),
                country_code: "NL".to_owned(),
                estimated_days: 2,
            },
        }
    );
    assert_eq!(events[0].occurred_at, time_of(&order["created_at"]));
    assert!(events[0].occurred_at < events[1].occurred_at);
    assert_ne!(events[0].id, events[1].id);

    // A repeat of the checkout announces nothing new.
    assert_eq!(app.create(&body).await.status(), StatusCode::OK);
    app.settle_outbox().await;
    assert_eq!(app.events_about(id).await, events);
}

async fn dispatch_reports_move_the_order_on_once_however_often_they_come(app: TestApp) {
    let user = app.user();
    let id = id_of(&app.place(&user).await);

    let dispatch = dispatched(id, "ESH-0001");
    app.publish_dispatch(&dispatch).await;
    let order = app.await_status(&user, id, "dispatched").await;
    assert_eq!(order["tracking_number"], "ESH-0001");
    assert_eq!(history_of(&order), ["pending", "paid", "dispatched"]);
    let payload: OrderDispatched = dispatch.payload().expect("an OrderDispatched");
    assert_eq!(time_of(&order["history"][2]["at"]), payload.dispatched_at);

    // The same event again, and again after the delivery: nothing changes.
    app.publish_dispatch(&dispatch).await;
    let delivery = delivered(id);
    app.publish_dispatch(&delivery).await;
    app.publish_dispatch(&delivery).await;
    app.publish_dispatch(&dispatch).await;
    app.settle_dispatch_stream().await;

    let order = app.order(&user, id).await;
    assert_eq!(order["status"], "delivered");
    assert_eq!(
        history_of(&order),
        ["pending", "paid", "dispatched", "delivered"]
    );
    assert_eq!(order["tracking_number"], "ESH-0001");
    // Nothing to tell anyone: still only the creation's two events.
    assert_eq!(app.events_about(id).await.len(), 2);
    // The repeats were recognised by their event ids (the marker's dispatch
    // counts as applied too).
    let metrics = app.admin_get("/metrics").await.text().await.expect("text");
    for line in [
        r#"eshop_orders_events_total{outcome="applied"} 3"#,
        r#"eshop_orders_events_total{outcome="duplicate"} 3"#,
    ] {
        assert!(metrics.contains(line), "{line} is missing from\n{metrics}");
    }
}

async fn a_delivery_of_a_paid_order_passes_through_dispatched(app: TestApp) {
    let user = app.user();
    let id = id_of(&app.place(&user).await);
    let delivery = delivered(id);
    app.publish_dispatch(&delivery).await;
    let order = app.await_status(&user, id, "delivered").await;
    assert_eq!(
        history_of(&order),
        ["pending", "paid", "dispatched", "delivered"]
    );
    assert_eq!(order["history"][2]["at"], order["history"][3]["at"]);
    assert_eq!(order["tracking_number"], Value::Null);

    // The dispatch report that came late still brings its tracking number.
    app.publish_dispatch(&dispatched(id, "ESH-LATE")).await;
    let order = eventually("the late tracking number", || async {
        let order = app.order(&user, id).await;
        (order["tracking_number"] == "ESH-LATE").then_some(order)
    })
    .await;
    assert_eq!(order["status"], "delivered");
    assert_eq!(history_of(&order).len(), 4);
}

async fn reports_about_a_cancelled_order_change_nothing(app: TestApp) {
    let user = app.user();
    let id = id_of(&app.place(&user).await);
    let cancelled: Value = app
        .act(&user, id, "cancel")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(cancelled["status"], "cancelled");

    app.publish_dispatch(&dispatched(id, "ESH-TOO-LATE")).await;
    app.publish_dispatch(&delivered(id)).await;
    app.settle_dispatch_stream().await;

    let order = app.order(&user, id).await;
    assert_eq!(order, cancelled, "the order is as it was cancelled");
    let metrics = app.admin_get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains(r#"eshop_orders_events_total{outcome="ignored"} 2"#),
        "{metrics}"
    );
    assert!(
        app.bus
            .read_all(&format!("{DISPATCH_STREAM}.dead"))
            .await
            .expect("reads")
            .is_empty(),
        "recorded and ignored, not dead-lettered"
    );
}

async fn reports_that_cannot_be_applied_are_dead_lettered(app: TestApp) {
    let unknown = dispatched(Uuid::new_v4(), "ESH-NOBODY");
    let malformed = Event::new(OrderDispatched::KIND, &json!({"order_id": "not a uuid"}));
    let unrelated = Event::new("ParcelWeighed", &json!({"grams": 250}));
    for event in [&unknown, &malformed, &unrelated] {
        app.publish_dispatch(event).await;
    }
    app.settle_dispatch_stream().await;
    let dead = app
        .bus
        .read_all(&format!("{DISPATCH_STREAM}.dead"))
        .await
        .expect("reads");
    assert_eq!(
        dead,
        [unknown, malformed],
        "events of kinds orders does not follow are left alone"
    );
    let metrics = app.admin_get("/metrics").await.text().await.expect("text");
    for line in [
        r#"eshop_orders_events_total{outcome="rejected"} 2"#,
        r#"eshop_orders_events_total{outcome="skipped"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} is missing from\n{metrics}");
    }
}
