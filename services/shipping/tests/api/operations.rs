//! What operators rely on: liveness, readiness and metrics.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, spawn};

on_both_backends!(
    health_and_readiness_answer,
    metrics_count_requests_per_route
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

async fn metrics_count_requests_per_route(app: TestApp) {
    for _ in 0..2 {
        app.get("/v1/cities?q=ber").await;
    }
    app.get("/v1/cities/xx-nowhere").await;
    let response = app.admin_get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let metrics = response.text().await.expect("text");
    for line in [
        r#"eshop_http_requests_total{route="/v1/cities",method="GET",status="200"} 2"#,
        r#"eshop_http_requests_total{route="/v1/cities/{id}",method="GET",status="404"} 1"#,
        "eshop_shipping_quotes_total 0",
        "eshop_shipping_quotes_confirmed_total 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
