//! What operators rely on: the summary the invariant checker reads, the
//! service's metrics, liveness and readiness.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TOTAL, TestApp, delivered, dispatched, id_of, order_body, spawn};

on_both_backends!(
    the_summary_counts_orders_by_status_and_sums_what_was_kept,
    metrics_count_orders_created_and_their_transitions,
    health_and_readiness_answer,
);

async fn the_summary_counts_orders_by_status_and_sums_what_was_kept(app: TestApp) {
    assert_eq!(
        app.summary().await,
        json!({
            "orders_by_status": {
                "pending": 0, "paid": 0, "dispatched": 0,
                "delivered": 0, "cancelled": 0, "returned": 0,
            },
            "paid_total_cents": 0,
            "duplicate_checkouts": 0,
            "oldest_pending_seconds": 0,
        })
    );
    let user = app.user();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(id_of(&app.place(&user).await));
    }
    // One stays paid, one is dispatched, one delivered, one cancelled and
    // one returned.
    app.publish_dispatch(&dispatched(ids[1], "ESH-1")).await;
    app.publish_dispatch(&delivered(ids[2])).await;
    app.publish_dispatch(&delivered(ids[4])).await;
    app.await_status(&user, ids[1], "dispatched").await;
    app.await_status(&user, ids[2], "delivered").await;
    app.await_status(&user, ids[4], "delivered").await;
    assert_eq!(
        app.act(&user, ids[3], "cancel").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.act(&user, ids[4], "return").await.status(),
        StatusCode::OK
    );

    let summary = app.summary().await;
    assert_eq!(
        summary,
        json!({
            "orders_by_status": {
                "pending": 0, "paid": 1, "dispatched": 1,
                "delivered": 1, "cancelled": 1, "returned": 1,
            },
            "paid_total_cents": 3 * TOTAL,
            "duplicate_checkouts": 0,
            "oldest_pending_seconds": 0,
        })
    );
}

async fn metrics_count_orders_created_and_their_transitions(app: TestApp) {
    let user = app.user();
    let body = order_body(user.id);
    let kept = app.place_body(&body).await;
    let cancelled = app.place(&user).await;
    // A repeat of a checkout creates nothing.
    assert_eq!(app.create(&body).await.status(), StatusCode::OK);
    assert_eq!(
        app.act(&user, id_of(&cancelled), "cancel").await.status(),
        StatusCode::OK
    );
    app.publish_dispatch(&delivered(id_of(&kept))).await;
    app.await_status(&user, id_of(&kept), "delivered").await;

    let response = app.admin_get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let metrics = response.text().await.expect("text");
    for line in [
        "eshop_orders_created_total 2",
        r#"eshop_orders_transitions_total{to="paid"} 2"#,
        r#"eshop_orders_transitions_total{to="cancelled"} 1"#,
        r#"eshop_orders_transitions_total{to="dispatched"} 1"#,
        r#"eshop_orders_transitions_total{to="delivered"} 1"#,
        r#"eshop_http_requests_total{route="/internal/orders",method="POST",status="201"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} is missing from\n{metrics}");
    }
}

async fn health_and_readiness_answer(app: TestApp) {
    let live: Value = app.get("/healthz").await.json().await.expect("JSON");
    assert_eq!(live["status"], "live");
    let ready = app.admin_get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.expect("JSON");
    assert_eq!(ready["status"], "ready");
}
