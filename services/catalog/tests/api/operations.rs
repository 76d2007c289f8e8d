//! What operators rely on: liveness, readiness, metrics and request ids.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, spawn};

on_both_backends!(
    health_and_readiness_answer,
    metrics_count_requests_per_route_and_status,
    request_ids_are_kept_or_made,
);

async fn health_and_readiness_answer(app: TestApp) {
    let live: Value = app.get_json("/healthz").await;
    assert_eq!(live["status"], "live");
    let ready: Value = app
        .admin_get("/readyz")
        .await
        .json::<Value>()
        .await
        .expect("JSON");
    assert_eq!(ready["status"], "ready");
}

async fn metrics_count_requests_per_route_and_status(app: TestApp) {
    app.add_product("MET-1", 1).await;
    for _ in 0..3 {
        app.get("/v1/products/MET-1").await;
    }
    app.get("/v1/products/NOPE").await;
    let response = app.admin_get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text")
    );
    let metrics = response.text().await.expect("text");
    assert!(
        metrics.contains(
            r#"eshop_http_requests_total{route="/v1/products/{sku}",method="GET",status="200"} 3"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"eshop_http_requests_total{route="/v1/products/{sku}",method="GET",status="404"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"eshop_http_request_duration_seconds_count{route="/v1/products/{sku}",method="GET",status="200"} 3"#),
        "{metrics}"
    );
}

async fn request_ids_are_kept_or_made(app: TestApp) {
    let kept = app
        .http
        .get(app.url("/v1/categories"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("answer");
    assert_eq!(kept.headers()["x-request-id"], "trace-me-42");
    let made = app.get("/v1/categories").await;
    let id = made.headers()["x-request-id"].to_str().expect("ascii");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}
