//! What operators rely on: liveness, readiness, the service's metrics and
//! where it keeps its data, and what happens when the catalog is down
//! (products it has not confirmed lately cannot be rated; everything else
//! goes on).

use eshop_test_support::{TestBackend, TestKeyValueStore, on_both_backends};
use futures::TryStreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn};

on_both_backends!(
    health_and_readiness_answer,
    metrics_count_ratings_stored_replaced_and_deleted,
    while_the_catalog_is_down_unconfirmed_products_get_503_and_the_rest_works,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_every_key_starts_with_the_key_prefix() {
    let app = spawn(TestBackend::Server).await;
    let TestKeyValueStore::Redis(redis) = app.ratings_store() else {
        panic!("the server backend keeps ratings in Redis");
    };
    let sku = format!("PREFIX-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]).to_uppercase();
    let sku = app.add_product(&sku).await;
    app.rate_ok(&app.user("Ada"), &sku, 4, Some("Prefixed."))
        .await;

    let mut connection = redis.connection().await;
    let mut keys: Vec<String> =
        redis::AsyncCommands::scan_match(&mut connection, format!("*{sku}*"))
            .await
            .expect("scanning")
            .try_collect()
            .await
            .expect("scanning");
    keys.sort();
    let expected: Vec<String> = ["reviews", "summary", "users"]
        .iter()
        .map(|part| redis.key(&format!("ratings:{{{sku}}}:{part}")))
        .collect();
    assert_eq!(keys, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_backend_ratings_live_in_ratings_sqlite3() {
    let app = spawn(TestBackend::Embedded).await;
    let TestKeyValueStore::Sqlite(data_dir) = app.ratings_store() else {
        panic!("the embedded backend keeps ratings in SQLite");
    };
    let sku = app.add_product("FILE-1").await;
    app.rate_ok(&app.user("Ada"), &sku, 4, None).await;
    let file = data_dir.path().join("ratings.sqlite3");
    assert!(file.is_file(), "{} is missing", file.display());
}

async fn health_and_readiness_answer(app: TestApp) {
    assert_eq!(app.get_json("/healthz").await["status"], "live");
    assert_eq!(
        app.admin_get("/readyz")
            .await
            .json::<Value>()
            .await
            .expect("JSON")["status"],
        "ready"
    );
}

async fn metrics_count_ratings_stored_replaced_and_deleted(app: TestApp) {
    let sku = app.add_product("MET-1").await;
    let (ada, bob) = (app.user("Ada"), app.user("Bob"));
    app.rate_ok(&ada, &sku, 5, None).await;
    app.rate_ok(&bob, &sku, 4, None).await;
    app.rate_ok(&ada, &sku, 3, None).await;
    app.unrate(&bob, &sku).await;
    app.unrate(&bob, &sku).await;
    app.rate(&ada, &sku, json!({"stars": 9})).await;

    let response = app.admin_get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let metrics = response.text().await.expect("text");
    for line in [
        "eshop_ratings_stored_total 2",
        "eshop_ratings_replaced_total 1",
        "eshop_ratings_deleted_total 1",
        r#"eshop_http_requests_total{route="/v1/products/{sku}/rating",method="PUT",status="422"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|found| found == line),
            "{line} in\n{metrics}"
        );
    }
}

async fn while_the_catalog_is_down_unconfirmed_products_get_503_and_the_rest_works(
    mut app: TestApp,
) {
    let rated = app.add_product("DOWN-1").await;
    let unrated = app.add_product("DOWN-2").await;
    let (ada, bob) = (app.user("Ada"), app.user("Bob"));
    let adas = app.rate_ok(&ada, &rated, 4, Some("Works.")).await;
    app.rate_ok(&bob, &rated, 2, None).await;
    app.stop_catalog().await;

    for user in [&ada, &app.user("Cy")] {
        let refused = app.rate(user, &unrated, json!({"stars": 1})).await;
        assert_error(
            refused,
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            None,
        )
        .await;
    }
    assert_error(
        app.my_rating(&ada, &unrated).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_eq!(
        app.summary(&unrated).await,
        (None, 0),
        "the refused ratings wrote nothing"
    );

    let mine: Value = app
        .my_rating(&ada, &rated)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(mine, adas);
    assert_eq!(app.summary(&rated).await, (Some(3.0), 2));
    assert_eq!(app.reviews(&rated, "").await.len(), 1);
    assert_eq!(
        app.unrate(&bob, &rated).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.summary(&rated).await, (Some(4.0), 1));
    let confirmed = app
        .rate(&app.user("Dee"), &rated, json!({"stars": 5}))
        .await;
    assert_eq!(
        confirmed.status(),
        StatusCode::CREATED,
        "a product the catalog confirmed a moment ago can still be rated"
    );
    assert_eq!(app.summary(&rated).await, (Some(4.5), 2));
    assert_eq!(
        app.admin_get("/readyz")
            .await
            .json::<Value>()
            .await
            .expect("JSON")["status"],
        "ready"
    );
}
