//! What the gateway's two ports serve: the public one, which the Ingress
//! routes, answers the shop and a liveness `/healthz` but never the
//! metrics or the readiness details; the admin one, for the kubelet and
//! Prometheus, answers only those.

use reqwest::StatusCode;

use crate::helpers::spawn;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_readiness_are_served_on_the_admin_port_only() {
    let shop = spawn().await;

    for path in ["/metrics", "/readyz"] {
        let public = shop.get(path).await;
        assert_eq!(public.status(), StatusCode::NOT_FOUND, "public {path}");
    }
    assert_eq!(shop.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(shop.get("/api/products").await.status(), StatusCode::OK);

    let metrics = shop.admin_get("/metrics").await;
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains("# TYPE eshop_gateway_downstream_reachable gauge"),
        "{text}"
    );
    assert_eq!(shop.admin_get("/readyz").await.status(), StatusCode::OK);
    assert_eq!(shop.admin_get("/healthz").await.status(), StatusCode::OK);
    for path in ["/api/products", "/", "/products/ROBOT-ARM-2"] {
        let admin = shop.admin_get(path).await;
        assert_eq!(admin.status(), StatusCode::NOT_FOUND, "admin {path}");
    }
}
