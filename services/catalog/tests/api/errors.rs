//! Bad input gets a 4xx in the shared error shape, naming the field; never a
//! 5xx, and nothing is written.

use eshop_test_support::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, spawn};

on_both_backends!(
    unknown_products_and_endpoints_are_not_found,
    out_of_range_and_mistyped_query_parameters_are_named,
    product_bodies_with_missing_or_wrong_fields_are_named,
    malformed_oversize_and_non_json_bodies_are_refused,
    internal_endpoints_need_the_internal_credential,
);

async fn unknown_products_and_endpoints_are_not_found(app: TestApp) {
    assert_error(
        app.get("/v1/products/NO-SUCH-SKU").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.get("/v1/products/not%20a%20sku").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.get("/v1/products/NOPE/image.svg").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.get("/v1/nothing-here").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    let wrong_method = app
        .http
        .delete(app.url("/v1/products"))
        .send()
        .await
        .expect("answer");
    assert_error(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    )
    .await;
}

async fn out_of_range_and_mistyped_query_parameters_are_named(app: TestApp) {
    for (query, field) in [
        ("per_page=1000", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=-1", "page"),
        ("sort=cheapest", "sort"),
        ("sort=relevance", "sort"),
        ("category=Not%20A%20Slug", "category"),
    ] {
        let response = app.get(&format!("/v1/products?{query}")).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    let long_query = "a".repeat(101);
    let response = app.get(&format!("/v1/products?q={long_query}")).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("q"),
    )
    .await;
}

async fn product_bodies_with_missing_or_wrong_fields_are_named(app: TestApp) {
    app.add_product("GOOD-1", 5).await;
    let put = |body| app.internal(Method::PUT, "/internal/products/GOOD-1", Some(body));
    let valid = json!({"name": "N", "description": "D", "price_cents": 100, "category": "test", "stock": 1, "weight_grams": 10});

    let mut missing = valid.clone();
    missing
        .as_object_mut()
        .expect("object")
        .remove("price_cents");
    assert_error(
        put(missing).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("price_cents"),
    )
    .await;

    let mut mistyped = valid.clone();
    mistyped["stock"] = json!("lots");
    assert_error(
        put(mistyped).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("stock"),
    )
    .await;

    for (field, value) in [
        ("price_cents", json!(0)),
        ("price_cents", json!(10_000_001)),
        ("stock", json!(-1)),
        ("weight_grams", json!(0)),
        ("name", json!("   ")),
        ("name", json!("x".repeat(121))),
        ("category", json!("no-such-category")),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        assert_error(
            put(body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }

    let mut unknown = valid.clone();
    unknown["colour"] = json!("red");
    assert_error(
        put(unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("colour"),
    )
    .await;

    let bad_sku = app
        .internal(Method::PUT, "/internal/products/bad%20sku", Some(valid))
        .await;
    assert_error(
        bad_sku,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("sku"),
    )
    .await;

    // Nothing was written by the refused requests.
    let product = app.get_json("/v1/products/GOOD-1").await;
    assert_eq!(
        (product["stock"].as_i64(), product["price_cents"].as_i64()),
        (Some(5), Some(1999))
    );
}

async fn malformed_oversize_and_non_json_bodies_are_refused(app: TestApp) {
    let url = app.url("/internal/products/X-1");
    let send = |body: String, content_type: &'static str| {
        app.http
            .put(&url)
            .header("x-internal-token", eshop_test_support::INTERNAL_TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let malformed = send("{\"name\": ".to_owned(), "application/json")
        .await
        .expect("answer");
    assert_error(malformed, StatusCode::BAD_REQUEST, "malformed_json", None).await;
    let oversize = send(
        format!("{{\"name\": \"{}\"}}", "x".repeat(70_000)),
        "application/json",
    )
    .await
    .expect("answer");
    assert_error(
        oversize,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        None,
    )
    .await;
    let form = send("name=x".to_owned(), "application/x-www-form-urlencoded")
        .await
        .expect("answer");
    assert_error(
        form,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    )
    .await;
}

async fn internal_endpoints_need_the_internal_credential(app: TestApp) {
    let body = json!({"name": "N", "description": "D"});
    let anonymous = app
        .http
        .put(app.url("/internal/categories/x"))
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
    let wrong = app
        .http
        .put(app.url("/internal/categories/x"))
        .header("x-internal-token", "guess")
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_error(wrong, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
    let demo = app
        .http
        .post(app.url("/internal/demo-data"))
        .send()
        .await
        .expect("answer");
    assert_eq!(demo.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get_json("/v1/categories").await, json!([]));
}
