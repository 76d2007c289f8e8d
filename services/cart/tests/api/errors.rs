//! Bad input gets a 4xx in the shared error shape, naming the field; never a
//! 5xx, and nothing is written.

use eshop_test_support::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Shopper, TestApp, assert_error, expected, lines, ok_cart, spawn};

on_both_backends!(
    bodies_with_missing_mistyped_or_unknown_fields_are_named,
    quantities_outside_1_to_99_are_named,
    malformed_skus_are_named_or_not_found,
    malformed_oversize_and_non_json_bodies_are_refused,
    unknown_endpoints_and_methods_are_refused,
);

async fn bodies_with_missing_mistyped_or_unknown_fields_are_named(app: TestApp) {
    app.product("OK-1", 100, 10).await;
    let shopper = app.user();
    let post = |body: Value| app.request(Method::POST, "/v1/cart/items", &shopper, Some(body));
    for (body, field) in [
        (json!({"quantity": 1}), "sku"),
        (json!({"sku": "OK-1"}), "quantity"),
        (json!({"sku": 7, "quantity": 1}), "sku"),
        (json!({"sku": "OK-1", "quantity": "two"}), "quantity"),
        (json!({"sku": "OK-1", "quantity": 1.5}), "quantity"),
        (json!({"sku": "OK-1", "quantity": null}), "quantity"),
        (
            json!({"sku": "OK-1", "quantity": 1, "colour": "red"}),
            "colour",
        ),
    ] {
        assert_error(
            post(body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }

    let put = |body: Value| app.request(Method::PUT, "/v1/cart/items/OK-1", &shopper, Some(body));
    for (body, field) in [
        (json!({}), "quantity"),
        (json!({"quantity": "3"}), "quantity"),
        (json!({"quantity": 3, "sku": "OK-1"}), "sku"),
    ] {
        assert_error(
            put(body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }

    let merge = |body: Value| app.request(Method::POST, "/v1/cart/merge", &shopper, Some(body));
    for (body, field) in [
        (json!({}), "session_id"),
        (json!({"session_id": 42}), "session_id"),
        (json!({"session_id": "not-a-uuid"}), "session_id"),
    ] {
        assert_error(
            merge(body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    assert_eq!(lines(&app.cart(&shopper).await), expected(&[]));
}

async fn quantities_outside_1_to_99_are_named(app: TestApp) {
    app.product("QTY-1", 100, 1000).await;
    let shopper = Shopper::session();
    for quantity in [json!(0), json!(100), json!(-1), json!(4_294_967_296_u64)] {
        let body = json!({"sku": "QTY-1", "quantity": quantity});
        assert_error(
            app.request(Method::POST, "/v1/cart/items", &shopper, Some(body))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("quantity"),
        )
        .await;
        let body = json!({ "quantity": quantity });
        assert_error(
            app.request(Method::PUT, "/v1/cart/items/QTY-1", &shopper, Some(body))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("quantity"),
        )
        .await;
    }
    assert_eq!(lines(&app.cart(&shopper).await), expected(&[]));
    ok_cart(app.add(&shopper, "QTY-1", 99).await).await;
    ok_cart(app.set(&shopper, "QTY-1", 1).await).await;
}

async fn malformed_skus_are_named_or_not_found(app: TestApp) {
    let shopper = app.user();
    let too_long = "A".repeat(33);
    for sku in [
        "",
        "lower-1",
        "SPACE 1",
        "UNDER_1",
        too_long.as_str(),
        "ÄPFEL",
    ] {
        assert_error(
            app.add(&shopper, sku, 1).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("sku"),
        )
        .await;
    }
    for path in ["lower-1", "SPACE%201", too_long.as_str(), "%C3%84PFEL"] {
        let body = json!({"quantity": 1});
        assert_error(
            app.request(
                Method::PUT,
                &format!("/v1/cart/items/{path}"),
                &shopper,
                Some(body),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("sku"),
        )
        .await;
        assert_error(
            app.remove(&shopper, path).await,
            StatusCode::NOT_FOUND,
            "not_found",
            Some("sku"),
        )
        .await;
    }
}

async fn malformed_oversize_and_non_json_bodies_are_refused(app: TestApp) {
    let shopper = Shopper::session();
    let send = |body: String, content_type: &'static str| {
        app.http
            .post(app.url("/v1/cart/items"))
            .header("x-session-id", shopper.id.to_string())
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let malformed = send("{\"sku\": ".to_owned(), "application/json")
        .await
        .expect("answer");
    assert_error(malformed, StatusCode::BAD_REQUEST, "malformed_json", None).await;
    let trailing = send(
        "{\"sku\": \"A-1\", \"quantity\": 1} {}".to_owned(),
        "application/json",
    )
    .await
    .expect("answer");
    assert_error(trailing, StatusCode::BAD_REQUEST, "malformed_json", None).await;
    let oversize = send(
        format!("{{\"sku\": \"{}\", \"quantity\": 1}}", "A".repeat(70_000)),
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
    let form = send(
        "sku=A-1&quantity=1".to_owned(),
        "application/x-www-form-urlencoded",
    )
    .await
    .expect("answer");
    assert_error(
        form,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    )
    .await;
    let none = app
        .request(Method::PUT, "/v1/cart/items/A-1", &shopper, None)
        .await;
    assert_error(
        none,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    )
    .await;
    assert_eq!(lines(&app.cart(&shopper).await), expected(&[]));
}

async fn unknown_endpoints_and_methods_are_refused(app: TestApp) {
    let shopper = Shopper::session();
    assert_error(
        app.request(Method::GET, "/v1/carts", &shopper, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.request(Method::PATCH, "/v1/cart", &shopper, None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    )
    .await;
    assert_error(
        app.request(Method::GET, "/v1/cart/items", &shopper, None)
            .await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    )
    .await;
}
