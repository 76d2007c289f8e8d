//! Customers cancel orders before dispatch and return them after delivery;
//! each is announced so payments refunds and puts the stock back. A move
//! the lifecycle does not allow is refused with 409, naming both states,
//! and announces nothing.

use eshop_contracts::{EventKind, OrderCancelled, OrderReturned};
use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    TOTAL, TestApp, assert_error, delivered, dispatched, history_of, id_of, spawn, time_of, uuid_of,
};

on_both_backends!(
    cancelling_a_paid_order_announces_it,
    a_dispatched_order_cannot_be_cancelled,
    returning_a_delivered_order_announces_it,
    an_order_not_yet_delivered_cannot_be_returned,
    concurrent_cancels_cancel_once,
);

async fn cancelling_a_paid_order_announces_it(app: TestApp) {
    let user = app.user();
    let placed = app.place(&user).await;
    let id = id_of(&placed);
    let response = app.act(&user, id, "cancel").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cancelled: Value = response.json().await.expect("JSON");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(history_of(&cancelled), ["pending", "paid", "cancelled"]);
    assert_eq!(cancelled["updated_at"], cancelled["history"][2]["at"]);
    assert!(time_of(&cancelled["updated_at"]) >= time_of(&placed["updated_at"]));
    assert_eq!(app.order(&user, id).await, cancelled);

    let events = app.await_events(id, 3).await;
    assert_eq!(events[2].kind, OrderCancelled::KIND);
    assert_eq!(
        events[2]
            .payload::<OrderCancelled>()
            .expect("an OrderCancelled"),
        OrderCancelled {
            order_id: id,
            user_id: user.id,
            checkout_id: uuid_of(&placed["checkout_id"]),
            charge_id: Some(uuid_of(&placed["payment"]["charge_id"])),
            total_cents: TOTAL,
        }
    );

    // Cancelled is final: a second cancel is refused.
    let message = assert_error(
        app.act(&user, id, "cancel").await,
        StatusCode::CONFLICT,
        "illegal_transition",
        None,
    )
    .await;
    assert!(message.contains("from cancelled to cancelled"), "{message}");
    app.settle_outbox().await;
    assert_eq!(app.events_about(id).await.len(), 3, "cancelled once");
}

async fn a_dispatched_order_cannot_be_cancelled(app: TestApp) {
    let user = app.user();
    let id = id_of(&app.place(&user).await);
    app.publish_dispatch(&dispatched(id, "ESH-0042")).await;
    let order = app.await_status(&user, id, "dispatched").await;

    let message = assert_error(
        app.act(&user, id, "cancel").await,
        StatusCode::CONFLICT,
        "illegal_transition",
        None,
    )
    .await;
    assert!(
        message.contains("dispatched") && message.contains("cancelled"),
        "{message}"
    );
    assert_eq!(app.order(&user, id).await, order, "nothing changed");
    app.settle_outbox().await;
    let kinds: Vec<String> = app
        .events_about(id)
        .await
        .into_iter()
        .map(|event| event.kind)
        .collect();
    assert_eq!(kinds, ["OrderPlaced", "OrderPaid"], "nothing announced");
}

async fn returning_a_delivered_order_announces_it(app: TestApp) {
    let user = app.user();
    let placed = app.place(&user).await;
    let id = id_of(&placed);
    app.publish_dispatch(&dispatched(id, "ESH-7")).await;
    app.publish_dispatch(&delivered(id)).await;
    app.await_status(&user, id, "delivered").await;

    let response = app.act(&user, id, "return").await;
    assert_eq!(response.status(), StatusCode::OK);
    let returned: Value = response.json().await.expect("JSON");
    assert_eq!(returned["status"], "returned");
    assert_eq!(
        history_of(&returned),
        ["pending", "paid", "dispatched", "delivered", "returned"]
    );
    assert_eq!(returned["tracking_number"], "ESH-7");

    let events = app.await_events(id, 3).await;
    assert_eq!(events[2].kind, OrderReturned::KIND);
    assert_eq!(
        events[2]
            .payload::<OrderReturned>()
            .expect("an OrderReturned"),
        OrderReturned {
            order_id: id,
            user_id: user.id,
            checkout_id: uuid_of(&placed["checkout_id"]),
            charge_id: Some(uuid_of(&placed["payment"]["charge_id"])),
            total_cents: TOTAL,
        }
    );

    for action in ["return", "cancel"] {
        let message = assert_error(
            app.act(&user, id, action).await,
            StatusCode::CONFLICT,
            "illegal_transition",
            None,
        )
        .await;
        assert!(message.contains("from returned to"), "{message}");
    }
}

async fn an_order_not_yet_delivered_cannot_be_returned(app: TestApp) {
    let user = app.user();
    let paid = app.place(&user).await;
    let dispatched_order = app.place(&user).await;
    app.publish_dispatch(&dispatched(id_of(&dispatched_order), "ESH-9"))
        .await;
    app.await_status(&user, id_of(&dispatched_order), "dispatched")
        .await;

    for (order, status) in [(&paid, "paid"), (&dispatched_order, "dispatched")] {
        let message = assert_error(
            app.act(&user, id_of(order), "return").await,
            StatusCode::CONFLICT,
            "illegal_transition",
            None,
        )
        .await;
        assert!(
            message.contains(&format!("from {status} to returned")),
            "{message}"
        );
        assert_eq!(app.order(&user, id_of(order)).await["status"], status);
    }
    app.settle_outbox().await;
    for order in [&paid, &dispatched_order] {
        assert_eq!(app.events_about(id_of(order)).await.len(), 2);
    }
}

async fn concurrent_cancels_cancel_once(app: TestApp) {
    let user = app.user();
    let id = id_of(&app.place(&user).await);
    let attempts = (0..6).map(|_| async { app.act(&user, id, "cancel").await.status() });
    let statuses = futures::future::join_all(attempts).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, refused), (1, 5), "{statuses:?}");
    let order = app.order(&user, id).await;
    assert_eq!(history_of(&order), ["pending", "paid", "cancelled"]);
    app.settle_outbox().await;
    assert_eq!(
        app.events_about(id).await.len(),
        3,
        "one OrderCancelled, so one refund"
    );
}
