//! What the gateway does when things go wrong: an optional service down,
//! a required one down, and a client sending too much.

use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::helpers::{closed_url, error_code, spawn, spawn_with, tight_limits};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ratings_a_product_still_answers_and_says_what_is_missing() {
    let shop = spawn_with(|settings| settings.downstream.ratings = closed_url()).await;
    let detail: Value = shop
        .get("/api/products/ROBOT-ARM-2")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(detail["product"]["sku"], "ROBOT-ARM-2");
    assert_eq!(detail["ratings"], Value::Null);
    assert_eq!(detail["degraded"], serde_json::json!(["ratings"]));

    let (status, page) = shop.page("/products/ROBOT-ARM-2", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Ratings are unavailable right now."));
    assert!(page.contains("Add to cart"));

    let ready = shop.admin_get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.expect("JSON");
    assert!(body["degraded"]["ratings"].is_string(), "{body}");
    let metrics = shop.admin_get("/metrics").await.text().await.expect("text");
    assert!(metrics.contains("eshop_gateway_degraded_answers_total{service=\"ratings\"}"));
}

/// The gateway stays ready: out of its Service, visitors would get the
/// Ingress's bare 502 instead of its apology page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_catalog_pages_apologise_and_the_gateway_stays_ready() {
    let shop = spawn_with(|settings| settings.downstream.catalog = closed_url()).await;
    let (status, page) = shop.page("/", "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.contains("Part of the shop is taking a break"));
    assert!(!page.contains("catalog is unreachable"), "no internals");
    let (status, code) = error_code(shop.get("/api/categories").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    let ready = shop.admin_get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.expect("JSON");
    assert!(body["degraded"]["catalog"].is_string(), "{body}");
    assert_eq!(shop.get("/healthz").await.status(), StatusCode::OK);
    let metrics = shop.admin_get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("eshop_gateway_downstream_reachable{service=\"catalog\"} 0"),
        "{metrics}"
    );
    assert!(metrics.contains("eshop_gateway_downstream_reachable{service=\"users\"} 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_rate_limit_waits() {
    let shop = spawn_with(tight_limits).await;
    for _ in 0..3 {
        assert_eq!(shop.get("/api/categories").await.status(), StatusCode::OK);
    }
    let limited = shop.get("/api/categories").await;
    assert!(limited.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(
        error_code(limited).await,
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".to_owned())
    );
    let (status, page) = shop.page("/", "").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Slow down a little"));
    assert_eq!(
        shop.get("/healthz").await.status(),
        StatusCode::OK,
        "probes are not limited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_is_ready_with_every_service_up() {
    let shop = spawn().await;
    let ready = shop.admin_get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<Value>().await.expect("JSON")["status"],
        "ready"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_refused_for_too_many_failures_says_when_to_try_again() {
    let shop = spawn().await;
    shop.customer().await;
    let login = || {
        shop.http
            .post(shop.url("/api/sessions"))
            .json(&serde_json::json!({"email": "nobody-here@example.com", "password": "guess"}))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            login().await.expect("answers").status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let refused = login().await.expect("answers");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .expect("users' Retry-After, passed on")
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("whole seconds");
    assert!(
        (1..=900).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
}
