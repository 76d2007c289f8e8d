//! What operators rely on: liveness, readiness, and metrics of what carts
//! do.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Shopper, TestApp, ok_cart, spawn};

on_both_backends!(
    health_and_readiness_answer,
    metrics_count_what_happens_to_carts,
);

async fn health_and_readiness_answer(app: TestApp) {
    let live: Value = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(live["status"], "live");
    let ready = app
        .http
        .get(format!("{}/readyz", app.admin))
        .send()
        .await
        .expect("answer");
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.expect("JSON");
    assert_eq!(ready["status"], "ready");
}

async fn metrics_count_what_happens_to_carts(app: TestApp) {
    app.product("CAP-1", 100, 10).await;
    app.product("CAP-2", 100, 10).await;
    let (user, anonymous) = (app.user(), Shopper::session());
    ok_cart(app.add(&user, "CAP-1", 2).await).await;
    ok_cart(app.add(&user, "CAP-1", 1).await).await;
    ok_cart(app.set(&user, "CAP-1", 1).await).await;
    ok_cart(app.set(&anonymous, "CAP-2", 4).await).await;
    app.add(&anonymous, "NO-SUCH-1", 1).await;
    app.add(&anonymous, "CAP-2", 7).await;
    ok_cart(app.merge(&user, &anonymous.id.to_string()).await).await;
    ok_cart(app.merge(&user, &anonymous.id.to_string()).await).await;
    assert_eq!(
        app.remove(&user, "CAP-2").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.clear(&user).await.status(), StatusCode::NO_CONTENT);

    let metrics = app.metrics().await;
    for line in [
        r#"eshop_cart_items_added_total{owner="user"} 3"#,
        r#"eshop_cart_items_added_total{owner="session"} 4"#,
        r#"eshop_cart_writes_refused_total{reason="unknown_product"} 1"#,
        r#"eshop_cart_writes_refused_total{reason="insufficient_stock"} 1"#,
        r#"eshop_cart_merges_total{outcome="merged"} 1"#,
        r#"eshop_cart_merges_total{outcome="nothing"} 1"#,
        "eshop_cart_lines_removed_total 1",
        r#"eshop_cart_carts_cleared_total{owner="user"} 1"#,
        r#"eshop_http_requests_total{route="/v1/cart/items",method="POST",status="200"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} is not in\n{metrics}");
    }
}
