//! The internal API: who may call it, and what it answers to bad input.

use eshop_test_support::{INTERNAL_TOKEN, TestBackend, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Options, TestApp, assert_error, eventually, spawn_with};

async fn spawn(backend: TestBackend) -> TestApp {
    spawn_with(backend, Options::default()).await
}

on_both_backends!(
    a_new_dispatch_has_no_shipments,
    an_order_dispatch_never_heard_of_is_not_found,
    a_malformed_order_id_is_a_bad_request,
    the_internal_endpoints_need_the_internal_credential,
    the_probes_answer,
);

async fn a_new_dispatch_has_no_shipments(app: TestApp) {
    assert_eq!(
        app.summary().await,
        json!({
            "scheduled": 0,
            "dispatched": 0,
            "delivered": 0,
            "cancelled": 0,
            "late_cancellations": 0,
            "total": 0,
        })
    );
}

async fn an_order_dispatch_never_heard_of_is_not_found(app: TestApp) {
    let response = app
        .internal_get(&format!("/internal/shipments/{}", Uuid::new_v4()))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

async fn a_malformed_order_id_is_a_bad_request(app: TestApp) {
    for id in ["not-a-uuid", "42", "0000000-0000-0000-0000-000000000000"] {
        let response = app.internal_get(&format!("/internal/shipments/{id}")).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_path").await;
    }
}

async fn the_internal_endpoints_need_the_internal_credential(app: TestApp) {
    let order_id = app.pay().await;
    eventually("the order's shipment", || app.shipment(order_id)).await;
    for path in [
        format!("/internal/shipments/{order_id}"),
        "/internal/shipments/summary".to_owned(),
    ] {
        let url = format!("{}{path}", app.address);
        let anonymous = app.http.get(&url).send().await.expect("answers");
        assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let wrong = app
            .http
            .get(&url)
            .header("x-internal-token", format!("{INTERNAL_TOKEN}-not"))
            .send()
            .await
            .expect("answers");
        assert_error(wrong, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let right = app.internal_get(&path).await;
        assert_eq!(right.status(), StatusCode::OK, "{path}");
    }
}

async fn the_probes_answer(app: TestApp) {
    for (path, status) in [("/healthz", "live"), ("/readyz", "ready")] {
        let response = app
            .http
            .get(format!("{}{path}", app.admin))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["status"], status, "{path}");
    }
    let metrics = app
        .http
        .get(format!("{}/metrics", app.admin))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    for name in [
        "eshop_dispatch_shipments_scheduled_total",
        "eshop_dispatch_shipments_dispatched_total",
        "eshop_dispatch_shipments_delivered_total",
        "eshop_dispatch_shipments_cancelled_total",
        "eshop_dispatch_late_cancellations_total",
        "eshop_dispatch_injected_faults_total",
    ] {
        assert!(metrics.contains(name), "{name} is missing:\n{metrics}");
    }
}
