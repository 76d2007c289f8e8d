//! What operators rely on: liveness, readiness, and the service's own
//! metrics of registrations and logins by outcome.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{PASSWORD, TestApp, spawn};

on_both_backends!(
    health_and_readiness_answer,
    metrics_count_registrations_and_logins_by_outcome,
);

async fn health_and_readiness_answer(app: TestApp) {
    let live: Value = app.get("/healthz").await.json().await.expect("JSON");
    assert_eq!(live["status"], "live");
    let ready = app.admin_get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.expect("JSON");
    assert_eq!(ready["status"], "ready");
}

async fn metrics_count_registrations_and_logins_by_outcome(app: TestApp) {
    app.user("counted@example.com").await;
    app.register("counted@example.com", PASSWORD, "Again").await;
    for _ in 0..5 {
        app.login("counted@example.com", "guess").await;
    }
    app.login("counted@example.com", PASSWORD).await;

    let response = app.admin_get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let metrics = response.text().await.expect("text");
    for line in [
        r#"eshop_users_registrations_total{outcome="created"} 1"#,
        r#"eshop_users_registrations_total{outcome="email_taken"} 1"#,
        r#"eshop_users_logins_total{outcome="success"} 1"#,
        r#"eshop_users_logins_total{outcome="invalid"} 5"#,
        r#"eshop_users_logins_total{outcome="rate_limited"} 1"#,
        r#"eshop_http_requests_total{route="/v1/sessions",method="POST",status="429"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} missing in\n{metrics}");
    }
}
