//! Stock reservations: all or nothing, idempotent by id, committed or
//! released, expired when forgotten, and never overselling under load.

use std::time::{Duration, Instant};

use eshop_test_support::{TestBackend, on_both_backends};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_error, spawn, spawn_with};

on_both_backends!(
    a_reservation_takes_stock_and_a_repeat_gets_the_first_outcome,
    a_reservation_takes_all_lines_or_none,
    unknown_skus_and_bad_lines_are_named,
    commit_then_release_puts_the_stock_back,
    a_released_reservation_cannot_be_committed,
    two_hundred_concurrent_reservations_of_ten_units_never_oversell,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_reservation_is_released_on_postgres() {
    expired_reservations_are_released(
        spawn_with(TestBackend::Server, Duration::from_millis(300)).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_reservation_is_released_on_sqlite() {
    expired_reservations_are_released(
        spawn_with(TestBackend::Embedded, Duration::from_millis(300)).await,
    )
    .await;
}

async fn a_reservation_takes_stock_and_a_repeat_gets_the_first_outcome(app: TestApp) {
    let sku = app.add_product("RES-1", 10).await;
    let id = Uuid::new_v4();
    let lines = json!([{"sku": sku, "quantity": 3}]);

    let first = app.reserve(id, lines.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("JSON");
    assert_eq!(first["status"], "held");
    assert_eq!(app.stock_of(&sku).await, 7);

    let again = app.reserve(id, lines).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.expect("JSON");
    assert_eq!(again["expires_at"], first["expires_at"]);
    assert_eq!(app.stock_of(&sku).await, 7, "a repeat takes nothing more");

    let other_lines = app.reserve(id, json!([{"sku": sku, "quantity": 4}])).await;
    assert_error(other_lines, StatusCode::CONFLICT, "id_taken", None).await;
    assert_eq!(app.stock_of(&sku).await, 7);

    let fetched = app
        .internal(Method::GET, &format!("/internal/reservations/{id}"), None)
        .await;
    assert_eq!(fetched.status(), StatusCode::OK);
    let fetched: Value = fetched.json().await.expect("JSON");
    assert_eq!(fetched["lines"], json!([{"sku": sku, "quantity": 3}]));
}

async fn a_reservation_takes_all_lines_or_none(app: TestApp) {
    let plenty = app.add_product("ALL-A", 5).await;
    let scarce = app.add_product("ALL-B", 1).await;
    let response = app
        .reserve(
            Uuid::new_v4(),
            json!([{"sku": plenty, "quantity": 2}, {"sku": scarce, "quantity": 2}]),
        )
        .await;
    assert_error(
        response,
        StatusCode::CONFLICT,
        "insufficient_stock",
        Some("lines[1].quantity"),
    )
    .await;
    assert_eq!(
        app.stock_of(&plenty).await,
        5,
        "the first line was rolled back"
    );
    assert_eq!(app.stock_of(&scarce).await, 1);
}

async fn unknown_skus_and_bad_lines_are_named(app: TestApp) {
    let sku = app.add_product("LINE-1", 5).await;
    let cases = [
        (
            json!([{"sku": sku, "quantity": 1}, {"sku": "NO-SUCH", "quantity": 1}]),
            "lines[1].sku",
        ),
        (json!([{"sku": sku, "quantity": 0}]), "lines[0].quantity"),
        (json!([{"sku": sku, "quantity": 1001}]), "lines[0].quantity"),
        (json!([{"sku": sku, "quantity": -2}]), "lines[0].quantity"),
        (json!([{"sku": "lower", "quantity": 1}]), "lines[0].sku"),
        (
            json!([{"sku": sku, "quantity": 1}, {"sku": sku, "quantity": 1}]),
            "lines[1].sku",
        ),
        (json!([{"quantity": 1}]), "lines[0].sku"),
        (json!([]), "lines"),
    ];
    for (lines, field) in cases {
        let response = app.reserve(Uuid::new_v4(), lines).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    assert_eq!(app.stock_of(&sku).await, 5);
    let bad_id = app
        .internal(
            Method::PUT,
            "/internal/reservations/not-a-uuid",
            Some(json!({"lines": []})),
        )
        .await;
    assert_error(bad_id, StatusCode::BAD_REQUEST, "invalid_path", None).await;
    let unknown = app
        .internal(
            Method::GET,
            &format!("/internal/reservations/{}", Uuid::new_v4()),
            None,
        )
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found", None).await;
}

async fn commit_then_release_puts_the_stock_back(app: TestApp) {
    let sku = app.add_product("CR-1", 4).await;
    let id = Uuid::new_v4();
    assert_eq!(
        app.reserve(id, json!([{"sku": sku, "quantity": 4}]))
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(app.stock_of(&sku).await, 0);

    let committed: Value = app
        .transition(id, "commit")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(committed["status"], "committed");
    let again: Value = app
        .transition(id, "commit")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        again["status"], "committed",
        "committing twice is committing once"
    );
    assert_eq!(app.stock_of(&sku).await, 0);

    let released: Value = app
        .transition(id, "release")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(released["status"], "released");
    assert_eq!(app.stock_of(&sku).await, 4);
    let released_again = app.transition(id, "release").await;
    assert_eq!(released_again.status(), StatusCode::OK);
    assert_eq!(app.stock_of(&sku).await, 4, "releasing twice restocks once");

    let unknown = app.transition(Uuid::new_v4(), "release").await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found", None).await;
}

async fn a_released_reservation_cannot_be_committed(app: TestApp) {
    let sku = app.add_product("RC-1", 2).await;
    let id = Uuid::new_v4();
    app.reserve(id, json!([{"sku": sku, "quantity": 1}])).await;
    app.transition(id, "release").await;
    let commit = app.transition(id, "commit").await;
    assert_error(commit, StatusCode::CONFLICT, "released", None).await;
    assert_eq!(app.stock_of(&sku).await, 2);
}

async fn two_hundred_concurrent_reservations_of_ten_units_never_oversell(app: TestApp) {
    let sku = app.add_product("HOT-1", 10).await;
    let attempts =
        (0..200).map(|_| app.reserve(Uuid::new_v4(), json!([{"sku": sku, "quantity": 1}])));
    let statuses: Vec<StatusCode> = join_all(attempts)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    let created = statuses
        .iter()
        .filter(|status| **status == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|status| **status == StatusCode::CONFLICT)
        .count();
    eprintln!("200 concurrent reservations of 10 units: {created} created, {refused} refused");
    assert_eq!((created, refused), (10, 190), "{statuses:?}");
    assert_eq!(app.stock_of(&sku).await, 0);
}

async fn expired_reservations_are_released(app: TestApp) {
    let sku = app.add_product("EXP-1", 3).await;
    let id = Uuid::new_v4();
    assert_eq!(
        app.reserve(id, json!([{"sku": sku, "quantity": 3}]))
            .await
            .status(),
        StatusCode::CREATED
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reservation: Value = app
            .internal(Method::GET, &format!("/internal/reservations/{id}"), None)
            .await
            .json()
            .await
            .expect("JSON");
        if reservation["status"] == "released" {
            break;
        }
        assert!(Instant::now() < deadline, "still {reservation} after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.stock_of(&sku).await, 3);
    let metrics = app.admin_get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("eshop_catalog_reservations_expired_total 1"),
        "{metrics}"
    );
}
